"""FastPath on CPU: every switch against the plain loop, the CUDA-graph step with a fake graph,
graph-safety checks, lazy finite checks and the throttled progress postfix."""

from __future__ import annotations

import dataclasses
import logging

import pytest
import torch
from torch import nn

import optim as opt
from optim.optimization import FastPath, n_steps
from optim.optimization.fast_path import graph_unsafe_modules
from optim.optimization.graphed_step import GraphedStep
from optim.optimization.stop_criteria import NSteps

SIZE = 32


def _model() -> nn.Module:
    torch.manual_seed(0)
    return nn.Sequential(
        nn.Conv2d(3, 8, 3, padding=1),
        nn.ReLU(),
        nn.Conv2d(8, 16, 3, stride=2, padding=1),
        nn.ReLU(),
        nn.Conv2d(16, 16, 3, padding=1),
        nn.ReLU(),
        nn.Conv2d(16, 4, 1),
    ).eval()


def _render(
    fast_path: FastPath | None,
    steps: int = 6,
    model: nn.Module | None = None,
    transform: nn.Module | None = None,
    optimizer_factory=None,
    dtype: torch.dtype = torch.float32,
) -> tuple[torch.Tensor, torch.Tensor, nn.Module]:
    model = model if model is not None else _model().to(dtype)
    torch.manual_seed(1)
    image = opt.images.NaturalImage((SIZE, SIZE), batch=2).to(dtype)
    if transform is None:
        transform = opt.transforms.TransformationRobustness(translate=(2, 2), final_translate=1)
    run = opt.InputOptimization(model, opt.loss.ChannelActivation("4", 3), image, transform)
    optimizer = optimizer_factory(image.parameters()) if optimizer_factory else None
    history = run.optimize(
        n_steps(steps, show_progress=False), optimizer=optimizer, lr=0.05, fast_path=fast_path
    )
    with torch.no_grad():
        return history, image().detach().as_subclass(torch.Tensor), model


# --- settings -------------------------------------------------------------------------------


def test_auto_on_cpu_fuses_the_transforms_folds_batch_norms_and_runs_channels_last():
    fast = FastPath().resolve(torch.device("cpu"))
    assert (fast.channels_last, fast.autocast_dtype, fast.cuda_graph) == (True, None, False)
    assert fast.fuse_transforms and fast.fold_batchnorm
    assert fast.check_finite_every == 1 and fast.freeze_model
    assert not FastPath(freeze_model=False).resolve(torch.device("cpu")).fold_batchnorm


def test_auto_turns_the_gpu_switches_on_for_cuda_without_touching_precision():
    fast = FastPath().resolve(torch.device("cuda", 0))
    assert fast.channels_last and fast.cuda_graph and fast.fuse_transforms
    assert fast.autocast_dtype is None and not fast.cuda_graph_explicit
    assert fast.check_finite_every == 32


@pytest.mark.parametrize(
    "kwargs, match",
    [
        ({"autocast": "int8"}, "'fp32', 'bf16' or 'fp16'"),
        ({"cuda_graph": "yes"}, "True, False or None"),
        ({"check_finite_every": 0}, "check_finite_every must be an int >= 1"),
        ({"warmup_steps": -1}, "warmup_steps must be an int >= 0"),
        ({"freeze_model": None}, "freeze_model must be a bool"),
    ],
)
def test_invalid_settings_say_what_is_allowed(kwargs, match):
    with pytest.raises((TypeError, ValueError), match=match):
        FastPath(**kwargs)


def test_cuda_graph_on_cpu_is_an_error_naming_the_device():
    with pytest.raises(ValueError, match="needs the model on a CUDA device, but it is on cpu"):
        _render(FastPath(cuda_graph=True), steps=1)


def test_describe_round_trips_for_manifests():
    fast = FastPath(autocast=torch.float16, cuda_graph=False, check_finite_every=8)
    again = FastPath.from_description(fast.describe())
    assert again.resolve(None) == fast.resolve(None)
    with pytest.raises(ValueError, match="Unknown FastPath settings"):
        FastPath.from_description({"turbo": True})


def test_fast_path_must_be_a_fast_path():
    with pytest.raises(TypeError, match=r"optim\.optimization\.FastPath"):
        _render({"cuda_graph": False}, steps=1)  # type: ignore[arg-type]


# --- switches against the plain loop ----------------------------------------------------------


