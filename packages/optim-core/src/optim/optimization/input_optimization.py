"""InputOptimization: optimise an input parameterization to maximise an objective."""

from __future__ import annotations

import logging
import warnings
from collections.abc import Callable, Iterator, Sequence
from contextlib import AbstractContextManager, ExitStack, contextmanager, nullcontext
from functools import partial

import torch
from torch import nn

from optim.hooks.activations import model_device
from optim.hooks.output_hook import ModuleOutputsHook, run_until_targets
from optim.hooks.targets import Target, resolve_targets
from optim.loss.base import Loss
from optim.loss.summing import default_loss_summarize
from optim.optimization.fast_path import FastPath, ResolvedFastPath, graph_unsafe_modules
from optim.optimization.graphed_step import CudaGraph, GraphedStep, StepGraph, device_generators
from optim.optimization.model_settings import channels_last_parameters, frozen_parameters
from optim.optimization.stop_criteria import StopCriteria, n_steps

logger = logging.getLogger(__name__)

# Modules whose forward differs between train() and eval().
_MODE_DEPENDENT = (nn.modules.dropout._DropoutNd, nn.modules.batchnorm._NormBase)


def _default_input_param() -> nn.Module:
    from optim.images import NaturalImage

    return NaturalImage((224, 224))


def _default_transform() -> nn.Module:
    from optim.transforms import RandomScale, RandomSpatialJitter

    return nn.Sequential(RandomScale(scale=(1, 0.975, 1.025, 0.95, 1.05)), RandomSpatialJitter(16))


