"""optim.models: the model zoo. The model utilities (``replace_layers``, ``RedirectedReluLayer``,
``get_model_layers``, ...) live in :mod:`optim.model_utils` (optim-core).

Example:
    >>> import optim as opt
    >>> model = opt.models.efficientnet_lite0(pretrained=True)
    >>> "_blocks.10._project_conv" in opt.model_utils.get_model_layers(model)
    True
"""

from __future__ import annotations

from typing import Any

from optim.models.clip_resnet50x4_image import CLIP_ResNet50x4Image, clip_resnet50x4_image
from optim.models.clip_resnet50x4_text import CLIP_ResNet50x4Text, clip_resnet50x4_text
from optim.models.clip_tokenizer import CLIPTokenizer
from optim.models.efficientnet_lite import (
    EfficientNetLite,
    efficientnet_lite0,
    efficientnet_lite1,
    efficientnet_lite2,
)
from optim.models.inception_v1 import InceptionV1, googlenet
from optim.models.inception_v1_places365 import InceptionV1Places365, googlenet_places365
from optim.models.labels import (
    INCEPTION5H_CLASSES,
    INCEPTIONV1_PLACES365_CLASSES,
    imagenet_classes,
)
from optim.models.registry import get_model, list_models
from optim.models.timm_models import timm_model
from optim.models.torchvision_models import torchvision_model
from optim.models.vgg import VGG, VGG16_LAYERS, vgg16
from optim.models.weights import (
    WeightsError,
    WeightsFileError,
    WeightsMismatchError,
    WeightsUnavailableError,
)

__all__ = [
    "CLIPTokenizer",
    "CLIP_ResNet50x4Image",
    "CLIP_ResNet50x4Text",
    "EfficientNetLite",
    "IMAGENET_CLASSES",
    "INCEPTION5H_CLASSES",
    "INCEPTIONV1_PLACES365_CLASSES",
    "InceptionV1",
    "InceptionV1Places365",
    "VGG",
    "VGG16_LAYERS",
    "WeightsError",
    "WeightsFileError",
    "WeightsMismatchError",
    "WeightsUnavailableError",
    "clip_resnet50x4_image",
    "clip_resnet50x4_text",
    "efficientnet_lite0",
    "efficientnet_lite1",
    "efficientnet_lite2",
    "get_model",
    "googlenet",
    "googlenet_places365",
    "imagenet_classes",
    "list_models",
    "timm_model",
    "torchvision_model",
    "vgg16",
]


def __getattr__(name: str) -> Any:
    # IMAGENET_CLASSES needs torchvision's metadata: read it on first use only.
    if name == "IMAGENET_CLASSES":
        value = imagenet_classes()
        globals()[name] = value
        return value
    raise AttributeError(f"module 'optim.models' has no attribute {name!r}")