def test_default_is_bitwise_the_fused_channels_last_plain_loop_on_cpu_without_weight_grads():
    # The model has no batch norm: the default differs from the plain loop (with the same
    # fused transforms and channels-last layout) only in not computing the weights' gradients.
    plain_history, plain_image, plain_model = _render(
        dataclasses.replace(FastPath.off(), fuse_transforms=True, channels_last=True)
    )
    history, image, model = _render(None)
    assert torch.equal(history, plain_history)
    assert torch.equal(image, plain_image)
    assert all(p.grad is None for p in model.parameters())  # frozen during the run
    assert all(p.grad is not None for p in plain_model[:5].parameters())  # up to the target
    assert all(p.requires_grad for p in model.parameters())  # and restored


def test_frozen_parameters_are_restored_after_an_error():
    model = _model()
    model[0].weight.requires_grad_(False)  # a user's own choice is kept

    def exploding(_params):
        class Boom(torch.optim.SGD):
            def step(self, closure=None):
                raise RuntimeError("boom")

        return Boom(_params, lr=0.1)

    with pytest.raises(RuntimeError, match="boom"):
        _render(FastPath(), steps=2, model=model, optimizer_factory=exploding)
    assert not model[0].weight.requires_grad
    assert all(p.requires_grad for name, p in model.named_parameters() if name != "0.weight")


def test_channels_last_matches_the_plain_loop_and_restores_the_layout():
    # In float64: channels_last runs other convolution kernels, which sum in another order,
    # and six Adam steps carry the rounding difference along. Adam divides each gradient by
    # its own size, so a gradient near 0 whose rounding differs can move a pixel by up to lr:
    # no float32 tolerance follows from the arithmetic. In float64 (eps 2.2e-16) the two
    # loops differ by ~1e-15, ten orders of magnitude below the tolerance, which is in turn
    # far below what a real difference does (one step moves pixels by ~lr = 0.05).
    plain_history, plain_image, _ = _render(FastPath.off(), dtype=torch.float64)
    history, image, model = _render(
        FastPath(channels_last=True, fuse_transforms=False), dtype=torch.float64
    )
    assert image.dtype == torch.float64
    torch.testing.assert_close(history, plain_history, rtol=1e-4, atol=1e-5)
    torch.testing.assert_close(image, plain_image, rtol=1e-4, atol=1e-5)
    assert all(p.is_contiguous() for p in model.parameters())


def test_channels_last_feeds_the_model_nhwc():
    model = _model()
    seen = []
    model[0].register_forward_pre_hook(
        lambda _m, args: seen.append(args[0].is_contiguous(memory_format=torch.channels_last))
    )
    _render(FastPath(channels_last=True), steps=2, model=model)
    assert seen and all(seen)


def test_bf16_autocast_keeps_the_objective_within_five_percent():
    _, plain_image, model = _render(FastPath.off(), steps=24)
    _, bf16_image, _ = _render(FastPath(autocast="bf16", fuse_transforms=False), steps=24)

    def objective(image):
        with torch.no_grad():
            return model[:5](image)[:, 3].mean().item()

    reference = objective(plain_image)
    assert reference > objective(_render(FastPath.off(), steps=0)[1])  # the render did work
    assert abs(objective(bf16_image) - reference) <= 0.05 * abs(reference)


def test_autocast_runs_only_the_model_in_reduced_precision():
    dtypes: dict[str, torch.dtype] = {}

    class Recording(opt.loss.BaseLoss):
        def __call__(self, targets_to_values):
            dtypes["objective input"] = targets_to_values[self.target].dtype
            return targets_to_values[self.target][:, 3]

    def record(name):
        def hook(_module, _args, out) -> None:  # returns None: the output is kept
            dtypes.setdefault(name, out.dtype)

        return hook

    model = _model()
    model[2].register_forward_hook(record("conv"))
    transform = nn.Sequential()
    transform.register_forward_hook(record("transform"))
    torch.manual_seed(1)
    image = opt.images.NaturalImage((SIZE, SIZE))
    run = opt.InputOptimization(model, Recording(model[4]), image, transform)
    run.optimize(n_steps(1, show_progress=False), fast_path=FastPath(autocast="bf16"))
    assert dtypes == {
        "transform": torch.float32,
        "conv": torch.bfloat16,
        "objective input": torch.float32,
    }
    assert all(p.dtype == torch.float32 for p in image.parameters())


