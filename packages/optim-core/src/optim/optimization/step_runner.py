"""Step runners: how the optimisation loop's step is executed; the GPU machinery lives here.

:class:`~optim.optimization.InputOptimization` writes one step as plain PyTorch
(``optimizer.zero_grad()``, ``value = summarize(self.loss())``, ``value.backward()``,
``optimizer.step()``) and hands it to a runner. :class:`EagerRunner` calls it as written.
:class:`FastRunner` runs the same step with the GPU switches of a resolved
:class:`~optim.optimization.FastPath`: the model on channels-last input and weights, under
``torch.autocast``, a fixed loss scale for float16, the ``TransformationRobustness`` stack
fused into one warp drawn on the device, and, after a few eager warm-up steps, the whole step
captured as a CUDA graph and replayed (:class:`~optim.optimization.graphed_step.GraphedStep`).

Contract for the code inside a step (image, transforms, model, objective, summary), once the
step may be captured (``FastRunner.captures``):

* No host synchronisation: no ``.item()``, ``bool(tensor)`` / ``if tensor:``, ``.tolist()``,
  no CPU tensor copied to the GPU (``torch.tensor(...)`` or a CPU buffer ``.to(device)`` in a
  forward), no data-dependent shapes (boolean masks, ``nonzero``, ``unique``). The capture
  then fails: in auto mode the run logs why and stays eager, with ``cuda_graph=True`` it
  raises. :func:`~optim.optimization.assert_step_capturable` finds them on any machine.
* Python side effects run during the warm-up steps and once at the capture, never on a
  replay: objective callbacks, summary functions, appends to Python lists, counters. A
  replay runs the recorded kernels only. Record per-step values with
  :class:`~optim.optimization.StepRecord` (tensor operations, replayed with the step).
* The optimizer's hyper-parameters are frozen at the capture. Capturable Adam passes a float
  ``lr`` to its kernels as a constant, so every replay uses the ``lr`` that
  ``optimizer.param_groups`` held when the step was captured (the first step after the
  warm-up); setting ``param_groups[i]["lr"]`` on the host afterwards, by hand or with an lr
  scheduler, changes nothing (the run warns once). Changes during the warm-up do apply. To
  change it during a graphed run, build Adam with ``lr`` as a 1-element tensor on the step's
  device and update that in place (``lr.fill_(new)``): a tensor lr is read on every replay.
* Stop criteria run on the host between steps, i.e. between replays: they are never
  captured, see each step's value (a clone) in the history, and may run the hooked model.
  So does the loop's NaN/inf check, every ``check_finite_every`` steps, after the update.

Example:
    >>> import torch
    >>> from optim.optimization.fast_path import FastPath
    >>> type(runner_for(FastPath.off().resolve(torch.device("cpu")))).__name__
    'EagerRunner'
    >>> type(runner_for(FastPath().resolve(torch.device("cpu")))).__name__  # fuses transforms
    'FastRunner'
    >>> type(runner_for(FastPath(autocast="bf16").resolve(torch.device("cpu")))).__name__
    'FastRunner'
"""

from __future__ import annotations

import logging
import warnings
from collections.abc import Callable, Iterator, Sequence
from contextlib import AbstractContextManager, ExitStack, contextmanager, nullcontext
from functools import partial

import torch
from torch import nn

from optim.hooks.output_hook import ModuleOutputMapping
from optim.optimization.fast_path import ResolvedFastPath, graph_unsafe_modules
from optim.optimization.graphed_step import CudaGraph, GraphedStep, StepGraph, device_generators
from optim.optimization.model_settings import channels_last_parameters
from optim.optimization.run_report import RunReport

__all__ = ["EagerRunner", "FastRunner", "runner_for"]

logger = logging.getLogger(__name__)

Step = Callable[[], torch.Tensor]
Summarize = Callable[[torch.Tensor], torch.Tensor]
Outputs = ModuleOutputMapping  # hooked module -> its output (None: not reached)


