"""FiniteCheck: the optimisation loop's NaN/inf check of the summarised objective.

Inline, each value is checked before the update, so the input keeps its last finite state;
that reads the value back to the host every step, which is free on a CPU. Windowed, the
values of the last ``every`` steps are checked with one host read after they ran. Either way
the error names the first bad step.

Example:
    >>> import torch
    >>> history = [torch.tensor(1.0), torch.tensor(float("nan"))]
    >>> try:
    ...     FiniteCheck(history, every=2, inline=False).after_step()
    ... except RuntimeError as error:
    ...     print(str(error).split(" (")[0])
    The objective is not finite at step 1
"""

from __future__ import annotations

import torch

__all__ = ["FiniteCheck"]


class FiniteCheck:
    """Checks the values appended to ``history``, inline or every ``every`` steps.

    Args:
        history: the loop's list of step values (read, never changed).
        every: steps per windowed check.
        inline: check each value in :meth:`before_update` instead (``every`` is then 1).
    """

    def __init__(self, history: list[torch.Tensor], every: int, inline: bool) -> None:
        self.history = history
        self.every = every
        self.inline = inline
        self._checked = 0  # history entries already checked

    def before_update(self, value: torch.Tensor) -> None:
        """Inline: raise before the update if ``value`` (the next entry) is not finite."""
        if self.inline and not bool(torch.isfinite(value).all()):
            _raise_not_finite(len(self.history), value)

    def after_step(self) -> None:
        """Windowed: check the unchecked entries once ``every`` of them have piled up."""
        if not self.inline and len(self.history) - self._checked >= self.every:
            self.finish()

    def finish(self) -> None:
        """Windowed: check every entry not checked yet (one host read)."""
        window = self.history[self._checked :]
        start, self._checked = self._checked, len(self.history)
        if self.inline or not window or window[0].device.type == "meta":  # meta has no values
            return
        finite = torch.stack([torch.isfinite(v).all() for v in window])
        if not bool(finite.all()):
            bad = int((~finite).nonzero()[0, 0])
            _raise_not_finite(start + bad, window[bad])


def _raise_not_finite(step: int, value: torch.Tensor) -> None:
    raise RuntimeError(
        f"The objective is not finite at step {step} (value {value.tolist()}). "
        "Lower the learning rate, or check the objective for divisions by zero "
        "and for a model producing NaN."
    )
