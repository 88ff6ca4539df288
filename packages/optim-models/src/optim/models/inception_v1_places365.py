"""InceptionV1 (GoogLeNet) trained on MIT Places365-Standard (a Caffe model)."""

from __future__ import annotations

import os
from typing import Any

import torch

from optim.models.factory import build_model
from optim.models.googlenet_base import GoogLeNetBase, GoogLeNetConfig
from optim.models.layer_options import as_batch, check_image_input

__all__ = ["GOOGLENET_PLACES365_URL", "InceptionV1Places365", "googlenet_places365"]

GOOGLENET_PLACES365_URL = (
    "https://pytorch-tutorial-assets.s3.amazonaws.com/captum/inceptionv1_places365.pth"
)

PLACES365_CONFIG = GoogLeNetConfig(
    mixed={
        "3a": (192, 64, 96, 128, 16, 32, 32),
        "3b": (256, 128, 128, 192, 32, 96, 64),
        "4a": (480, 192, 96, 208, 16, 48, 64),
        "4b": (512, 160, 112, 224, 24, 64, 64),
        "4c": (512, 128, 128, 256, 24, 64, 64),
        "4d": (512, 112, 144, 288, 32, 64, 64),
        "4e": (528, 256, 160, 320, 32, 128, 128),
        "5a": (832, 256, 160, 320, 32, 128, 128),
        "5b": (832, 384, 192, 384, 48, 128, 128),
    },
    lrn=(5, 9.999999747378752e-05, 0.75, 1.0),
    conv1_same_padding=False,
    aux_in_channels=(512, 528),
)

PLACES365_MEAN_RGB = (116.7894, 112.6004, 104.0437)

PRETRAINED_DEFAULTS: dict[str, Any] = {
    "transform_input": True,
    "replace_relus_with_redirectedrelu": True,
    "use_linear_modules_only": False,
    "aux_logits": True,
    "out_features": 365,
}


class InceptionV1Places365(GoogLeNetBase):
    """GoogLeNet trained on Places365-Standard; same layer names as :class:`InceptionV1`.

    Args:
        out_features: number of scene logits (365).
        aux_logits: keep the two auxiliary classifiers; the forward returns
            ``(logits, aux1, aux2)`` when set.
        transform_input: take RGB in [0, 1] and map it to Caffe's convention
            (``x * 255 - mean`` per channel, then RGB -> BGR).
        replace_relus_with_redirectedrelu: use :class:`RedirectedReluLayer` for every ReLU.
        use_linear_modules_only: ReLUs become :class:`SkipLayer`, max pools average pools.

    Example:
        >>> model = InceptionV1Places365(aux_logits=False).eval()
        >>> model(torch.rand(1, 3, 64, 64)).shape
        torch.Size([1, 365])
    """

    def __init__(
        self,
        out_features: int = 365,
        aux_logits: bool = True,
        transform_input: bool = True,
        replace_relus_with_redirectedrelu: bool = False,
        use_linear_modules_only: bool = False,
    ) -> None:
        super().__init__(
            PLACES365_CONFIG,
            out_features,
            aux_logits,
            replace_relus_with_redirectedrelu,
            use_linear_modules_only,
        )
        self.transform_input = transform_input
        self.input_mean: torch.Tensor  # a buffer (typed for type checkers)
        self.register_buffer(
            "input_mean", torch.tensor(PLACES365_MEAN_RGB).view(1, 3, 1, 1), persistent=False
        )

    def transform(self, x: torch.Tensor) -> torch.Tensor:
        if not self.transform_input:
            return x.unsqueeze(0) if x.dim() == 3 else x
        if torch.jit.is_scripting():  # the checks read values back: eager only
            x = as_batch(x)
        else:
            x = check_image_input(x, type(self).__name__, model=self)
        x = x * 255 - self.input_mean
        return x.flip(1)  # RGB -> BGR without an index tensor from the host


def googlenet_places365(
    pretrained: bool = False,
    progress: bool = True,
    model_path: str | os.PathLike | None = None,
    **kwargs: Any,
) -> InceptionV1Places365:
    """GoogLeNet-Places365, optionally with its pretrained weights.

    With ``pretrained=True`` (or a ``model_path``) unset options default to
    ``transform_input=True, replace_relus_with_redirectedrelu=True,
    use_linear_modules_only=False, aux_logits=True, out_features=365`` — the same
    ``aux_logits``/``transform_input`` defaults as the class, so the factory and the class
    agree. Labels: ``INCEPTIONV1_PLACES365_CLASSES``.

    Example:
        >>> googlenet_places365(aux_logits=False)(torch.rand(1, 3, 64, 64)).shape
        torch.Size([1, 365])
    """
    return build_model(
        InceptionV1Places365,
        GOOGLENET_PLACES365_URL,
        pretrained,
        progress,
        model_path,
        PRETRAINED_DEFAULTS,
        kwargs,
    )