class InputOptimization:
    """Optimises ``input_param`` so that ``loss_function`` of the model's activations grows.

    The forward pass is ``input_param() -> transform -> model``; forward hooks on the
    objective's targets capture their outputs, and (with ``stop_early``) the pass stops as soon
    as every target has produced one. Hooks exist only while :meth:`optimize` (or
    :meth:`loss`) runs and are removed on every exit path.

    Args:
        model: The network; ``None`` means ``nn.Identity()`` (objectives on the image only).
        loss_function: An objective (``optim.loss.Loss``). Name targets are resolved with
            ``model.named_modules()``; module targets may also be the transform or the input
            parameterization.
        input_param: The input to optimise; default ``NaturalImage((224, 224))``. It (and the
            transform) are moved to the model's device.
        transform: Applied between the input and the model. ``None`` means the default
            ``RandomScale`` + ``RandomSpatialJitter(16)``; an empty ``nn.Sequential()`` means no
            transform at all.
        stop_early: Skip the layers after the last target (default True).

    Example:
        >>> import torch, torch.nn as nn
        >>> import optim as opt
        >>> model = nn.Sequential(nn.Conv2d(3, 4, 3), nn.ReLU()).eval()
        >>> image = opt.images.NaturalImage((32, 32))
        >>> obj = opt.InputOptimization(model, opt.loss.ChannelActivation("0", 1), image)
        >>> obj.optimize(opt.optimization.n_steps(4, show_progress=False)).shape
        torch.Size([4])
    """

    def __init__(
        self,
        model: nn.Module | None,
        loss_function: Loss | Callable[..., torch.Tensor],
        input_param: nn.Module | None = None,
        transform: nn.Module | None = None,
        *,
        stop_early: bool = True,
    ) -> None:
        if model is not None and not isinstance(model, nn.Module):
            raise TypeError(f"model must be an nn.Module or None, got {type(model).__name__}.")
        if not callable(loss_function) or not hasattr(loss_function, "target"):
            raise TypeError(
                "loss_function must be an objective with a `target` attribute, such as "
                f"opt.loss.ChannelActivation(model.layer, 0); got {type(loss_function).__name__}."
            )
        for name, module in (("input_param", input_param), ("transform", transform)):
            if module is not None and not isinstance(module, nn.Module):
                raise TypeError(
                    f"{name} must be an nn.Module or None, got {type(module).__name__}."
                )
        self.model: nn.Module = model if model is not None else nn.Identity()
        self._model_given = model is not None
        self.loss_function = loss_function
        self.input_param = input_param if input_param is not None else _default_input_param()
        self.transform = transform if transform is not None else _default_transform()
        self.stop_early = stop_early
        self.hooks: ModuleOutputsHook | None = None
        self._fast: ResolvedFastPath | None = None  # set while optimize() runs
        self._resolved: dict[Target, nn.Module] = {}
        self.targets = loss_function.target
        device = model_device(self.model)
        if device is not None:
            self.input_param.to(device)
            self.transform.to(device)

    @property
    def targets(self) -> list[nn.Module]:
        """The hooked modules (name targets resolved against the model)."""
        return list(dict.fromkeys(self._resolved.values()))

    @targets.setter
    def targets(self, value: Target | list[Target]) -> None:
        resolved = resolve_targets(self.model, value)
        if not resolved:
            raise ValueError(
                "The objective has no target. Give it a module or a layer name, e.g. "
                "opt.loss.ChannelActivation('layer3', 0)."
            )
        self._resolved = resolved

    def parameters(self) -> Iterator[nn.Parameter]:
        """The parameters being optimised: those of ``input_param``."""
        return self.input_param.parameters()

    @contextmanager
    def _hooked(self) -> Iterator[ModuleOutputsHook]:
        if self.hooks is not None:
            yield self.hooks
            return
        hooks = ModuleOutputsHook(self.targets, stop_when_ready=self.stop_early)
        try:
            yield hooks
        finally:
            hooks.remove_hooks()

    def _forward(self) -> None:
        image = self.input_param()
        if isinstance(image, torch.Tensor) and type(image) is not torch.Tensor:
            # Tensor subclasses (ImageTensor) dispatch every op through Python; the transforms
            # and the model only need the data, so drop the subclass (the graph is kept).
            image = image.as_subclass(torch.Tensor)
        if self.transform is not None:
            image = self.transform(image)
        fast = self._fast
        if fast is not None and fast.channels_last and image.dim() == 4:
            image = image.contiguous(memory_format=torch.channels_last)
        with self._autocast():
            self.model(image)

    def _autocast(self) -> AbstractContextManager[object]:
        fast = self._fast
        if fast is None or fast.autocast_dtype is None:
            return nullcontext()
        # A CUDA graph must not keep autocast's cached weight casts across the capture.
        return torch.autocast(
            fast.device.type, dtype=fast.autocast_dtype, cache_enabled=not fast.cuda_graph
        )

    def loss(self) -> torch.Tensor:
        """Run one forward pass and return the objective's unreduced value.

        Example:
            >>> import torch.nn as nn
            >>> import optim as opt
            >>> model = nn.Sequential(nn.Conv2d(3, 2, 1)).eval()
            >>> image = opt.images.NaturalImage((32, 32))
            >>> no_tf = nn.Sequential()
            >>> obj = opt.InputOptimization(model, opt.loss.LayerActivation("0"), image, no_tf)
            >>> obj.loss().shape
            torch.Size([1, 2, 32, 32])
        """
        with self._hooked() as hooks:
            outputs = run_until_targets(self._forward, hooks)
        if self._fast is not None and self._fast.autocast_dtype is not None:
            # The model ran in reduced precision; the objective is computed in float32.
            outputs = {m: _to_float32(out) for m, out in outputs.items()}
        values: dict[Target, torch.Tensor | None] = dict(outputs)
        values.update({given: outputs[module] for given, module in self._resolved.items()})
        return self.loss_function(values)

    def _warn_if_training(self) -> None:
        if not self._model_given or not self.model.training:
            return
        if any(isinstance(m, _MODE_DEPENDENT) for m in self.model.modules()):
            warnings.warn(
                f"{type(self.model).__name__} is in training mode, so dropout and batch "
                "normalisation behave as in training (and batch-norm statistics get updated). "
                "Call model.eval() before rendering.",
                stacklevel=3,
            )

    def optimize(
        self,
        stop_criteria: StopCriteria | None = None,
        optimizer: torch.optim.Optimizer | None = None,
        loss_summarize_fn: Callable[[torch.Tensor], torch.Tensor] | None = None,
        lr: float = 0.025,
        fast_path: FastPath | None = None,
    ) -> torch.Tensor:
        """Optimise the input until ``stop_criteria`` says stop.

        Each step: ``zero_grad``, ``loss_summarize_fn(self.loss())``, record it, ``backward``,
        ``optimizer.step()``. Ctrl-C (KeyboardInterrupt) ends the loop early and returns the
        history so far, with the input left at its last state.

        Args:
            stop_criteria: Default ``n_steps(512)``.
            optimizer: Default ``torch.optim.Adam(self.parameters(), lr=lr)`` (``capturable``
                when the step is replayed as a CUDA graph).
            loss_summarize_fn: Turns the objective into the scalar to minimise; default
                :func:`optim.loss.default_loss_summarize` (``-mean``).
            lr: Learning rate of the default optimizer.
            fast_path: The GPU switches (channels_last, autocast, CUDA graph, frozen model
                parameters); default ``FastPath()``, which changes nothing on CPU except
                that the model's own parameters get no gradients. ``FastPath.off()`` is the
                plain loop.

        Returns:
            The summarised value of every completed step, shape ``[steps]`` (or
            ``[steps, ...]`` for a non-scalar summary).

        Raises:
            RuntimeError: If the objective becomes NaN or infinite; names the step.
        """
        if stop_criteria is None:
            stop_criteria = n_steps(512)
        if fast_path is None:
            fast_path = FastPath()
        elif not isinstance(fast_path, FastPath):
            raise TypeError(
                f"fast_path must be an optim.optimization.FastPath, got {type(fast_path).__name__}."
            )
        if optimizer is None and (not isinstance(lr, int | float) or lr <= 0):
            raise ValueError(f"lr must be a positive number, got {lr!r}.")
        fast = fast_path.resolve(model_device(self.model) or model_device(self.input_param))
        summarize = loss_summarize_fn if loss_summarize_fn is not None else default_loss_summarize
        return self._optimize(stop_criteria, optimizer, summarize, lr, fast)

    def _optimize(
        self,
        stop_criteria: StopCriteria,
        optimizer: torch.optim.Optimizer | None,
        summarize: Callable[[torch.Tensor], torch.Tensor],
        lr: float,
        fast: ResolvedFastPath,
        graph_factory: Callable[[Sequence[torch.Generator]], StepGraph] | None = None,
    ) -> torch.Tensor:
        """:meth:`optimize` with its settings resolved.

        ``graph_factory(generators)`` builds the graph (default :class:`CudaGraph`); it gets
        the random generators on the step's device that the image and transforms hold.
        """
        self._warn_if_training()
        history: list[torch.Tensor] = []
        checked = 0  # history entries already checked for NaN/inf
        params = list(self.parameters())
        original_transform = self.transform
        with ExitStack() as stack:
            stack.callback(self._end_run, original_transform, stop_criteria)
            if fast.freeze_model:
                stack.enter_context(frozen_parameters(self.model, keep=params))
            if fast.channels_last:
                stack.enter_context(channels_last_parameters(self.model))
            graph = fast.cuda_graph and self._prepare_graph(fast, optimizer)
            if optimizer is None:
                optimizer = torch.optim.Adam(params, lr=lr, capturable=graph)
            self._fast = fast
            self.hooks = ModuleOutputsHook(self.targets, stop_when_ready=self.stop_early)
            # Idle between passes: stop criteria may call the hooked image or layers freely.
            self.hooks.enabled = False
            # On CPU the check is free: do it before each update, so that the input keeps its
            # last finite state. Elsewhere it waits for the device, so it runs every few steps.
            check_inline = fast.check_finite_every == 1 and not graph
            step_fn = self._step_function(
                fast,
                self._graph_factory(fast, graph_factory) if graph else None,
                optimizer,
                params,
                summarize,
                history if check_inline else None,
            )
            step = 0
            try:
                while stop_criteria(step, self, history, optimizer):
                    history.append(step_fn().detach().clone())
                    step += 1
                    if not check_inline and step - checked >= fast.check_finite_every:
                        checked = _check_finite(history, checked)
            except KeyboardInterrupt:
                logger.warning(
                    "Optimisation interrupted after %d steps; returning the history.", step
                )
            if not check_inline:
                _check_finite(history, checked)
        if not history:
            return torch.empty(0)
        return torch.stack(history)

    def _step_function(
        self,
        fast: ResolvedFastPath,
        graph_factory: Callable[[], StepGraph] | None,
        optimizer: torch.optim.Optimizer,
        params: list[nn.Parameter],
        summarize: Callable[[torch.Tensor], torch.Tensor],
        check_against: list[torch.Tensor] | None,
    ) -> Callable[[], torch.Tensor]:
        """The callable running one step and returning its summarised value.

        With ``graph_factory``, the step is replayed from a graph after the warm-up steps. With
        ``check_against`` (the history), each value is checked before the update.
        """
        scale = fast.loss_scale

        def body() -> torch.Tensor:
            value = summarize(self.loss())
            if check_against is not None and not bool(torch.isfinite(value).all()):
                _raise_not_finite(len(check_against), value)
            (value * scale if scale != 1.0 else value).backward()
            if scale != 1.0:
                for param in params:
                    if param.grad is not None:
                        param.grad.div_(scale)
            optimizer.step()
            return value

        def eager_step() -> torch.Tensor:
            optimizer.zero_grad()
            return body()

        if graph_factory is None:
            return eager_step
        return GraphedStep(
            eager_step,
            body,
            lambda: optimizer.zero_grad(set_to_none=True),
            warmup=max(1, fast.warmup_steps),
            graph_factory=graph_factory,
            fall_back=not fast.cuda_graph_explicit,
        )

    def _graph_factory(
        self,
        fast: ResolvedFastPath,
        factory: Callable[[Sequence[torch.Generator]], StepGraph] | None,
    ) -> Callable[[], StepGraph]:
        """The graph builder for this run, given the generators the step draws from."""
        generators = device_generators(fast.device, self.transform, self.input_param)
        return partial(factory or CudaGraph, generators)

    def _prepare_graph(
        self, fast: ResolvedFastPath, optimizer: torch.optim.Optimizer | None
    ) -> bool:
        """Make the step graph-safe if possible (fusing the transforms); True when it is."""
        if fast.fuse_transforms:
            self.transform = _fused(self.transform).to(fast.device)
        problems = [
            f"{name} (draws its randomness on the host)"
            for name in graph_unsafe_modules(self.transform, self.input_param)
        ]
        if optimizer is not None and not optimizer.defaults.get("capturable", False):
            problems.append(
                f"the optimizer {type(optimizer).__name__} is not capturable (build it with "
                "capturable=True)"
            )
        if not problems:
            return True
        message = "The step cannot be replayed as a CUDA graph: " + "; ".join(problems) + "."
        if fast.cuda_graph_explicit:
            raise ValueError(
                message + " Use FusedTransformationRobustness (or mark a module that draws on "
                "the device with graph_safe = True), or FastPath(cuda_graph=False)."
            )
        logger.info("%s Running the steps eagerly.", message)
        return False

    def _end_run(self, transform: nn.Module, stop_criteria: StopCriteria) -> None:
        self.cleanup()
        self._fast = None
        self.transform = transform
        close = getattr(stop_criteria, "close", None)
        if callable(close):
            close()

    def cleanup(self) -> None:
        """Remove the hooks, if any are registered (safe to call at any time)."""
        if self.hooks is not None:
            self.hooks.remove_hooks()
            self.hooks = None


