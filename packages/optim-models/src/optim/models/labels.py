"""Class labels of the zoo's classifiers, shipped as package data (no download).

Example:
    >>> from optim.models.labels import INCEPTION5H_CLASSES
    >>> len(INCEPTION5H_CLASSES), INCEPTION5H_CLASSES[1]
    (1001, 'kit fox')
"""

from __future__ import annotations

from importlib import resources

__all__ = ["INCEPTION5H_CLASSES", "INCEPTIONV1_PLACES365_CLASSES", "imagenet_classes"]


def _read_labels(filename: str) -> list[str]:
    text = resources.files("optim.models").joinpath("data", filename).read_text("utf-8")
    return [line for line in text.splitlines() if line]


INCEPTION5H_CLASSES: list[str] = _read_labels("inception5h_labels.txt")
"""The 1001 InceptionV1 (inception5h) labels; index 0 is ``'dummy'``."""

INCEPTIONV1_PLACES365_CLASSES: list[str] = _read_labels("places365_labels.txt")
"""The 365 Places365-Standard scene labels (``'/a/airfield'`` ... ``'/z/zen_garden'``)."""


def imagenet_classes() -> list[str]:
    """The 1000 ImageNet-1k labels, from torchvision's weights metadata (no download).

    Example:
        >>> imagenet_classes()[281]
        'tabby'
    """
    from torchvision.models import ResNet50_Weights

    return list(ResNet50_Weights.IMAGENET1K_V2.meta["categories"])