class EagerRunner:
    """Runs the loop's step as written, one Python call per step. The base of every runner.

    The loop calls, in this order: :meth:`prepare` (may swap the transform), builds the
    default optimizer (``capturable=runner.captures``), enters :meth:`running`, wraps its
    summary with :meth:`summarize` and its step with :meth:`stepper`; inside each forward
    pass it calls :meth:`forward` and :meth:`outputs`; at the end :meth:`report`.

    Args:
        device: the device the steps run on (reported only).

    Example:
        >>> runner = EagerRunner()
        >>> runner.stepper(lambda: torch.zeros(()), optimizer=None)()
        tensor(0.)
    """

    #: the step may be captured as a graph: code in it must not read values back to the host
    captures = False

    def __init__(self, device: torch.device | None = None) -> None:
        self.device = torch.device("cpu") if device is None else torch.device(device)

    def prepare(
        self,
        model: nn.Module,
        transform: nn.Module,
        input_param: nn.Module,
        optimizer: torch.optim.Optimizer | None,
    ) -> nn.Module:
        """Get ready for a run; returns the transform to run it with (restored afterwards)."""
        return transform

    def running(self, model: nn.Module, params: Sequence[nn.Parameter]) -> AbstractContextManager:
        """Temporary changes to the model and the optimised ``params`` for the run."""
        return nullcontext()

    def forward(self, model: nn.Module, image: torch.Tensor) -> None:
        """Run ``model`` on the transformed image (hooks collect the targets' outputs)."""
        model(image)

    def outputs(self, outputs: Outputs) -> Outputs:
        """The hooked outputs as the objective should see them."""
        return outputs

    def summarize(self, summarize: Summarize) -> Summarize:
        """The summary whose value the step backpropagates."""
        return summarize

    def stepper(self, step: Step, optimizer: torch.optim.Optimizer | None) -> Step:
        """The callable the loop calls once per step; returns that step's value."""
        return step

    def report(self, steps: int, loop: ResolvedFastPath) -> RunReport:
        """What ran: ``steps`` completed steps; ``loop`` has the loop options it ran with."""
        return RunReport(
            device=str(self.device),
            freeze_model=loop.freeze_model,
            check_finite_every=loop.check_finite_every,
            eager_steps=steps,
        )


class FastRunner(EagerRunner):
    """Runs the step with a :class:`~optim.optimization.fast_path.ResolvedFastPath`'s GPU
    switches: channels_last, autocast, the float16 loss scale, fused transforms, CUDA graph.

    Args:
        fast: the resolved settings (the loop options in it are the loop's business).
        graph_factory: ``graph_factory(generators)`` builds the graph; default
            :class:`~optim.optimization.graphed_step.CudaGraph`. It gets the random generators
            on the step's device that the image and transforms hold.

    Example:
        >>> from optim.optimization.fast_path import FastPath
        >>> runner = FastRunner(FastPath(autocast="fp16").resolve(torch.device("cpu")))
        >>> runner.loss_scale
        4096.0
    """

    def __init__(
        self,
        fast: ResolvedFastPath,
        graph_factory: Callable[[Sequence[torch.Generator]], StepGraph] | None = None,
    ) -> None:
        super().__init__(fast.device)
        self.fast = fast
        self.loss_scale = fast.loss_scale
        self.captures = False  # decided by prepare()
        self.fused = False  # a transform was replaced by its fused version
        self._graph_factory = graph_factory
        self._generators: list[torch.Generator] = []
        self._graphed: GraphedStep | None = None

    def prepare(
        self,
        model: nn.Module,
        transform: nn.Module,
        input_param: nn.Module,
        optimizer: torch.optim.Optimizer | None,
    ) -> nn.Module:
        """Fuse the transforms and decide whether the step can be captured."""
        if self.fast.fuse_transforms:
            # In a CUDA graph shapes are fixed: a fixed canvas, each image its own draws. Eager
            # steps keep the eager stack's geometry: one draw per batch sizes the canvas.
            graph = self.fast.cuda_graph
            fused = fuse_transforms(transform, per_sample=graph, resize_canvas=not graph)
            self.fused = fused is not transform
            transform = fused.to(self.device)
        if not self.fast.cuda_graph:
            return transform
        problems = graph_unsafe_modules(transform, input_param)
        if optimizer is not None and not optimizer.defaults.get("capturable", False):
            problems.append(
                f"the optimizer {type(optimizer).__name__} is not capturable (build it with "
                "capturable=True)"
            )
        if problems:
            message = "The step cannot be replayed as a CUDA graph: " + "; ".join(problems) + "."
            if self.fast.cuda_graph_explicit:
                raise ValueError(
                    message + " Use FusedTransformationRobustness (or mark a module that draws "
                    "on the device with graph_safe = True), or FastPath(cuda_graph=False)."
                )
            logger.info("%s Running the steps eagerly.", message)
            return transform
        self.captures = True
        self._generators = device_generators(self.device, transform, input_param)
        return transform

    @contextmanager
    def running(self, model: nn.Module, params: Sequence[nn.Parameter]) -> Iterator[None]:
        """channels_last weights, and the loss scale taken off each gradient of ``params``."""
        with ExitStack() as stack:
            if self.fast.channels_last:
                stack.enter_context(channels_last_parameters(model))
            if self.loss_scale != 1.0:
                for param in params:
                    if param.requires_grad:
                        handle = param.register_post_accumulate_grad_hook(self._unscale)
                        stack.callback(handle.remove)
            yield

    def _unscale(self, param: torch.Tensor) -> None:
        if param.grad is not None:
            param.grad.div_(self.loss_scale)

    def forward(self, model: nn.Module, image: torch.Tensor) -> None:
        if self.fast.channels_last and image.dim() == 4:
            image = image.contiguous(memory_format=torch.channels_last)
        dtype = self.fast.autocast_dtype
        if dtype is None:
            model(image)
            return
        # A CUDA graph must not keep autocast's cached weight casts across the capture.
        with torch.autocast(self.device.type, dtype=dtype, cache_enabled=not self.captures):
            model(image)

    def outputs(self, outputs: Outputs) -> Outputs:
        """The model ran in reduced precision; the objective is computed in float32."""
        if self.fast.autocast_dtype is None:
            return outputs
        return {module: _to_float32(output) for module, output in outputs.items()}

    def summarize(self, summarize: Summarize) -> Summarize:
        """float16: the summary's gradient is scaled, so that small activation gradients do
        not vanish in float16; ``running`` divides the parameters' gradients again."""
        if self.loss_scale == 1.0:
            return summarize
        return partial(_scaled_gradient, summarize, self.loss_scale)

    def stepper(self, step: Step, optimizer: torch.optim.Optimizer | None) -> Step:
        """Eager steps, or ``warmup_steps`` eager ones then a captured graph replayed."""
        if not self.captures or optimizer is None:
            return step
        self._graphed = GraphedStep(
            step,
            step,  # its zero_grad() finds no gradient at the capture: nothing to record
            partial(optimizer.zero_grad, set_to_none=True),
            warmup=max(1, self.fast.warmup_steps),
            graph_factory=partial(self._graph_factory or CudaGraph, self._generators),
            fall_back=not self.fast.cuda_graph_explicit,
        )
        return _LrWatch(self._graphed, optimizer)

    def report(self, steps: int, loop: ResolvedFastPath) -> RunReport:
        replayed = min(steps, self._graphed.replayed) if self._graphed is not None else 0
        return RunReport(
            device=str(self.device),
            cuda_graph=replayed > 0,
            fused_transforms=self.fused,
            autocast=self.fast.precision,
            channels_last=self.fast.channels_last,
            freeze_model=loop.freeze_model,
            check_finite_every=loop.check_finite_every,
            loss_scale=self.loss_scale,
            eager_steps=steps - replayed,
            replayed_steps=replayed,
        )


