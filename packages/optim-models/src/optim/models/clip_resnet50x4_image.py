"""The image tower of OpenAI's CLIP ResNet-50x4 (a "modified ResNet" with attention pooling)."""

from __future__ import annotations

import os
from collections import OrderedDict
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from optim.models.factory import build_model
from optim.models.layer_options import activation_and_pool, as_batch, check_image_input

__all__ = [
    "AttentionPool2d",
    "Bottleneck",
    "CLIP_ResNet50x4Image",
    "CLIP_RESNET50X4_IMAGE_URL",
    "clip_resnet50x4_image",
]

CLIP_RESNET50X4_IMAGE_URL = (
    "https://pytorch.s3.amazonaws.com/models/captum/clip_resnet50x4_image.pt"
)

CLIP_MEAN = (0.48145466, 0.4578275, 0.40821073)
CLIP_STD = (0.26862954, 0.26130258, 0.27577711)

PRETRAINED_DEFAULTS: dict[str, Any] = {
    "transform_input": True,
    "replace_relus_with_redirectedrelu": True,
    "use_linear_modules_only": False,
    "use_attnpool": False,
}


class Bottleneck(nn.Module):
    """CLIP's anti-aliased bottleneck: strided blocks average-pool before ``conv3``.

    Example:
        >>> Bottleneck(8, 2, stride=2)(torch.zeros(1, 8, 6, 6)).shape
        torch.Size([1, 8, 3, 3])
    """

    expansion = 4

    def __init__(
        self, inplanes: int, planes: int, stride: int = 1, activ: type[nn.Module] = nn.ReLU
    ) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(inplanes, planes, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(planes)
        self.relu1 = activ()
        self.conv2 = nn.Conv2d(planes, planes, 3, padding=1, bias=False)
        self.bn2 = nn.BatchNorm2d(planes)
        self.relu2 = activ()
        self.avgpool = nn.AvgPool2d(stride) if stride > 1 else nn.Identity()
        self.conv3 = nn.Conv2d(planes, planes * self.expansion, 1, bias=False)
        self.bn3 = nn.BatchNorm2d(planes * self.expansion)
        self.relu3 = activ()
        self.downsample: nn.Module | None = None
        if stride > 1 or inplanes != planes * self.expansion:
            self.downsample = nn.Sequential(
                OrderedDict(
                    [
                        ("-1", nn.AvgPool2d(stride)),
                        ("0", nn.Conv2d(inplanes, planes * self.expansion, 1, bias=False)),
                        ("1", nn.BatchNorm2d(planes * self.expansion)),
                    ]
                )
            )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        identity = x if self.downsample is None else self.downsample(x)
        out = self.relu1(self.bn1(self.conv1(x)))
        out = self.relu2(self.bn2(self.conv2(out)))
        out = self.bn3(self.conv3(self.avgpool(out)))
        return self.relu3(out + identity)


class AttentionPool2d(nn.Module):
    """CLIP's attention pooling: the mean token attends over all positions; returns it.

    Example:
        >>> AttentionPool2d(2, 8, 4, num_heads=2)(torch.zeros(1, 8, 2, 2)).shape
        torch.Size([1, 4])
    """

    def __init__(
        self,
        spacial_size: int = 9,
        in_features: int = 2560,
        out_features: int = 640,
        num_heads: int = 40,
    ) -> None:
        super().__init__()
        self.spacial_size = spacial_size
        self.positional_embedding = nn.Parameter(
            torch.randn(spacial_size**2 + 1, in_features) / in_features**0.5
        )
        self.k_proj = nn.Linear(in_features, in_features)
        self.q_proj = nn.Linear(in_features, in_features)
        self.v_proj = nn.Linear(in_features, in_features)
        self.c_proj = nn.Linear(in_features, out_features)
        self.num_heads = num_heads

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if x.shape[-2] != self.spacial_size or x.shape[-1] != self.spacial_size:
            raise ValueError(
                f"AttentionPool2d was trained on {self.spacial_size}x{self.spacial_size} "
                f"feature maps (288x288 images for RN50x4) but got {list(x.shape[-2:])}. "
                "Resize the input, or build the model with use_attnpool=False."
            )
        x = x.flatten(2).permute(2, 0, 1)  # (HW, B, C)
        x = torch.cat([x.mean(dim=0, keepdim=True), x], dim=0)
        x = x + self.positional_embedding[:, None, :].to(x.dtype)
        out, _ = F.multi_head_attention_forward(
            query=x[:1],
            key=x,
            value=x,
            embed_dim_to_check=x.shape[-1],
            num_heads=self.num_heads,
            q_proj_weight=self.q_proj.weight,
            k_proj_weight=self.k_proj.weight,
            v_proj_weight=self.v_proj.weight,
            in_proj_weight=None,
            in_proj_bias=torch.cat([self.q_proj.bias, self.k_proj.bias, self.v_proj.bias]),
            bias_k=None,
            bias_v=None,
            add_zero_attn=False,
            dropout_p=0.0,
            out_proj_weight=self.c_proj.weight,
            out_proj_bias=self.c_proj.bias,
            use_separate_proj_weight=True,
            training=self.training,
            need_weights=False,
        )
        return out[0]


class CLIP_ResNet50x4Image(nn.Module):
    """CLIP RN50x4 image tower.

    Names: ``conv1``/``bn1``/``relu1`` ... ``conv3``/``bn3``/``relu3``, ``avgpool``,
    ``layer1`` ... ``layer4`` (4, 6, 10 and 6 :class:`Bottleneck` blocks with 320, 640,
    1280 and 2560 output channels; e.g. ``layer3.4.relu3``) and ``attnpool``.

    Args:
        transform_input: take RGB in [0, 1] and apply CLIP's mean/std normalisation.
        replace_relus_with_redirectedrelu: use :class:`RedirectedReluLayer` for every ReLU.
        use_linear_modules_only: ReLUs become :class:`SkipLayer` (pooling is already average).
        use_attnpool: end with the attention pooling ([B, 640] at 288x288); without it the
            output is ``layer4``'s ``[B, 2560, H/32, W/32]`` at any size.

    Example:
        >>> CLIP_ResNet50x4Image()(torch.rand(1, 3, 64, 64)).shape
        torch.Size([1, 2560, 2, 2])
    """

    __constants__ = ["use_attnpool"]  # TorchScript compiles the branch that exists

    def __init__(
        self,
        transform_input: bool = False,
        replace_relus_with_redirectedrelu: bool = False,
        use_linear_modules_only: bool = False,
        use_attnpool: bool = False,
    ) -> None:
        super().__init__()
        activ, _ = activation_and_pool(replace_relus_with_redirectedrelu, use_linear_modules_only)
        self.transform_input = transform_input
        self.use_attnpool = use_attnpool
        width = 80
        self.conv1 = nn.Conv2d(3, width // 2, 3, stride=2, padding=1, bias=False)
        self.bn1 = nn.BatchNorm2d(width // 2)
        self.relu1 = activ()
        self.conv2 = nn.Conv2d(width // 2, width // 2, 3, padding=1, bias=False)
        self.bn2 = nn.BatchNorm2d(width // 2)
        self.relu2 = activ()
        self.conv3 = nn.Conv2d(width // 2, width, 3, padding=1, bias=False)
        self.bn3 = nn.BatchNorm2d(width)
        self.relu3 = activ()
        self.avgpool = nn.AvgPool2d(2)

        self._inplanes = width
        self.layer1 = self._make_layer(width, 4, 1, activ)
        self.layer2 = self._make_layer(width * 2, 6, 2, activ)
        self.layer3 = self._make_layer(width * 4, 10, 2, activ)
        self.layer4 = self._make_layer(width * 8, 6, 2, activ)
        # Always built so the published weights load either way; used only with use_attnpool.
        self.attnpool = AttentionPool2d(9, width * 32, 640, num_heads=40)
        self.input_mean: torch.Tensor  # a buffer (typed for type checkers)
        self.register_buffer(
            "input_mean", torch.tensor(CLIP_MEAN).view(1, 3, 1, 1), persistent=False
        )
        self.input_std: torch.Tensor  # a buffer (typed for type checkers)
        self.register_buffer("input_std", torch.tensor(CLIP_STD).view(1, 3, 1, 1), persistent=False)

    def _make_layer(
        self, planes: int, blocks: int, stride: int, activ: type[nn.Module]
    ) -> nn.Sequential:
        layers = [Bottleneck(self._inplanes, planes, stride, activ)]
        self._inplanes = planes * Bottleneck.expansion
        layers += [Bottleneck(self._inplanes, planes, 1, activ) for _ in range(1, blocks)]
        return nn.Sequential(*layers)

    def transform(self, x: torch.Tensor) -> torch.Tensor:
        """``(x - CLIP mean) / CLIP std`` for RGB in [0, 1] (with ``transform_input``)."""
        if not self.transform_input:
            return x.unsqueeze(0) if x.dim() == 3 else x
        if torch.jit.is_scripting():  # the checks read values back: eager only
            x = as_batch(x)
        else:
            x = check_image_input(x, type(self).__name__, model=self)
        return (x - self.input_mean) / self.input_std

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.transform(x)
        x = self.relu1(self.bn1(self.conv1(x)))
        x = self.relu2(self.bn2(self.conv2(x)))
        x = self.avgpool(self.relu3(self.bn3(self.conv3(x))))
        x = self.layer4(self.layer3(self.layer2(self.layer1(x))))
        if self.use_attnpool:
            x = self.attnpool(x)
        return x


def clip_resnet50x4_image(
    pretrained: bool = False,
    progress: bool = True,
    model_path: str | os.PathLike | None = None,
    **kwargs: Any,
) -> CLIP_ResNet50x4Image:
    """CLIP RN50x4 image tower, optionally with its pretrained weights.

    With ``pretrained=True`` (or a ``model_path``) unset options default to
    ``transform_input=True, replace_relus_with_redirectedrelu=True,
    use_linear_modules_only=False, use_attnpool=False``. ``use_attnpool`` defaults to
    False in the class too, so both spellings build the same model.

    Example:
        >>> clip_resnet50x4_image(use_linear_modules_only=True).relu1.__class__.__name__
        'SkipLayer'
    """
    return build_model(
        CLIP_ResNet50x4Image,
        CLIP_RESNET50X4_IMAGE_URL,
        pretrained,
        progress,
        model_path,
        PRETRAINED_DEFAULTS,
        kwargs,
    )
