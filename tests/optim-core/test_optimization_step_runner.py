"""The step-runner seam: InputOptimization.last_run reports what actually ran (eager, replayed,
fallen back), the runner's lr contract, the loss scale's hooks, and the loop's independence
from the GPU machinery and the transform classes."""

from __future__ import annotations

import ast
import inspect
import json
import logging

import pytest
import torch
from torch import nn

import optim as opt
import optim.optimization.input_optimization as loop_module
import optim.optimization.step_runner as step_runner
from optim.optimization import FastPath, RunReport, n_steps
from optim.optimization.step_runner import EagerRunner, FastRunner, runner_for

SIZE = 32


def _model() -> nn.Module:
    torch.manual_seed(0)
    return nn.Sequential(
        nn.Conv2d(3, 8, 3, padding=1), nn.ReLU(), nn.Conv2d(8, 6, 3, stride=2), nn.ReLU()
    ).eval()


def _run(
    transform: nn.Module | None = None, steps: int = 6, fast_path: FastPath | None = None, stop=None
) -> opt.InputOptimization:
    torch.manual_seed(1)
    image = opt.images.NaturalImage((SIZE, SIZE), batch=2)
    if transform is None:
        transform = opt.transforms.TransformationRobustness(translate=(2, 2), final_translate=1)
    run = opt.InputOptimization(_model(), opt.loss.ChannelActivation("3", 1), image, transform)
    run.optimize(stop or n_steps(steps, show_progress=False), lr=0.05, fast_path=fast_path)
    return run


def _image(run: opt.InputOptimization) -> torch.Tensor:
    with torch.no_grad():
        return run.input_param().detach().as_subclass(torch.Tensor)


# --- RunReport ---------------------------------------------------------------------------------


def test_cpu_default_reports_the_eager_loop_with_the_fused_stack():
    run = _run()
    assert run.last_run == RunReport(
        device="cpu", freeze_model=True, check_finite_every=1, eager_steps=6,
        fused_transforms=True, channels_last=True,
    )  # fmt: skip
    report = run.last_run
    assert (report.cuda_graph, report.fused_transforms, report.autocast) == (False, True, "fp32")
    assert report.channels_last and report.loss_scale == 1.0 and report.steps == 6
    assert json.loads(json.dumps(report.describe())) == report.describe()


def test_cpu_switches_are_reported_as_they_ran():
    report = _run(
        fast_path=FastPath(
            autocast="fp16", channels_last=True, freeze_model=False, fuse_transforms=False
        )
    )
    assert report.last_run.describe() == {
        "device": "cpu",
        "cuda_graph": False,
        "fused_transforms": False,
        "autocast": "fp16",
        "channels_last": True,
        "freeze_model": False,
        "folded_batchnorms": 0,
        "check_finite_every": 1,
        "loss_scale": 4096.0,
        "eager_steps": 6,
        "replayed_steps": 0,
        "interrupted": False,
    }


@pytest.mark.usefixtures("sgd_for_adam")
def test_forced_graph_reports_the_capture_and_the_fused_stack(tape_graph):
    with tape_graph() as graphs:
        report = _run(steps=7).last_run
    assert graphs[0].replays == 5
    assert report.cuda_graph and report.fused_transforms
    assert (report.eager_steps, report.replayed_steps) == (2, 5)  # 2 warm-up steps
    assert report.check_finite_every == 4  # the fixture's setting: windowed


@pytest.mark.usefixtures("sgd_for_adam")
def test_an_already_fused_transform_is_not_reported_as_fused(tape_graph):
    fused = opt.transforms.FusedTransformationRobustness(translate=(2, 2), final_translate=1)
    with tape_graph():
        report = _run(fused).last_run
    assert report.cuda_graph and not report.fused_transforms


class _FailingGraph:
    def __init__(self, generators=()) -> None:
        pass

    def capture(self, body):
        raise RuntimeError("operation not permitted when stream is capturing")

    def replay(self) -> None:
        raise AssertionError("never captured")

    def side_stream(self):
        from contextlib import nullcontext

        return nullcontext()


@pytest.mark.usefixtures("sgd_for_adam")
def test_a_failed_capture_in_auto_mode_falls_back_and_reports_no_graph(
    tape_graph, monkeypatch, caplog
):
    with tape_graph(explicit=False), monkeypatch.context() as patch:
        patch.setattr(step_runner, "CudaGraph", _FailingGraph)
        with caplog.at_level(logging.WARNING):
            run = _run(steps=5)
    report = run.last_run
    assert "continuing without it" in caplog.text
    assert not report.cuda_graph and report.replayed_steps == 0 and report.eager_steps == 5
    assert report.fused_transforms  # the fused stack still ran, eagerly


