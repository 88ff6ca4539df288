"""Stop criteria: ``criterion(step, optimization, history, optimizer) -> keep_going``."""

from __future__ import annotations

import time
from collections.abc import Sequence
from typing import Any

import torch
from tqdm.auto import tqdm

from optim.checks import is_int
from optim.typing import StopCriteria

__all__ = ["NSteps", "StopCriteria", "n_steps"]


POSTFIX_INTERVAL_S = 0.5


class NSteps:
    """Keep going for ``n`` steps, optionally with a tqdm bar showing the current loss.

    Built by :func:`n_steps`. Its own bar is created at the first call and closed when the
    loop finishes, fails or is interrupted (``InputOptimization.optimize`` calls ``close``).
    A ``progress`` bar passed in instead is only advanced, never closed, so several runs
    (the batches of a layer render) can share one. The loss shown is read at most every
    ``POSTFIX_INTERVAL_S`` seconds: reading it waits for a GPU to finish the step.

    Example:
        >>> stop = NSteps(2, show_progress=False)
        >>> stop(0, None, [], None), stop(2, None, [], None)
        (True, False)
    """

    def __init__(self, n: int, show_progress: bool = True, progress: tqdm | None = None) -> None:
        if not is_int(n) or n < 0:
            raise ValueError(f"n_steps needs a non-negative int number of steps, got {n!r}.")
        self.n = int(n)
        self.show_progress = show_progress or progress is not None
        self._shared = progress
        self._bar: tqdm | None = progress
        self._done = 0  # steps already counted on the bar
        self._postfix_at = float("-inf")  # time.monotonic() of the last loss shown

    def __call__(
        self,
        step: int,
        optimization: Any,
        history: Sequence[torch.Tensor],
        optimizer: torch.optim.Optimizer,
    ) -> bool:
        if self.show_progress:
            if self._bar is None:
                self._bar = tqdm(total=self.n, unit=" step", initial=step)
                self._done = step
            elif step > self._done:
                self._bar.update(step - self._done)
                self._done = step
            now = time.monotonic()
            if history and (now - self._postfix_at >= POSTFIX_INTERVAL_S or step >= self.n):
                # The summarised value that is minimised: -objective with the default summary.
                self._bar.set_postfix(loss=f"{float(history[-1].mean()):.4g}", refresh=False)
                self._postfix_at = now
        keep_going = step < self.n
        if not keep_going:
            self.close()
        return keep_going

    def close(self) -> None:
        """Close the progress bar this criterion opened (a shared one stays open)."""
        if self._bar is not None and self._bar is not self._shared:
            self._bar.close()
        self._bar = self._shared


def n_steps(n: int, show_progress: bool = True) -> NSteps:
    """Stop criterion that runs ``n`` optimisation steps.

    Args:
        n: The number of steps.
        show_progress: Show a tqdm bar (unit " step") with the current loss, i.e. the
            summarised value being minimised (``-mean(objective)`` by default).

    Example:
        >>> stop = n_steps(2, show_progress=False)
        >>> [stop(step, None, [], None) for step in range(3)]
        [True, True, False]
    """
    return NSteps(n, show_progress)
