"""StepRecord: values recorded once per optimisation step, also inside a replayed CUDA graph.

Appending to a Python list from an objective or a loss summary works in eager steps only: a
replayed CUDA graph runs none of the step's Python, so every later step would be missing and
the last entry would alias the graph's memory. StepRecord writes each value into a
preallocated buffer at a step counter that lives on the device; both writes are tensor
operations, part of the step, and replayed with it.

Example:
    >>> record = StepRecord(steps=3)
    >>> for step in range(3):
    ...     record.append(torch.tensor([step, 2.0 * step]))
    >>> record.values()
    tensor([[0., 0.],
            [1., 2.],
            [2., 4.]])
"""

from __future__ import annotations

import torch

from optim.checks import check_int

__all__ = ["StepRecord"]


class StepRecord:
    """A ``[steps, *shape]`` buffer filled one row per :meth:`append`, with no host sync.

    The buffer is allocated on the first append (the first, eager, step), on that value's
    device and with its dtype. Appends beyond ``steps`` overwrite the last row.

    Args:
        steps: the number of rows (the steps of the run).
    """

    def __init__(self, steps: int) -> None:
        self.steps = check_int(steps, "steps", minimum=1)
        self._buffer: torch.Tensor | None = None
        self._count: torch.Tensor | None = None

    def append(self, value: torch.Tensor) -> None:
        """Record ``value`` (detached) as the next row."""
        value = value.detach()
        if self._buffer is None or self._count is None:
            self._buffer = value.new_zeros((self.steps, *value.shape))
            self._count = torch.zeros((), dtype=torch.long, device=value.device)
        if value.shape != self._buffer.shape[1:]:
            raise ValueError(
                f"StepRecord rows have shape {tuple(self._buffer.shape[1:])}; got a value of "
                f"shape {tuple(value.shape)}."
            )
        row = self._count.clamp(max=self.steps - 1).view(1)
        self._buffer.index_copy_(0, row, value.to(self._buffer.dtype).unsqueeze(0))
        self._count.add_(1)

    def values(self) -> torch.Tensor:
        """The rows recorded so far (reads the counter: one host sync)."""
        if self._buffer is None or self._count is None:
            return torch.empty(0)
        return self._buffer[: min(int(self._count), self.steps)]
