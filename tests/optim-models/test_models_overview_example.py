"""The project overview's first example, run as written against a seeded hub cache."""

from __future__ import annotations

import matplotlib
import pytest
import torch

import optim.optimization.input_optimization as input_optimization
from optim.models import InceptionV1

# Verbatim from the overview ("Getting Started"), with `import optim as opt`.
OVERVIEW_EXAMPLE = """
import torch
import optim as opt

device = torch.device("cuda:0" if torch.cuda.is_available() else "cpu")

model = opt.models.googlenet(pretrained=True).to(device)

loss_fn = opt.loss.ChannelActivation(model.mixed4a, 465)

image = opt.images.NaturalImage((224, 224)).to(device)
transforms = opt.transforms.TransformationRobustness()

def visualize(model, loss_fn, image, transforms):
    obj = opt.InputOptimization(model, loss_fn, image, transforms)
    history = obj.optimize()
    image().show()

visualize(model, loss_fn, image, transforms)
"""


def test_overview_first_example_runs_as_written(hub_checkpoints, monkeypatch):
    torch.manual_seed(0)
    torch.save(InceptionV1().state_dict(), hub_checkpoints / "inception5h.pth")

    # short steps: the example's optimize() default of 512 steps becomes 2
    real_n_steps = input_optimization.n_steps
    monkeypatch.setattr(
        input_optimization,
        "n_steps",
        lambda n, show_progress=True: real_n_steps(2, show_progress=False),
    )
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    shown = []
    monkeypatch.setattr(plt, "show", lambda *a, **k: shown.append(plt.gcf()))

    namespace: dict = {}
    exec(compile(OVERVIEW_EXAMPLE, "overview_example", "exec"), namespace)

    model = namespace["model"]
    assert len(shown) == 1
    assert namespace["image"]().shape == (1, 3, 224, 224)
    assert not model.training  # pretrained models come back in eval mode
    assert all(not m._forward_hooks for m in model.modules())
    plt.close("all")


def test_overview_example_needs_the_seeded_file(hub_checkpoints):
    import optim as opt

    with pytest.raises(AssertionError, match="tried to download"):
        opt.models.googlenet(pretrained=True)