@pytest.mark.usefixtures("sgd_for_adam")
def test_a_refused_graph_reports_no_graph(tape_graph):
    jitter = nn.Sequential(opt.transforms.RandomSpatialJitter(2))
    with tape_graph(fuse=False, explicit=False) as graphs:
        report = _run(jitter, steps=3).last_run
    assert not graphs and not report.cuda_graph and report.eager_steps == 3


def test_last_run_is_set_after_an_error_too(tape_graph):
    torch.manual_seed(1)
    image = opt.images.NaturalImage((SIZE, SIZE))
    jitter = opt.transforms.RandomSpatialJitter(2)
    run = opt.InputOptimization(_model(), opt.loss.ChannelActivation("3", 1), image, jitter)
    run.last_run = RunReport(eager_steps=99)  # a stale report is replaced
    with tape_graph(fuse=False, explicit=True), pytest.raises(ValueError, match="cannot be"):
        run.optimize(n_steps(3, show_progress=False))
    assert run.last_run == RunReport(device="cpu", check_finite_every=4)  # the fixture's
    with pytest.raises(ValueError, match="lr must be"):
        run.optimize(n_steps(3, show_progress=False), lr=0)
    assert run.last_run is None  # nothing ran


def test_an_interrupted_run_reports_its_completed_steps():
    inner = n_steps(10, show_progress=False)

    def interrupt_at_four(step, *args):
        if step == 4:
            raise KeyboardInterrupt
        return inner(step, *args)

    assert _run(stop=interrupt_at_four).last_run.eager_steps == 4


# --- the runner's contract -----------------------------------------------------------------------


@pytest.mark.usefixtures("sgd_for_adam")
def test_an_lr_change_after_the_capture_has_no_effect_and_warns(tape_graph):
    """Capturable optimizers read a float lr at the capture; the replays keep it."""

    def changing_lr(at_step: int):
        inner = n_steps(7, show_progress=False)

        def stop(step, optimization, history, optimizer):
            if step == at_step:
                optimizer.param_groups[0]["lr"] = 0.5
            return inner(step, optimization, history, optimizer)

        return stop

    with tape_graph():
        reference = _image(_run(steps=7))
    with tape_graph(), pytest.warns(UserWarning, match="lr changed from"):
        after_capture = _image(_run(stop=changing_lr(4)))
    torch.testing.assert_close(after_capture, reference, rtol=0, atol=0)
    with tape_graph():  # during the warm-up it applies, and nothing warns
        during_warmup = _image(_run(stop=changing_lr(1)))
    assert not torch.equal(during_warmup, reference)


def test_fp16_loss_scale_hooks_are_removed_after_the_run():
    run = _run(fast_path=FastPath(autocast="fp16"), steps=2)
    param = next(run.parameters())
    param.grad = None
    (param * 1).sum().backward()
    assert torch.equal(param.grad, torch.ones_like(param))  # not divided by the scale any more


def test_runner_for_picks_the_plain_runner_unless_a_switch_is_on():
    cpu = torch.device("cpu")
    plain = FastPath(fuse_transforms=False, channels_last=False).resolve(cpu)
    assert type(runner_for(plain)) is EagerRunner
    assert type(runner_for(FastPath.off().resolve(cpu))) is EagerRunner
    for switch in ({"channels_last": True}, {"autocast": "bf16"}, {"fuse_transforms": True}):
        one = {"channels_last": False, "fuse_transforms": False, **switch}
        assert type(runner_for(FastPath(**one).resolve(cpu))) is FastRunner


# --- the loop ----------------------------------------------------------------------------------


def test_the_loop_names_no_gpu_machinery_and_no_transform_class():
    tree = ast.parse(inspect.getsource(loop_module))
    names = {node.id for node in ast.walk(tree) if isinstance(node, ast.Name)}
    names |= {node.attr for node in ast.walk(tree) if isinstance(node, ast.Attribute)}
    names |= {
        alias.name
        for node in ast.walk(tree)
        if isinstance(node, ast.ImportFrom)
        for alias in node.names
    }
    forbidden = {
        "autocast", "channels_last", "loss_scale", "cuda_graph", "CudaGraph", "GraphedStep",
        "TransformationRobustness", "FusedTransformationRobustness", "RandomScale",
        "RandomSpatialJitter",
    }  # fmt: skip
    assert not names & forbidden


def test_default_transform_is_a_fresh_scale_and_jitter():
    first, second = opt.transforms.default_transform(), opt.transforms.default_transform()
    assert [type(m).__name__ for m in first] == ["RandomScale", "RandomSpatialJitter"]
    assert first is not second and first[1].translate == 16
    model = nn.Conv2d(3, 1, 1)
    run = opt.InputOptimization(model, opt.loss.LayerActivation(model))
    assert [type(m).__name__ for m in run.transform] == ["RandomScale", "RandomSpatialJitter"]