def runner_for(fast: ResolvedFastPath) -> EagerRunner:
    """:class:`EagerRunner` when no switch is on, else :class:`FastRunner`."""
    switches = (fast.channels_last, fast.autocast_dtype is not None, fast.cuda_graph)
    if any(switches) or fast.fuse_transforms:
        return FastRunner(fast)
    return EagerRunner(fast.device)


def fuse_transforms(
    transform: nn.Module, *, per_sample: bool = True, resize_canvas: bool = False
) -> nn.Module:
    """``transform`` with each ``TransformationRobustness`` replaced by its fused equivalent
    (a ``Sequential`` is searched one level deep); ``transform`` itself when none was.
    ``per_sample`` and ``resize_canvas`` are passed to
    :meth:`~optim.transforms.FusedTransformationRobustness.from_stack`.

    Example:
        >>> from optim.transforms import TransformationRobustness
        >>> type(fuse_transforms(TransformationRobustness())).__name__
        'FusedTransformationRobustness'
    """
    from optim.transforms import FusedTransformationRobustness, TransformationRobustness

    def convert(module: nn.Module) -> nn.Module:
        if isinstance(module, TransformationRobustness):
            try:
                return FusedTransformationRobustness.from_stack(
                    module, per_sample=per_sample, resize_canvas=resize_canvas
                )
            except ValueError as exc:
                logger.info("Keeping %s unfused: %s", type(module).__name__, exc)
        return module

    if isinstance(transform, nn.Sequential):
        converted = [convert(m) for m in transform]
        if any(new is not old for new, old in zip(converted, transform, strict=True)):
            return nn.Sequential(*converted)
        return transform
    return convert(transform)


def _to_float32(output: torch.Tensor | None) -> torch.Tensor | None:
    if isinstance(output, torch.Tensor) and output.dtype in (torch.float16, torch.bfloat16):
        return output.float()
    return output


def _scaled_gradient(summarize: Summarize, scale: float, values: torch.Tensor) -> torch.Tensor:
    """``summarize(values)``, whose gradient is multiplied by ``scale`` on the way back."""
    value = summarize(values)
    if value.requires_grad:
        value.register_hook(lambda grad: grad * scale)
    return value


class _LrWatch:
    """Calls ``graphed``; warns once when a float lr of ``optimizer`` changes after the capture
    (the replays keep the captured one). Tensor lrs are not read: no host sync."""

    def __init__(self, graphed: GraphedStep, optimizer: torch.optim.Optimizer) -> None:
        self.graphed = graphed
        self.optimizer = optimizer
        self._captured: list[float | None] | None = None
        self._warned = False

    def __call__(self) -> torch.Tensor:
        value = self.graphed()
        if self.graphed.captured and not self._warned:
            lrs = [
                None if isinstance(group["lr"], torch.Tensor) else group["lr"]
                for group in self.optimizer.param_groups
            ]
            if self._captured is None:
                self._captured = lrs
            elif lrs != self._captured:
                self._warned = True
                warnings.warn(
                    f"The optimizer's lr changed from {self._captured} to {lrs} after the step "
                    "was captured as a CUDA graph; the replayed steps keep the captured lr. "
                    "Use a 1-element tensor lr on the device, or FastPath(cuda_graph=False).",
                    stacklevel=3,
                )
        return value
