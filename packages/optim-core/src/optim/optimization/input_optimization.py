"""InputOptimization: optimise an input parameterization to maximise an objective."""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, ExitStack, contextmanager
from dataclasses import replace
from functools import partial

import torch
from torch import nn

from optim.checks import check_real
from optim.hooks.activations import model_device
from optim.hooks.output_hook import ModuleOutputsHook, run_until_targets
from optim.hooks.targets import Target, resolve_targets
from optim.loss.base import Loss
from optim.loss.summing import default_loss_summarize
from optim.optimization.fast_path import FastPath, ResolvedFastPath
from optim.optimization.finite_check import FiniteCheck
from optim.optimization.fold_batchnorm import Pair, folded_batchnorm
from optim.optimization.model_settings import frozen_parameters, warn_if_training
from optim.optimization.run_report import RunReport
from optim.optimization.step_runner import EagerRunner, Summarize, runner_for
from optim.optimization.stop_criteria import StopCriteria, n_steps

logger = logging.getLogger(__name__)


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
        if input_param is None:
            from optim.images import NaturalImage

            input_param = NaturalImage((224, 224))
        if transform is None:
            from optim.transforms import default_transform

            transform = default_transform()
        self.input_param, self.transform = input_param, transform
        self.stop_early = stop_early
        self.hooks: ModuleOutputsHook | None = None
        self.last_run: RunReport | None = None  # what the last optimize() actually ran
        self._interrupted = False  # the current run ended with Ctrl-C
        self._folded = 0  # batch norms folded for the current run
        self._runner = EagerRunner()  # replaced while optimize() runs
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
        if isinstance(image, torch.Tensor) and image.dim() == 3:  # channels would read as rows
            raise ValueError(
                f"input_param returned a 3-D image {list(image.shape)}; images are "
                "[batch, channels, height, width]: add the batch dimension (image[None])."
            )
        if isinstance(image, torch.Tensor) and type(image) is not torch.Tensor:
            # Tensor subclasses (ImageTensor) dispatch every op through Python; the transforms
            # and the model only need the data, so drop the subclass (the graph is kept).
            image = image.as_subclass(torch.Tensor)
        if self.transform is not None:
            image = self.transform(image)
        self._runner.forward(self.model, image)

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
            outputs = self._runner.outputs(run_until_targets(self._forward, hooks))
        values: dict[Target, torch.Tensor | None] = {module: out for module, out in outputs.items()}
        values.update({given: outputs[module] for given, module in self._resolved.items()})
        return self.loss_function(values)

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
        history so far, with the input left at its last state. Afterwards, also after an
        error, :attr:`last_run` says what ran (:class:`~optim.optimization.RunReport`).

        Args:
            stop_criteria: Default ``n_steps(512)``.
            optimizer: Default ``torch.optim.Adam(self.parameters(), lr=lr)`` (``capturable``
                when the step is replayed as a CUDA graph).
            loss_summarize_fn: Turns the objective into the scalar to minimise; default
                :func:`optim.loss.default_loss_summarize` (``-mean``).
            lr: Learning rate of the default optimizer.
            fast_path: The loop options (frozen model parameters, folded batch norms, NaN
                checks), the fused transforms and the GPU switches (channels_last, autocast,
                CUDA graph); default ``FastPath()``, which on CPU freezes the model's own
                parameters, folds its batch norms and fuses ``TransformationRobustness`` into
                one warp. ``FastPath.off()`` is the plain loop. A step replayed as a CUDA
                graph has a contract: see :mod:`optim.optimization.step_runner`.

        Returns:
            The summarised value (the loss minimised: ``-objective`` with the default summary;
            renders report the objective) of every completed step, shape ``[steps]``.

        Raises:
            NotFiniteError: the objective or its gradient became NaN/inf (names the step;
                the input keeps its last good state).
        """
        self.last_run = None
        if stop_criteria is None:
            stop_criteria = n_steps(512)
        if fast_path is None:
            fast_path = FastPath()
        elif not isinstance(fast_path, FastPath):
            raise TypeError(
                f"fast_path must be an optim.optimization.FastPath, got {type(fast_path).__name__}."
            )
        if optimizer is None:
            check_real(lr, "lr", above=0)
        fast = fast_path.resolve(model_device(self.model) or model_device(self.input_param))
        summarize = loss_summarize_fn if loss_summarize_fn is not None else default_loss_summarize
        return self._optimize(stop_criteria, optimizer, summarize, lr, fast, runner_for(fast))

    def _optimize(
        self,
        stop_criteria: StopCriteria,
        optimizer: torch.optim.Optimizer | None,
        summarize: Summarize,
        lr: float,
        fast: ResolvedFastPath,
        runner: EagerRunner,
    ) -> torch.Tensor:
        """:meth:`optimize` with its settings resolved; ``runner`` runs the steps."""
        if self._model_given:
            warn_if_training(self.model)
        history: list[torch.Tensor] = []
        params = list(self.parameters())
        self._runner = runner
        with ExitStack() as stack:
            stack.callback(self._end_run, self.transform, stop_criteria, fast, history)
            if fast.freeze_model:
                stack.enter_context(frozen_parameters(self.model, keep=params))
            self._folded = 0
            if fast.fold_batchnorm and self._model_given:
                self._folded = len(stack.enter_context(self._folded_batchnorm()))
            self.transform = runner.prepare(self.model, self.transform, self.input_param, optimizer)
            if optimizer is None:
                optimizer = torch.optim.Adam(params, lr=lr, capturable=runner.captures)
            stack.enter_context(runner.running(self.model, params))
            self.hooks = ModuleOutputsHook(self.targets, stop_when_ready=self.stop_early)
            # Idle between passes: stop criteria may call the hooked image or layers freely.
            self.hooks.enabled = False
            # Inline checks read the value back: not in a step that may be captured.
            inline = fast.check_finite_every == 1 and not runner.captures
            finite = FiniteCheck(history, fast.check_finite_every, inline)
            summarize = runner.summarize(summarize)
            step = runner.stepper(
                partial(self._step, optimizer, summarize, finite, params), optimizer
            )
            self._interrupted = False
            try:
                while stop_criteria(len(history), self, history, optimizer):
                    history.append(step().detach().clone())
                    finite.after_step()
            except KeyboardInterrupt:
                self._interrupted = True  # reported in last_run; the caller decides what next
                logger.warning("Interrupted after %d steps; returning the history.", len(history))
            finite.finish()
        return torch.stack(history) if history else torch.empty(0)

    def _folded_batchnorm(self) -> AbstractContextManager[list[Pair]]:
        """Batch norms folded for the run, found and checked on the untransformed image."""
        with torch.no_grad():
            probe = self.input_param()
        if isinstance(probe, torch.Tensor) and type(probe) is not torch.Tensor:
            probe = probe.as_subclass(torch.Tensor)
        return folded_batchnorm(self.model, probe.detach(), targets=self.targets)

    def _step(
        self,
        optimizer: torch.optim.Optimizer,
        summarize: Summarize,
        finite: FiniteCheck,
        params: list[nn.Parameter],
    ) -> torch.Tensor:
        """One optimisation step; returns the summarised objective before the update."""
        optimizer.zero_grad()
        value = summarize(self.loss())
        value.backward()
        finite.before_update(value, params)  # a non-finite step is never applied
        optimizer.step()
        finite.after_update(params)
        return value

    def _end_run(
        self,
        transform: nn.Module,
        stop_criteria: StopCriteria,
        fast: ResolvedFastPath,
        history: list[torch.Tensor],
    ) -> None:
        report = self._runner.report(len(history), loop=fast)
        self.last_run = replace(
            report, interrupted=self._interrupted, folded_batchnorms=self._folded
        )
        self.cleanup()
        self._runner = EagerRunner()
        self.transform = transform
        close = getattr(stop_criteria, "close", None)
        if callable(close):
            close()

    def cleanup(self) -> None:
        """Remove the hooks, if any are registered (safe to call at any time)."""
        if self.hooks is not None:
            self.hooks.remove_hooks()
            self.hooks = None
