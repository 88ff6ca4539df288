"""TensorBoard logging of a render: loss every step, image every k steps, clear ImportError."""

from __future__ import annotations

import sys

import pytest
import torch
from torch import nn

import optim as opt
from optim.optimization import log_to_tensorboard, n_steps

pytest.importorskip("tensorboard")


def test_logs_loss_every_step_and_image_every_k(tmp_path):
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    torch.manual_seed(0)
    image = opt.images.NaturalImage((16, 16))
    obj = opt.InputOptimization(None, -opt.loss.TotalVariation(image), image, nn.Sequential())
    logger = log_to_tensorboard(n_steps(5, show_progress=False), str(tmp_path), image_every=2)
    history = obj.optimize(logger)
    events = EventAccumulator(str(tmp_path), size_guidance={"images": 0, "scalars": 0})
    events.Reload()
    scalars = events.Scalars("optim/loss")
    assert [s.step for s in scalars] == [0, 1, 2, 3, 4]
    assert [s.value for s in scalars] == pytest.approx(history.tolist())
    assert [i.step for i in events.Images("optim/image")] == [0, 2, 4, 5]


def test_missing_tensorboard_gives_install_hint(monkeypatch):
    monkeypatch.setitem(sys.modules, "torch.utils.tensorboard", None)
    with pytest.raises(ImportError, match=r"pip install 'optim-core\[tensorboard\]'"):
        log_to_tensorboard(n_steps(1), "unused")


def test_image_every_is_validated(tmp_path):
    with pytest.raises(ValueError, match="image_every must be a positive int"):
        log_to_tensorboard(n_steps(1), str(tmp_path), image_every=0)
