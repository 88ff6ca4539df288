"""Every zoo model's render step can be replayed as a CUDA graph (checked on CPU and meta).

A model whose forward reads a value back or copies host data to the device (an index list,
torch.tensor(...) in forward) makes the fast path fall back to eager steps on a GPU.
"""

from __future__ import annotations

import pytest
import torch

import optim as opt
from optim.optimization import assert_step_capturable

# (zoo name, build options, target layer, image size); 64 px keeps the CPU pass quick.
CASES = [
    ("googlenet", {}, "mixed4a", 64),
    ("googlenet", {"replace_relus_with_redirectedrelu": True}, "mixed4a", 64),
    ("googlenet_places365", {"replace_relus_with_redirectedrelu": True}, "mixed4a", 64),
    ("vgg16", {}, "features.16", 64),
    ("efficientnet_lite0", {}, "_blocks.8", 64),
    ("clip_resnet50x4_image", {}, "layer2", 64),
    ("torchvision/googlenet", {}, "inception4a", 64),
    ("torchvision/inception_v3", {}, "Mixed_5b", 96),
    ("torchvision/resnet18", {}, "layer2", 64),
]


@pytest.mark.parametrize(
    ("name", "options", "layer", "size"), CASES, ids=[f"{c[0]}{c[1] or ''}" for c in CASES]
)
def test_zoo_model_step_is_capturable(name, options, layer, size):
    torch.manual_seed(0)
    model = opt.models.get_model(name, pretrained=False, **options).eval()
    assert_step_capturable(
        model,
        opt.loss.ChannelActivation(layer, 0),
        opt.images.NaturalImage((size, size)),
        opt.transforms.TransformationRobustness(),
    )
