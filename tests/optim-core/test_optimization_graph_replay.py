"""The CUDA-graph branch replayed by conftest's TapeGraph: none of the step's Python runs after
the capture, as on a GPU. Replayed runs must equal the eager loop (same seed, SGD), and
everything recorded per step must have one row per step."""

from __future__ import annotations

import pytest
import torch
from torch import nn

import optim as opt
from optim.optimization import FastPath, n_steps
from optim.optimization.step_record import StepRecord

SIZE = 32


def _model() -> nn.Module:
    torch.manual_seed(0)
    return nn.Sequential(
        nn.Conv2d(3, 8, 3, padding=1), nn.ReLU(), nn.Conv2d(8, 6, 3, stride=2), nn.ReLU()
    ).eval()


def _fused() -> nn.Module:
    return opt.transforms.FusedTransformationRobustness(translate=(2, 2), final_translate=1)


@pytest.mark.parametrize("precision", [None, torch.bfloat16, torch.float16])
def test_replayed_steps_equal_the_eager_loop(tape_graph, sgd_for_adam, precision):
    """fp16 includes the loss scale and the unscaling of the gradients inside the graph."""

    def run(fast_path: FastPath | None) -> tuple[torch.Tensor, torch.Tensor]:
        model = _model()
        torch.manual_seed(1)
        image = opt.images.NaturalImage((SIZE, SIZE), batch=2)
        objective = opt.loss.ChannelActivation("3", 1)  # a live channel of this model
        history = opt.InputOptimization(model, objective, image, _fused()).optimize(
            n_steps(7, show_progress=False), lr=0.05, fast_path=fast_path
        )
        return history, image().detach().as_subclass(torch.Tensor)

    eager_history, eager_image = run(FastPath(autocast=precision))
    with tape_graph(autocast=precision) as graphs:
        history, image = run(None)
    assert sgd_for_adam == [{"lr": 0.05, "capturable": c} for c in (False, True)]
    assert len(graphs) == 1 and graphs[0].replays == 5  # 2 warm-up steps, then 5 replays
    assert len(set(history.tolist())) == 7
    torch.testing.assert_close(history, eager_history, rtol=1e-6, atol=1e-7)
    torch.testing.assert_close(image, eager_image, rtol=1e-6, atol=1e-7)


@pytest.mark.usefixtures("sgd_for_adam")
def test_a_python_list_misses_the_replayed_steps(tape_graph):
    """Why StepRecord exists: the tape really runs none of the step's Python again."""
    model, seen, record, magnitude = _model(), [], StepRecord(6), StepRecord(6)

    def summarize(values: torch.Tensor) -> torch.Tensor:
        seen.append(values.detach())
        record.append(values.mean(dim=(1, 2)))
        magnitude.append(values.detach().abs().mean().reshape(1))
        return -values.mean()

    image = opt.images.PixelImage((SIZE, SIZE), batch=2)
    objective = opt.loss.ChannelActivation("3", 1)
    with tape_graph():
        history = opt.InputOptimization(model, objective, image, _fused()).optimize(
            n_steps(6, show_progress=False), loss_summarize_fn=summarize, lr=0.05
        )
    assert len(seen) == 3  # 2 warm-up steps and the capture
    rows = record.values()
    assert rows.shape == (6, 2)
    # The same n values averaged in two orders (per row, then the rows; or all at once): a
    # float32 mean of n terms is off by at most n u mean(|v|) in any order (u = eps / 2), so
    # the two agree within n eps mean(|v|), per step.
    n = seen[0].numel()
    atol = n * torch.finfo(torch.float32).eps * magnitude.values()[:, 0]
    assert ((-rows.mean(dim=1) - history).abs() <= atol).all()


