"""Renders keep what they finished: Ctrl-C ends a job and keeps its finished part; a step whose
objective or gradient is not finite is never applied and the last good image comes back with
the error; inputs of the wrong rank fail before anything runs."""

from __future__ import annotations

import os

import pytest
import torch
from torch import nn

import optim as opt
from optim.optimization import FastPath, NotFiniteError, n_steps

SIZE = 16


def _model() -> nn.Module:
    torch.manual_seed(0)
    return nn.Sequential(nn.Conv2d(3, 4, 3, padding=1), nn.ReLU(), nn.Conv2d(4, 6, 3)).eval()


def test_ctrl_c_in_the_first_step_of_render_returns_an_empty_history(ctrl_c_at):
    ctrl_c_at(0)
    result = opt.render(_model(), "2:1", size=SIZE, steps=5, seed=0, show_progress=False)
    assert result.interrupted and len(result.history) == 0
    assert result.images.shape == (1, 3, SIZE, SIZE)
    assert result.final_objective == result.final_objective  # a number, not NaN: the image ran


def test_ctrl_c_in_render_keeps_the_steps_that_ran(ctrl_c_at):
    ctrl_c_at(3)
    result = opt.render(_model(), "2:1", size=SIZE, steps=50, seed=0, show_progress=False)
    assert result.interrupted and len(result.history) == 3
    assert result.ran["eager_steps"] == 3 and result.ran["interrupted"] is True


def test_ctrl_c_in_render_layer_stops_the_job_and_keeps_the_finished_batches(ctrl_c_at):
    ctrl_c_at(4 + 1)  # batch 1 runs steps 0-3, batch 2 is interrupted in its 2nd step
    result = opt.render_layer(
        _model(), "2", [0, 1, 2, 3, 4], batch_size=2, size=SIZE, steps=4, seed=0,
        show_progress=False,
    )  # fmt: skip
    assert result.interrupted
    assert result.batches == [[0, 1]] and result.channels == [0, 1]
    assert result.images.shape == (2, 3, SIZE, SIZE) and result.history.shape == (4, 2)
    assert result.spec.channels == (0, 1, 2, 3, 4)  # what was asked for


def test_ctrl_c_before_any_batch_finished_propagates(ctrl_c_at):
    ctrl_c_at(1)
    with pytest.raises(KeyboardInterrupt):
        opt.render_layer(_model(), "2", [0, 1], size=SIZE, steps=4, show_progress=False)


class _GradientBlowsUpAt(opt.loss.BaseLoss):
    """A finite objective whose gradient is infinite from call ``bad`` on (sqrt at 0)."""

    def __init__(self, target, bad: int) -> None:
        super().__init__(target)
        self.calls, self.bad = 0, bad

    def __call__(self, targets_to_values):
        value = targets_to_values[self.target][:, 1].mean()
        self.calls += 1
        if self.calls > self.bad:
            activation = targets_to_values[self.target]
            value = value + torch.sqrt(activation - activation.detach()).sum()  # d/dx = inf
        return value


@pytest.mark.parametrize("every", [1, 4])
def test_a_step_with_a_non_finite_gradient_is_never_applied(every):
    model = _model()
    image = opt.images.NaturalImage((SIZE, SIZE))
    run = opt.InputOptimization(model, _GradientBlowsUpAt(model[2], 3), image, nn.Sequential())
    with pytest.raises(NotFiniteError, match="gradient of the objective is not finite at step 3"):
        run.optimize(n_steps(12, show_progress=False), fast_path=FastPath(check_finite_every=every))
    assert all(torch.isfinite(p).all() for p in image.parameters())  # the last good state
    reference = opt.images.NaturalImage((SIZE, SIZE))
    reference.load_state_dict(image.state_dict())
    assert torch.isfinite(reference()).all()


def test_render_hands_back_the_last_good_image_with_the_error():
    model = _model()
    with pytest.raises(NotFiniteError) as raised:
        opt.render(
            model, _GradientBlowsUpAt(model[2], 4), size=SIZE, steps=10, seed=1,
            transforms="none", show_progress=False,
        )  # fmt: skip
    partial = raised.value.result
    assert isinstance(partial, opt.rendering.RenderResult)
    assert partial.error and "step 4" in partial.error
    assert len(partial.history) == 4 and torch.isfinite(partial.images).all()
    assert raised.value.step == 4 and len(raised.value.history) == 4


def test_a_3d_image_is_refused_instead_of_reading_rows_as_channels():
    class Unbatched(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.pixels = nn.Parameter(torch.rand(3, SIZE, SIZE))

        def forward(self) -> torch.Tensor:
            return self.pixels

    model = _model()
    run = opt.InputOptimization(
        model, opt.loss.ChannelActivation(model[0], 0), Unbatched(), nn.Sequential()
    )
    with pytest.raises(ValueError, match=r"3-D image \[3, 16, 16\].*add the batch dimension"):
        run.optimize(n_steps(2, show_progress=False))
    assert not model[0]._forward_hooks


def test_unknown_layer_points_to_optim_layers():
    with pytest.raises(ValueError, match="`optim layers MODEL` lists them"):
        opt.render(_model(), "conv9:0", size=SIZE, steps=1, show_progress=False)


def test_outputs_are_written_atomically(tmp_path):
    from optim.rendering.files import write_atomic, write_text_atomic

    def fail(temp):
        temp.write_text("half")
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        write_atomic(tmp_path / "a.json", fail)
    assert list(tmp_path.iterdir()) == []  # neither the file nor a temp file is left
    path = write_text_atomic(tmp_path / "b.json", "{}")
    umask = os.umask(0)
    os.umask(umask)
    assert path.read_text() == "{}" and path.stat().st_mode & 0o777 == 0o666 & ~umask