def test_fp16_loss_scale_is_undone_before_the_optimizer_sees_the_gradient():
    captured: dict[str, torch.Tensor] = {}

    def recording_sgd(params):
        class Recording(torch.optim.SGD):
            def step(self, closure=None):
                captured.setdefault("grad", self.param_groups[0]["params"][0].grad.clone())
                return super().step(closure)

        return Recording(params, lr=0.0)

    _render(FastPath.off(), steps=1, optimizer_factory=recording_sgd)
    reference = captured.pop("grad")
    _render(
        FastPath(autocast="fp16", fuse_transforms=False), steps=1, optimizer_factory=recording_sgd
    )
    scaled = captured["grad"]
    # Same gradient up to float16 rounding, not 2**12 times it.
    assert 0.9 < scaled.norm() / reference.norm() < 1.1
    assert torch.nn.functional.cosine_similarity(scaled.flatten(), reference.flatten(), 0) > 0.99


# --- non-finite objectives ---------------------------------------------------------------------


class _NaNAfter(opt.loss.BaseLoss):
    def __init__(self, target, good_calls: int) -> None:
        super().__init__(target)
        self.calls = 0
        self.good_calls = good_calls

    def __call__(self, targets_to_values):
        self.calls += 1
        value = targets_to_values[self.target][:, 0]
        return value * float("nan") if self.calls > self.good_calls else value


@pytest.mark.parametrize("every", [1, 4, 100])
def test_a_non_finite_objective_names_its_first_step(every):
    model = _model()
    image = opt.images.NaturalImage((SIZE, SIZE))
    run = opt.InputOptimization(model, _NaNAfter(model[4], 5), image, nn.Sequential())
    with pytest.raises(RuntimeError, match="not finite at step 5"):
        run.optimize(n_steps(12, show_progress=False), fast_path=FastPath(check_finite_every=every))
    if every == 1:  # checked before the update: the input keeps its last finite state
        assert all(torch.isfinite(p).all() for p in image.parameters())


# --- CUDA-graph step (fake graph on CPU) --------------------------------------------------------


class FakeGraph:
    """Records the body instead of running it, like a CUDA graph capture; replay runs it (its
    Python too, unlike a real graph: conftest's TapeGraph does not) into the same static
    output tensor. For GraphedStep's own bookkeeping."""

    instances: list[FakeGraph] = []

    def __init__(self) -> None:
        self.body = None
        self.static = torch.empty(0)
        self.replays = 0
        FakeGraph.instances.append(self)

    def capture(self, body):
        self.body = body
        return self.static

    def replay(self) -> None:
        self.replays += 1
        out = self.body().detach()
        self.static.resize_(out.shape).copy_(out)

    def side_stream(self):
        from contextlib import nullcontext

        return nullcontext()


def _counting_step():
    calls = {"eager": 0, "body": 0, "zero": 0}

    def body():
        calls["body"] += 1
        return torch.tensor(float(calls["body"]))

    def eager():
        calls["eager"] += 1
        return body()

    return calls, eager, body, lambda: calls.__setitem__("zero", calls["zero"] + 1)


def test_graphed_step_warms_up_captures_once_then_replays():
    FakeGraph.instances.clear()
    calls, eager, body, zero = _counting_step()
    step = GraphedStep(eager, body, zero, warmup=3, graph_factory=FakeGraph)
    values = [step().clone() for _ in range(7)]
    assert values == [torch.tensor(float(i)) for i in range(1, 8)]
    assert calls == {"eager": 3, "body": 7, "zero": 1}
    assert step.captured and len(FakeGraph.instances) == 1
    assert FakeGraph.instances[0].replays == 4
    # After the capture every call returns the same static tensor: callers must clone it.
    assert step() is step()


def test_graphed_step_falls_back_to_eager_when_the_capture_fails(caplog):
    class FailingGraph(FakeGraph):
        def capture(self, body):
            raise RuntimeError("operation not permitted when stream is capturing")

    calls, eager, body, zero = _counting_step()
    step = GraphedStep(eager, body, zero, warmup=1, graph_factory=FailingGraph)
    with caplog.at_level(logging.WARNING):
        values = [float(step()) for _ in range(4)]
    assert values == [1.0, 2.0, 3.0, 4.0] and calls["eager"] == 4
    assert not step.captured and "continuing without it" in caplog.text

    strict = GraphedStep(eager, body, zero, warmup=1, graph_factory=FailingGraph, fall_back=False)
    strict()
    with pytest.raises(RuntimeError, match="FastPath\\(cuda_graph=False\\)"):
        strict()


