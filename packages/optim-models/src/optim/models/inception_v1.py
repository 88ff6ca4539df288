"""InceptionV1 (GoogLeNet) as Lucid's "inception5h", the classic feature-visualization model."""

from __future__ import annotations

import os
from typing import Any

import torch

from optim.models.factory import build_model
from optim.models.googlenet_base import GoogLeNetBase, GoogLeNetConfig
from optim.models.layer_options import as_batch, check_image_input

__all__ = ["GOOGLENET_URL", "InceptionV1", "googlenet"]

GOOGLENET_URL = "https://pytorch.s3.amazonaws.com/models/captum/inception5h.pth"

INCEPTION5H_CONFIG = GoogLeNetConfig(
    mixed={
        "3a": (192, 64, 96, 128, 16, 32, 32),
        "3b": (256, 128, 128, 192, 32, 96, 64),
        "4a": (480, 192, 96, 204, 16, 48, 64),
        "4b": (508, 160, 112, 224, 24, 64, 64),
        "4c": (512, 128, 128, 256, 24, 64, 64),
        "4d": (512, 112, 144, 288, 32, 64, 64),
        "4e": (528, 256, 160, 320, 32, 128, 128),
        "5a": (832, 256, 160, 320, 48, 128, 128),
        "5b": (832, 384, 192, 384, 48, 128, 128),
    },
    lrn=(11, 0.0011, 0.5, 2.0),
    conv1_same_padding=True,
    aux_in_channels=(508, 528),
)

PRETRAINED_DEFAULTS: dict[str, Any] = {
    "transform_input": True,
    "bgr_transform": False,
    "replace_relus_with_redirectedrelu": True,
    "use_linear_modules_only": False,
    "aux_logits": False,
    "out_features": 1008,
}


class InceptionV1(GoogLeNetBase):
    """InceptionV1 / GoogLeNet as trained by Google (Lucid's "inception5h").

    Layer names (render targets): ``conv1``, ``conv1_relu``, ``pool1``,
    ``local_response_norm1``, ``conv2``, ``conv2_relu``, ``conv3``, ``conv3_relu``,
    ``local_response_norm2``, ``pool2``, ``mixed3a`` ... ``mixed5b`` (pre-ReLU) with their
    ``_relu`` activations, ``pool3``, ``pool4``, ``aux1``/``aux2`` (with ``aux_logits``),
    ``avgpool``, ``drop``, ``fc``.

    Args:
        out_features: number of logits (1008 for the inception5h weights).
        aux_logits: add the two auxiliary classifiers; the forward then returns
            ``(logits, aux1, aux2)``.
        transform_input: take RGB in [0, 1] and map it to the weights' range ``x * 255 - 117``.
        bgr_transform: also flip the channels to BGR (with ``transform_input``).
        replace_relus_with_redirectedrelu: use :class:`RedirectedReluLayer` for every ReLU.
        use_linear_modules_only: ReLUs become :class:`SkipLayer` and max pools average
            pools (for circuits / expanded weights).

    Example:
        >>> model = InceptionV1(transform_input=True).eval()
        >>> model(torch.rand(1, 3, 64, 64)).shape
        torch.Size([1, 1008])
    """

    def __init__(
        self,
        out_features: int = 1008,
        aux_logits: bool = False,
        transform_input: bool = False,
        bgr_transform: bool = False,
        replace_relus_with_redirectedrelu: bool = False,
        use_linear_modules_only: bool = False,
    ) -> None:
        super().__init__(
            INCEPTION5H_CONFIG,
            out_features,
            aux_logits,
            replace_relus_with_redirectedrelu,
            use_linear_modules_only,
        )
        self.transform_input = transform_input
        self.bgr_transform = bgr_transform

    def transform(self, x: torch.Tensor) -> torch.Tensor:
        if not self.transform_input:
            return x.unsqueeze(0) if x.dim() == 3 else x
        if torch.jit.is_scripting():  # the checks read values back: eager only
            x = as_batch(x)
        else:
            x = check_image_input(x, type(self).__name__, model=self)
        x = x * 255 - 117
        return x.flip(1) if self.bgr_transform else x  # RGB -> BGR, no host index tensor


def googlenet(
    pretrained: bool = False,
    progress: bool = True,
    model_path: str | os.PathLike | None = None,
    **kwargs: Any,
) -> InceptionV1:
    """InceptionV1 (inception5h), optionally with its pretrained weights.

    With ``pretrained=True`` (or a ``model_path``) every option not given defaults to
    ``transform_input=True, bgr_transform=False, replace_relus_with_redirectedrelu=True,
    use_linear_modules_only=False, aux_logits=False, out_features=1008``; the weights come
    from ``model_path`` or from :data:`GOOGLENET_URL` through the torch hub cache
    (``$TORCH_HOME/hub/checkpoints/inception5h.pth`` is used when present), loaded strictly,
    and the model is put in eval mode. Offline without that file, a
    :class:`~optim.models.weights.WeightsUnavailableError` names the URL and the path to place
    it at. Labels: ``INCEPTION5H_CLASSES``.

    Args:
        pretrained: load the pretrained weights.
        progress: show a download progress bar.
        model_path: a local weights file (implies loading weights).
        **kwargs: options of :class:`InceptionV1`.

    Example:
        >>> model = googlenet(use_linear_modules_only=True)
        >>> type(model.mixed4a_relu).__name__
        'SkipLayer'
    """
    return build_model(
        InceptionV1, GOOGLENET_URL, pretrained, progress, model_path, PRETRAINED_DEFAULTS, kwargs
    )
