"""FiniteCheck: the optimisation loop's NaN/inf guard of the objective and its gradient.

A step whose objective or gradient is not finite is never applied. Inline (on a CPU, where
reading a value back is free), the check runs after ``backward`` and before the optimizer
step and raises at once. Windowed (on a GPU, and inside a CUDA graph), the check stays on the
device: a flag says whether every step so far was finite, the update of a bad step (and of
every step after it) is undone with ``torch.where``, and the flag and the first bad step are
read back every ``every`` steps. Either way the input keeps its last good state and the error
(:class:`NotFiniteError`) names the first bad step.

Example:
    >>> import torch
    >>> param = torch.zeros(2, requires_grad=True)
    >>> param.grad = torch.tensor([1.0, float("nan")])
    >>> try:
    ...     FiniteCheck([], every=1, inline=True).before_update(torch.tensor(2.0), [param])
    ... except NotFiniteError as error:
    ...     print(str(error).split(" (")[0])
    The gradient of the objective is not finite at step 0
"""

from __future__ import annotations

from collections.abc import Sequence

import torch

__all__ = ["FiniteCheck", "NotFiniteError"]


class NotFiniteError(RuntimeError):
    """The objective or its gradient became NaN/inf; the update of that step was not applied.

    Attributes:
        step: the first bad step (0-based).
        history: the summarised values of the good steps before it.
        run: the render engine's :class:`~optim.rendering.EngineRun` of the last good
            state, when the error went through it (else ``None``).
        result: what a renderer built from the last good state (``opt.render`` puts a
            :class:`~optim.rendering.RenderResult` of the last good image here, with
            ``error`` set), or ``None``.
    """

    def __init__(self, message: str, step: int, history: torch.Tensor) -> None:
        super().__init__(message)
        self.step = step
        self.history = history
        self.run: object = None
        self.result: object = None


class FiniteCheck:
    """Guards the updates of one run and checks the values appended to ``history``.

    Args:
        history: the loop's list of step values (read, never changed).
        every: steps per windowed check.
        inline: check each step in :meth:`before_update` (a host read per step).
    """

    def __init__(self, history: list[torch.Tensor], every: int, inline: bool) -> None:
        self.history = history
        self.every = every
        self.inline = inline
        self._checked = 0  # history entries already checked
        self._device_state: tuple[torch.Tensor, torch.Tensor, torch.Tensor] | None = None
        self._saved: list[torch.Tensor] = []

    def before_update(self, value: torch.Tensor, params: Sequence[torch.Tensor]) -> None:
        """After ``backward``, before the optimizer step: check ``value`` and the gradients.

        Inline it raises at once; windowed it records on the device and remembers the
        parameters so that :meth:`after_update` can undo a bad update.
        """
        grads = [p.grad for p in params if p.grad is not None]
        value_ok = torch.isfinite(value.detach()).all()
        grads_ok = torch.stack([torch.isfinite(g).all() for g in grads]).all() if grads else None
        if self.inline:
            if not bool(value_ok if grads_ok is None else value_ok & grads_ok):
                _raise(len(self.history), value, bool(value_ok), self.history)
            return
        ok = value_ok if grads_ok is None else value_ok & grads_ok
        if self._device_state is None:
            device = value.device
            self._device_state = (
                torch.ones((), dtype=torch.bool, device=device),  # every step so far was finite
                torch.zeros((), dtype=torch.long, device=device),  # this step's index
                torch.full((), -1, dtype=torch.long, device=device),  # the first bad step
            )
        all_ok, step, first_bad = self._device_state
        first_bad.copy_(torch.where(all_ok & ~ok, step, first_bad))
        all_ok.logical_and_(ok)
        step.add_(1)
        self._saved = [p.detach().clone() for p in params]

    def after_update(self, params: Sequence[torch.Tensor]) -> None:
        """Windowed: undo the update if this step, or one before it, was not finite."""
        if self.inline or self._device_state is None:
            return
        all_ok = self._device_state[0]
        with torch.no_grad():
            for param, saved in zip(params, self._saved, strict=True):
                param.copy_(torch.where(all_ok, param, saved))

    def after_step(self) -> None:
        """Windowed: check the steps not checked yet once ``every`` of them have piled up."""
        if not self.inline and len(self.history) - self._checked >= self.every:
            self.finish()

    def finish(self) -> None:
        """Windowed: check every step not checked yet (one host read)."""
        done, self._checked = self._checked, len(self.history)
        if self.inline or done == len(self.history) or self._device_state is None:
            return
        first_bad = self._device_state[2]
        if first_bad.device.type == "meta":  # meta tensors have no values
            return
        bad = int(first_bad)
        if bad >= 0:
            value = self.history[bad]
            finite = bool(torch.isfinite(value).all())
            _raise(bad, value, finite, self.history)


def _raise(step: int, value: torch.Tensor, value_finite: bool, history: list[torch.Tensor]) -> None:
    what = "The gradient of the objective" if value_finite else "The objective"
    raise NotFiniteError(
        f"{what} is not finite at step {step} (objective {value.tolist()}); that update was "
        "not applied and the input keeps its last good state. Lower the learning rate, or "
        "check the objective for divisions by zero and for a model producing NaN.",
        step,
        torch.stack(history[:step]).cpu() if step else torch.empty(0),
    )