def _to_float32(output: object) -> object:
    if isinstance(output, torch.Tensor) and output.dtype in (torch.float16, torch.bfloat16):
        return output.float()
    return output


def _fused(transform: nn.Module) -> nn.Module:
    """``transform`` with each TransformationRobustness replaced by its fused equivalent."""
    from optim.transforms import FusedTransformationRobustness, TransformationRobustness

    def convert(module: nn.Module) -> nn.Module:
        if isinstance(module, TransformationRobustness):
            try:
                return FusedTransformationRobustness.from_stack(module)
            except ValueError as exc:
                logger.info("Keeping %s unfused: %s", type(module).__name__, exc)
        return module

    if isinstance(transform, nn.Sequential):
        converted = [convert(m) for m in transform]
        if any(new is not old for new, old in zip(converted, transform, strict=True)):
            return nn.Sequential(*converted)
        return transform
    return convert(transform)


def _check_finite(history: list[torch.Tensor], start: int) -> int:
    """Raise if an entry of ``history[start:]`` is not finite; returns ``len(history)``.

    One host synchronisation for the whole window; the error names the first bad step.
    """
    window = history[start:]
    if not window or window[0].device.type == "meta":  # meta tensors have no values to check
        return len(history)
    finite = torch.stack([torch.isfinite(v).all() for v in window])
    if not bool(finite.all()):
        bad = int((~finite).nonzero()[0, 0])
        _raise_not_finite(start + bad, window[bad])
    return len(history)


def _raise_not_finite(step: int, value: torch.Tensor) -> None:
    raise RuntimeError(
        f"The objective is not finite at step {step} (value {value.tolist()}). "
        "Lower the learning rate, or check the objective for divisions by zero "
        "and for a model producing NaN."
    )