@pytest.mark.usefixtures("sgd_for_adam")
def test_render_layer_history_has_every_replayed_step(tape_graph):
    settings = {"channels": [1, 3, 5], "batch_size": 3, "size": SIZE, "steps": 6, "seed": 0}
    settings |= {"transforms": _fused(), "show_progress": False}
    eager = opt.render_layer(_model(), "3", **settings)
    with tape_graph() as graphs:
        replayed = opt.render_layer(_model(), "3", **settings)
    assert len(graphs) == 1 and replayed.history.shape == (6, 3)
    torch.testing.assert_close(replayed.history, eager.history, rtol=1e-6, atol=1e-7)
    torch.testing.assert_close(replayed.images, eager.images, rtol=1e-6, atol=1e-6)


@pytest.mark.usefixtures("sgd_for_adam")
def test_accentuation_history_has_every_replayed_step(tape_graph):
    photo = torch.rand(3, SIZE, SIZE, generator=torch.Generator().manual_seed(3))

    def run():
        torch.manual_seed(2)
        return opt.accentuate(
            _model(), "3", photo, 1, steps=5, transform=_fused(), show_progress=False
        )

    eager = run()
    with tape_graph() as graphs:
        replayed = run()
    assert len(graphs) == 1
    for name in ("target", "distance", "objective"):
        assert replayed.history[name].shape == (5,)
        torch.testing.assert_close(
            replayed.history[name], eager.history[name], rtol=1e-5, atol=1e-6
        )


@pytest.mark.usefixtures("sgd_for_adam")
def test_maco_transparency_accumulates_over_replayed_steps(tape_graph):
    """The accumulation runs in a backward hook: tensor operations, so replays repeat it."""

    def run() -> torch.Tensor:
        torch.manual_seed(4)
        image = opt.images.MACOImage((SIZE, SIZE), accumulate_transparency=True)
        objective = opt.loss.ChannelActivation("3", 1)
        opt.InputOptimization(_model(), objective, image, _fused()).optimize(
            n_steps(6, show_progress=False), lr=0.05
        )
        return image.transparency_accumulator.clone()

    eager = run()
    with tape_graph() as graphs:
        replayed = run()
    assert len(graphs) == 1 and graphs[0].replays == 4
    torch.testing.assert_close(replayed, eager, rtol=1e-5, atol=1e-7)


# --- StepRecord --------------------------------------------------------------------------


def test_step_record_rows_shape_and_overflow():
    record = StepRecord(3)
    assert record.values().shape == (0,)
    for step in range(5):
        record.append(torch.full((2,), float(step), requires_grad=True) * 1)
    assert record.values().tolist() == [[0.0, 0.0], [1.0, 1.0], [4.0, 4.0]]  # last row kept
    assert not record.values().requires_grad
    with pytest.raises(ValueError, match=r"rows have shape \(2,\)"):
        record.append(torch.zeros(3))
    for bad in (0, 2.0, True):
        with pytest.raises(ValueError, match="steps must be an int >= 1"):
            StepRecord(bad)


def test_step_record_append_never_reads_back(monkeypatch):
    record = StepRecord(4)
    record.append(torch.zeros(2, dtype=torch.float64))  # allocation (the eager first step)

    def refuse(*args, **kwargs):
        raise AssertionError("host read inside append")

    with monkeypatch.context() as patch:
        for name in ("item", "__bool__", "__int__", "__index__", "tolist"):
            patch.setattr(torch.Tensor, name, refuse)
        record.append(torch.ones(2))
    assert record.values().dtype == torch.float64 and record.values().shape == (2, 2)


@pytest.mark.gpu
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")
def test_cuda_render_layer_records_every_step_of_the_graph():
    model = _model().cuda()
    settings = {"channels": [1, 3, 5], "batch_size": 3, "size": SIZE, "steps": 12, "seed": 0}
    graph = FastPath(cuda_graph=True)  # explicit: a failed capture raises instead of going eager
    result = opt.render_layer(model, "3", show_progress=False, fast_path=graph, **settings)
    assert result.history.shape == (12, 3)
    assert len({tuple(row) for row in result.history.tolist()}) == 12  # no aliased rows
