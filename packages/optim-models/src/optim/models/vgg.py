"""VGG-16 as released by Oxford in Caffe (ILSVRC-2014), convolutional features by default."""

from __future__ import annotations

import os
from typing import Any

import torch
from torch import nn

from optim.checks import is_int
from optim.models.factory import build_model
from optim.models.layer_options import activation_and_pool, as_batch, check_image_input

__all__ = ["VGG", "VGG16_LAYERS", "VGG16_URL", "vgg16"]

VGG16_URL = "https://pytorch-tutorial-assets.s3.amazonaws.com/captum/vgg16_caffe_features.pth"

VGG16_LAYERS: list[int | str] = [
    64,
    64,
    "P",
    128,
    128,
    "P",
    256,
    256,
    256,
    "P",
    512,
    512,
    512,
    "P",
    512,
    512,
    512,
    "P",
]

CAFFE_MEAN_RGB = (123.68, 116.779, 103.939)

PRETRAINED_DEFAULTS: dict[str, Any] = {
    "transform_input": True,
    "scale_input": True,
    "classifier_logits": False,
    "replace_relus_with_redirectedrelu": False,
    "use_linear_modules_only": False,
    "out_features": 1000,
}


def _make_features(
    layers: list[int | str], activ: type[nn.Module], pool: type[nn.Module]
) -> nn.Sequential:
    modules: list[nn.Module] = []
    in_channels = 3
    for spec in layers:
        if spec == "P":
            modules.append(pool(kernel_size=2, stride=2))
        elif is_int(spec) and spec > 0:
            modules += [nn.Conv2d(in_channels, spec, kernel_size=3, padding=1), activ()]
            in_channels = spec
        else:
            raise ValueError(f"VGG layers must be positive channel counts or 'P', got {spec!r}")
    return nn.Sequential(*modules)


class VGG(nn.Module):
    """VGG with Caffe's input convention; features ``features.0`` ... ``features.30``.

    Args:
        layers: channel counts and ``"P"`` (pooling); :data:`VGG16_LAYERS` by default.
        out_features: classifier outputs.
        transform_input: subtract the Caffe ImageNet mean and flip RGB -> BGR.
        scale_input: multiply by 255 first (inputs in [0, 1]).
        classifier_logits: add the fully connected classifier (``classifier.0`` ...); without
            it the output is the adaptive-pooled features ``[B, 512, 7, 7]``.
        replace_relus_with_redirectedrelu: use :class:`RedirectedReluLayer` for every ReLU.
        use_linear_modules_only: ReLUs become :class:`SkipLayer`, max pools average pools.

    Example:
        >>> VGG()(torch.rand(1, 3, 32, 32)).shape
        torch.Size([1, 512, 7, 7])
    """

    __constants__ = ["classifier_logits"]  # TorchScript compiles the branch that exists

    def __init__(
        self,
        layers: list[int | str] = VGG16_LAYERS,
        out_features: int = 1000,
        transform_input: bool = True,
        scale_input: bool = True,
        classifier_logits: bool = False,
        replace_relus_with_redirectedrelu: bool = False,
        use_linear_modules_only: bool = False,
    ) -> None:
        super().__init__()
        activ, pool = activation_and_pool(
            replace_relus_with_redirectedrelu, use_linear_modules_only
        )
        self.transform_input = transform_input
        self.scale_input = scale_input
        self.classifier_logits = classifier_logits
        self.features = _make_features(list(layers), activ, pool)
        self.avgpool = nn.AdaptiveAvgPool2d((7, 7))
        if classifier_logits:
            last = [s for s in layers if s != "P"][-1]
            self.classifier = nn.Sequential(
                nn.Linear(int(last) * 7 * 7, 4096),
                activ(),
                nn.Dropout(),
                nn.Linear(4096, 4096),
                activ(),
                nn.Dropout(),
                nn.Linear(4096, out_features),
            )
        self.input_mean: torch.Tensor  # a buffer (typed for type checkers)
        self.register_buffer(
            "input_mean", torch.tensor(CAFFE_MEAN_RGB).view(1, 3, 1, 1), persistent=False
        )

    def transform(self, x: torch.Tensor) -> torch.Tensor:
        """``x * 255`` (with ``scale_input``) minus the Caffe mean, then RGB -> BGR."""
        if not self.transform_input:
            return x.unsqueeze(0) if x.dim() == 3 else x
        if torch.jit.is_scripting():  # the checks read values back: eager only
            x = as_batch(x)
        else:
            x = check_image_input(x, type(self).__name__, warn_range=self.scale_input, model=self)
        if self.scale_input:
            x = x * 255
        return (x - self.input_mean).flip(1)  # RGB -> BGR without a host index tensor

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.avgpool(self.features(self.transform(x)))
        if self.classifier_logits:
            x = self.classifier(torch.flatten(x, 1))
        return x


def vgg16(
    pretrained: bool = False,
    progress: bool = True,
    model_path: str | os.PathLike | None = None,
    **kwargs: Any,
) -> VGG:
    """Caffe VGG-16, optionally with its pretrained convolutional weights.

    With ``pretrained=True`` (or a ``model_path``) unset options default to
    ``transform_input=True, scale_input=True, classifier_logits=False,
    replace_relus_with_redirectedrelu=False, use_linear_modules_only=False,
    out_features=1000``. The published file holds the features only, so
    ``classifier_logits=True`` needs a ``model_path`` with classifier weights.

    Example:
        >>> vgg16(classifier_logits=True)(torch.rand(1, 3, 32, 32)).shape
        torch.Size([1, 1000])
    """
    return build_model(
        VGG, VGG16_URL, pretrained, progress, model_path, PRETRAINED_DEFAULTS, kwargs
    )
