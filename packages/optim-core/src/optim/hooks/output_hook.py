"""Forward hooks that capture the outputs of target modules, and stop the pass early."""

from __future__ import annotations

import contextlib
import warnings
import weakref
from collections.abc import Callable, Iterable
from typing import Any

import torch
from torch import nn
from torch.utils.hooks import RemovableHandle

ModuleOutputMapping = dict[nn.Module, torch.Tensor | None]
"""``{module: its output during the last forward pass}``, ``None`` before it fires."""


class TargetsReached(Exception):
    """Raised from the last target's hook to abandon the rest of the forward pass.

    Internal: :class:`ModuleOutputsHook` raises it when ``stop_when_ready`` is set, and
    :func:`run_until_targets` catches it. It never escapes to users.
    """


def _describe(module: nn.Module) -> str:
    text = repr(module).splitlines()[0]
    return text if len(text) <= 60 else text[:57] + "..."


class ModuleOutputsHook:
    """Registers one forward hook per target module and stores each module's output.

    The first output of each module within a pass is kept. A module that runs more than
    once per pass (e.g. a reused ``nn.ReLU``) triggers one warning for the lifetime of the
    hook, not one per step. With ``stop_when_ready=True`` the hook of the last target
    to fire raises :class:`TargetsReached`, so the rest of the network is skipped; run the
    forward pass through :func:`run_until_targets` to catch it. Setting ``enabled = False``
    makes the hooks ignore calls (``run_until_targets`` enables them for its pass), so code
    that calls a hooked module between passes is unaffected.

    Args:
        target_modules: The modules to capture. Duplicates are hooked once.
        stop_when_ready: Abort the forward pass as soon as every target has an output.

    Example:
        >>> import torch, torch.nn as nn
        >>> model = nn.Sequential(nn.Linear(2, 3), nn.ReLU())
        >>> with ModuleOutputsHook([model[0]]) as hook:
        ...     _ = model(torch.ones(1, 2))
        ...     hook.consume_outputs()[model[0]].shape
        torch.Size([1, 3])
    """

    def __init__(self, target_modules: Iterable[nn.Module], stop_when_ready: bool = False) -> None:
        modules = list(dict.fromkeys(target_modules))
        for module in modules:
            if not isinstance(module, nn.Module):
                raise TypeError(
                    f"ModuleOutputsHook hooks nn.Module instances, got {type(module).__name__}. "
                    "Resolve names first with optim.hooks.resolve_target(model, name)."
                )
        self._targets = modules
        self.stop_when_ready = stop_when_ready
        self.enabled = True
        self.outputs: ModuleOutputMapping = dict.fromkeys(modules)
        self._warned_reuse: set[nn.Module] = set()
        self._handles: list[RemovableHandle] = [
            module.register_forward_hook(self._make_hook(module)) for module in modules
        ]

    def _make_hook(self, module: nn.Module) -> Callable[..., None]:
        # A weak reference: the hooked module must not keep this object alive, or dropping
        # it would never reach __del__, which removes the hooks.
        owner = weakref.ref(self)

        def hook(_module: nn.Module, _inputs: Any, output: Any) -> None:
            hooks = owner()
            if hooks is not None:
                hooks._record(module, output)

        return hook

    def _record(self, module: nn.Module, output: Any) -> None:
        if not self.enabled:
            return
        if self.outputs[module] is not None:
            if module not in self._warned_reuse:
                self._warned_reuse.add(module)
                warnings.warn(
                    f"The target {_describe(module)} ran more than once in one forward pass; "
                    "only its first output is used. Target a module that runs once "
                    "(e.g. give each use of a shared nn.ReLU its own instance).",
                    stacklevel=3,
                )
            return
        self.outputs[module] = output
        if self.stop_when_ready and self.is_ready:
            raise TargetsReached

    @property
    def targets(self) -> list[nn.Module]:
        """The hooked modules, in registration order."""
        return list(self._targets)

    @property
    def is_ready(self) -> bool:
        """True once every target has produced an output in the current pass."""
        return all(output is not None for output in self.outputs.values())

    def consume_outputs(self) -> ModuleOutputMapping:
        """Return the captured outputs and reset them for the next pass.

        Raises:
            RuntimeError: If some targets produced no output; the message names them.
        """
        missing = [module for module, output in self.outputs.items() if output is None]
        outputs = self.outputs
        self.outputs = dict.fromkeys(self._targets)
        if missing:
            names = ", ".join(_describe(module) for module in missing)
            raise RuntimeError(
                f"These targets produced no output during the forward pass: {names}. "
                "A target must be an nn.Module that the forward pass calls; functional "
                "operations (torch.relu, F.conv2d, ...) cannot be hooked."
            )
        return outputs

    def reset(self) -> None:
        """Forget outputs captured so far (e.g. after an aborted pass)."""
        self.outputs = dict.fromkeys(self._targets)

    def remove_hooks(self) -> None:
        """Remove every hook this object registered. Safe to call more than once."""
        for handle in getattr(self, "_handles", ()):  # absent if __init__ failed
            handle.remove()
        self._handles = []

    def __enter__(self) -> ModuleOutputsHook:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.remove_hooks()

    def __del__(self) -> None:
        self.remove_hooks()


def run_until_targets(forward: Callable[[], Any], hook: ModuleOutputsHook) -> ModuleOutputMapping:
    """Run ``forward()`` and return the hooked outputs, tolerating an early stop.

    Args:
        forward: A no-argument callable performing the forward pass.
        hook: The :class:`ModuleOutputsHook` watching the targets.

    Returns:
        The consumed outputs of ``hook``.

    Example:
        >>> import torch, torch.nn as nn
        >>> model = nn.Sequential(nn.Linear(2, 3), nn.ReLU())
        >>> with ModuleOutputsHook([model[0]], stop_when_ready=True) as hook:
        ...     out = run_until_targets(lambda: model(torch.ones(1, 2)), hook)
        >>> out[model[0]].shape
        torch.Size([1, 3])
    """
    hook.reset()
    was_enabled, hook.enabled = hook.enabled, True
    try:
        with contextlib.suppress(TargetsReached):
            forward()
    finally:
        hook.enabled = was_enabled
    return hook.consume_outputs()


class ActivationFetcher:
    """Runs a model once and returns the outputs of the target modules.

    The hooks exist only during the call and the forward pass stops after the last target.

    Args:
        model: The model to run.
        targets: The modules whose outputs to return.
        stop_early: Skip the layers after the last target (default True).

    Example:
        >>> import torch, torch.nn as nn
        >>> model = nn.Sequential(nn.Linear(2, 3), nn.ReLU())
        >>> ActivationFetcher(model, [model[1]])(torch.ones(1, 2))[model[1]].shape
        torch.Size([1, 3])
    """

    def __init__(
        self, model: nn.Module, targets: Iterable[nn.Module], stop_early: bool = True
    ) -> None:
        if not callable(model):
            raise TypeError(
                f"ActivationFetcher needs a callable model, got {type(model).__name__}."
            )
        self.model = model
        self.targets = list(dict.fromkeys(targets))
        self.stop_early = stop_early

    def __call__(self, input_t: Any) -> ModuleOutputMapping:
        with ModuleOutputsHook(self.targets, stop_when_ready=self.stop_early) as hook:
            return run_until_targets(lambda: self.model(input_t), hook)