def test_a_failed_capture_names_the_first_error_not_only_the_capture_end(caplog):
    """A sync inside the capture invalidates it; ending the capture then raises its own,
    uninformative error while the first one is being handled."""

    class InvalidatedGraph(FakeGraph):
        def capture(self, body):
            try:
                raise RuntimeError("operation not permitted when stream is capturing")
            except RuntimeError:  # implicit chaining, as torch.cuda.graph's __exit__ does
                raise RuntimeError("operation failed due to a previous error during capture")  # noqa: B904

    _, eager, body, zero = _counting_step()
    step = GraphedStep(eager, body, zero, warmup=1, graph_factory=InvalidatedGraph)
    with caplog.at_level(logging.WARNING):
        step(), step()
    assert "not permitted when stream is capturing; then RuntimeError: operation failed" in (
        caplog.text
    )
    strict = GraphedStep(
        eager, body, zero, warmup=1, graph_factory=InvalidatedGraph, fall_back=False
    )
    strict()
    with pytest.raises(RuntimeError, match="not permitted when stream is capturing; then"):
        strict()


def test_graphed_step_needs_a_warmup_step():
    with pytest.raises(ValueError, match="warmup must be an int >= 1"):
        GraphedStep(lambda: torch.zeros(()), lambda: torch.zeros(()), lambda: None, warmup=0)


@pytest.mark.usefixtures("sgd_for_adam")
def test_graph_is_built_with_the_generators_the_transforms_draw_from(tape_graph):
    """A generator other than torch's default must be registered with the CUDA graph, or
    every replay would draw the numbers of the capture."""
    generator = torch.Generator().manual_seed(3)
    fused = opt.transforms.FusedTransformationRobustness(
        translate=(2, 2), final_translate=1, generator=generator
    )
    state = generator.get_state()
    with tape_graph(fuse=False) as graphs:
        history, _, _ = _render(None, steps=4, transform=nn.Sequential(nn.Identity(), fused))
    assert [graph.generators for graph in graphs] == [[generator]] and history.shape == (4,)
    assert not torch.equal(generator.get_state(), state)  # the step drew from it


@pytest.mark.usefixtures("sgd_for_adam")
def test_graph_branch_fuses_the_robustness_stack_for_the_run_only(tape_graph):
    model = _model()
    stack = opt.transforms.TransformationRobustness()
    seen: list[str] = []
    model[0].register_forward_pre_hook(lambda _m, args: seen.append(tuple(args[0].shape)))
    torch.manual_seed(1)
    image = opt.images.NaturalImage((SIZE, SIZE))
    run = opt.InputOptimization(model, opt.loss.ChannelActivation("4", 3), image, stack)
    with tape_graph(fuse=True):
        run.optimize(n_steps(4, show_progress=False))
    assert run.transform is stack  # restored
    assert set(seen) == {(1, 3, SIZE + 4, SIZE + 4)}  # fused: one static output size


@pytest.mark.usefixtures("sgd_for_adam")
def test_graph_branch_refuses_host_random_transforms(tape_graph, caplog):
    jitter = nn.Sequential(opt.transforms.RandomSpatialJitter(2))
    with caplog.at_level(logging.INFO), tape_graph(fuse=False, explicit=False) as graphs:
        history, _, _ = _render(None, steps=3, transform=jitter)
    assert history.shape == (3,) and not graphs  # ran eagerly
    assert "0 (RandomSpatialJitter: draws its randomness on the host)" in caplog.text


def test_explicit_graph_with_a_host_random_transform_is_an_error(tape_graph):
    with (
        tape_graph(fuse=False, explicit=True),
        pytest.raises(ValueError, match=r"RandomSpatialJitter.*FusedTransformationRobustness"),
    ):
        _render(None, steps=2, transform=opt.transforms.RandomSpatialJitter(2))


# --- graph safety --------------------------------------------------------------------------------


def test_graph_unsafe_modules_flags_host_randomness_and_unknown_modules():
    class ThirdParty(nn.Module):
        def forward(self, x):
            return x

    class DeclaredSafe(ThirdParty):
        graph_safe = True

    host = "draws its randomness on the host)"
    stack = opt.transforms.TransformationRobustness(translate=2)
    assert graph_unsafe_modules(stack) == [
        "<root> (TransformationRobustness: " + host,
        "jitter_transforms (RandomSpatialJitter: " + host,
        "random_scale (RandomScale: " + host,
        "random_rotation (RandomRotation: " + host,
        "final_jitter (RandomSpatialJitter: " + host,
    ]
    assert graph_unsafe_modules(opt.transforms.FusedTransformationRobustness()) == []
    assert graph_unsafe_modules(opt.images.NaturalImage((8, 8)), nn.Identity()) == []
    assert graph_unsafe_modules(nn.Sequential(ThirdParty(), DeclaredSafe())) == [
        "0 (ThirdParty: a third-party module not marked graph_safe = True)"
    ]
    assert graph_unsafe_modules(opt.transforms.BlendAlpha()) == []
    assert graph_unsafe_modules(opt.transforms.BlendAlpha(generator=torch.Generator())) == [
        "<root> (BlendAlpha: " + host
    ]


