"""Stop criteria: ``criterion(step, optimization, history, optimizer) -> keep_going``."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import torch
from tqdm.auto import tqdm

StopCriteria = Callable[[int, Any, Sequence[torch.Tensor], torch.optim.Optimizer], bool]
"""Called before every step with the number of completed steps, the ``InputOptimization``,
the history of summarised losses and the optimizer; the loop continues while it returns True.
An optional ``close()`` method is called when the loop ends for any reason."""


class NSteps:
    """Keep going for ``n`` steps, optionally with a tqdm bar showing the current loss.

    Built by :func:`n_steps`; the bar is created at the first call and closed when the
    loop finishes, fails or is interrupted (``InputOptimization.optimize`` calls ``close``).
    """

    def __init__(self, n: int, show_progress: bool = True) -> None:
        if isinstance(n, bool) or not isinstance(n, int) or n < 0:
            raise ValueError(f"n_steps needs a non-negative int number of steps, got {n!r}.")
        self.n = n
        self.show_progress = show_progress
        self._bar: tqdm | None = None

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
            elif step > self._bar.n:
                self._bar.update(step - self._bar.n)
            if history:
                # The summarised value that is minimised: -objective with the default summary.
                self._bar.set_postfix(loss=f"{float(history[-1].mean()):.4g}", refresh=False)
        keep_going = step < self.n
        if not keep_going:
            self.close()
        return keep_going

    def close(self) -> None:
        """Close the progress bar, if one is open."""
        if self._bar is not None:
            self._bar.close()
            self._bar = None


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
