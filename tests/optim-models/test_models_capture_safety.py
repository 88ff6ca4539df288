"""Every zoo model's render step can be replayed as a CUDA graph (checked on CPU and meta).

A model whose forward reads a value back or copies host data to the device (an index list,
torch.tensor(...) in forward) makes the fast path fall back to eager steps on a GPU.
"""

from __future__ import annotations

import pytest
import torch

import optim as opt
from optim.optimization import assert_step_capturable

# (zoo name, build options, target layer, image size); 64 px keeps the CPU pass quick. Without
# pretrained weights googlenet and CLIP skip their input transform unless asked: renders
# (pretrained) run it, so it is on here.
_RENDERED = {"transform_input": True}
CASES = [
    ("googlenet", _RENDERED, "mixed4a", 64),
    ("googlenet", {**_RENDERED, "replace_relus_with_redirectedrelu": True}, "mixed4a", 64),
    ("googlenet", {**_RENDERED, "bgr_transform": True}, "mixed3a", 64),
    ("googlenet_places365", {"replace_relus_with_redirectedrelu": True}, "mixed4a", 64),
    ("vgg16", {}, "features.16", 64),
    ("efficientnet_lite0", {}, "_blocks.8", 64),
    ("clip_resnet50x4_image", _RENDERED, "layer2", 64),
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


@pytest.mark.usefixtures("sgd_for_adam")
@pytest.mark.parametrize(
    ("name", "layer"), [("googlenet", "mixed4a"), ("googlenet_places365", "mixed3b")]
)
def test_zoo_model_replayed_steps_equal_the_eager_loop(tape_graph, name, layer):
    """Replayed without their Python (conftest's TapeGraph), the redirected ReLUs' and the
    local response norms' own backward passes give the eager loop's steps."""
    torch.manual_seed(0)
    model = opt.models.get_model(
        name, pretrained=False, replace_relus_with_redirectedrelu=True, transform_input=True
    ).eval()

    def run() -> tuple[torch.Tensor, torch.Tensor]:
        torch.manual_seed(1)
        image = opt.images.NaturalImage((64, 64))
        stack = opt.transforms.FusedTransformationRobustness()
        history = opt.InputOptimization(
            model, opt.loss.ChannelActivation(layer, 7), image, stack
        ).optimize(opt.optimization.n_steps(5, show_progress=False), lr=0.05)
        return history, image().detach().as_subclass(torch.Tensor)

    eager_history, eager_image = run()
    with tape_graph() as graphs:
        history, image = run()
    assert len(graphs) == 1 and graphs[0].replays == 3
    torch.testing.assert_close(history, eager_history, rtol=1e-5, atol=1e-6)
    torch.testing.assert_close(image, eager_image, rtol=1e-5, atol=1e-6)