# --- progress bar --------------------------------------------------------------------------------


class _CountingValue:
    reads = 0

    def mean(self):
        _CountingValue.reads += 1
        return torch.tensor(1.0)


def test_progress_postfix_reads_the_loss_at_most_twice_a_second():
    stop = NSteps(200)
    history: list = []
    _CountingValue.reads = 0
    try:
        for step in range(201):
            stop(step, None, history, None)
            history.append(_CountingValue())
    finally:
        stop.close()
    # The first read and the last step's; the loop takes far less than POSTFIX_INTERVAL_S.
    assert 2 <= _CountingValue.reads <= 3


# --- on a GPU ------------------------------------------------------------------------------------

needs_cuda = pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")


def _spy_graphed_steps(monkeypatch) -> list[GraphedStep]:
    """The GraphedSteps that InputOptimization builds, kept to inspect after the run."""
    import optim.optimization.step_runner as io

    steps_made: list[GraphedStep] = []

    def spy(*args, **kwargs):
        steps_made.append(GraphedStep(*args, **kwargs))
        return steps_made[-1]

    monkeypatch.setattr(io, "GraphedStep", spy)
    return steps_made


@pytest.mark.gpu
@needs_cuda
def test_cuda_default_captures_the_step_and_improves_the_objective(monkeypatch):
    steps_made = _spy_graphed_steps(monkeypatch)
    model = _model().cuda()
    torch.manual_seed(1)
    image = opt.images.NaturalImage((64, 64), batch=4).cuda()
    stack = opt.transforms.TransformationRobustness()
    run = opt.InputOptimization(model, opt.loss.ChannelActivation("4", 3), image, stack)
    history = run.optimize(n_steps(40, show_progress=False), lr=0.05)
    assert steps_made and steps_made[0].captured and steps_made[0].failed is None
    assert history.shape == (40,) and len(set(history.tolist())) > 30
    assert history[-5:].mean() < history[:5].mean()
    assert run.transform is stack
    assert sum(len(m._forward_hooks) for m in model.modules()) == 0
    assert all(p.is_contiguous() and p.requires_grad for p in model.parameters())


@pytest.mark.gpu
@needs_cuda
def test_cuda_graph_with_bf16_and_fp16_runs():
    for precision in ("bf16", "fp16"):
        history, image, _ = _render(
            FastPath(autocast=precision, cuda_graph=True),
            steps=12,
            model=_model().cuda(),
            transform=opt.transforms.FusedTransformationRobustness().cuda(),
        )
        assert torch.isfinite(history).all() and torch.isfinite(image).all()


@pytest.mark.gpu
@needs_cuda
def test_explicit_cuda_graph_refuses_an_eager_random_transform_on_cuda():
    with pytest.raises(ValueError, match="cannot be replayed as a CUDA graph"):
        _render(
            FastPath(cuda_graph=True, fuse_transforms=False),
            steps=2,
            model=_model().cuda(),
        )


@pytest.mark.gpu
@needs_cuda
def test_cuda_graph_captures_with_a_transform_owning_a_cuda_generator(monkeypatch):
    """An unregistered generator would make the capture fail (explicit: raise)."""
    steps_made = _spy_graphed_steps(monkeypatch)
    generator = torch.Generator(device="cuda").manual_seed(0)
    fused = opt.transforms.FusedTransformationRobustness(generator=generator).cuda()
    torch.manual_seed(1)
    image = opt.images.NaturalImage((SIZE, SIZE), batch=2).cuda()
    run = opt.InputOptimization(_model().cuda(), opt.loss.ChannelActivation("4", 3), image, fused)
    history = run.optimize(
        n_steps(12, show_progress=False), lr=0.05, fast_path=FastPath(cuda_graph=True)
    )
    assert steps_made[0].captured and steps_made[0].failed is None
    assert history.shape == (12,) and torch.isfinite(history).all()
