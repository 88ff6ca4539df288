"""Base class of transforms that draw one random number per call (private)."""

# No `from __future__ import annotations` here: TorchScript reads the class attribute annotation
# `values: list[float]` (needed when the list is empty) only as a real, evaluated annotation.

import torch
from torch import nn

from optim.transforms._validation import as_values_or_distribution, check_generator, random_int


class RandomValueTransform(nn.Module):
    """Holds a list of values to pick from (or a scalar distribution to sample) and a generator.

    Picking from the list is scriptable; sampling a distribution is Python-only and draws from
    torch's global RNG, since distributions take no generator.
    """

    values: list[float]
    graph_safe = False  # draws in Python: a replayed CUDA graph would freeze the value

    def __init__(self, values: object, name: str, generator: torch.Generator | None) -> None:
        super().__init__()
        check_generator(generator, name)
        self.values, self.distribution = as_values_or_distribution(values, name)
        self.has_distribution = self.distribution is not None
        self.generator = generator

    def __prepare_scriptable__(self) -> nn.Module:
        """Called by ``torch.jit.script``: distributions cannot be scripted."""
        if self.has_distribution:
            raise TypeError(
                f"{type(self).__name__} with a torch.distributions.Distribution cannot be "
                "scripted; pass a list of values instead."
            )
        return self

    @torch.jit.ignore
    def _sample_distribution(self):
        # type: () -> float
        """Sample the distribution in Python (distributions are not scriptable)."""
        assert self.distribution is not None
        return float(self.distribution.sample().item())

    def draw(self) -> float:
        """Return the next random value."""
        if self.has_distribution:
            return self._sample_distribution()
        return self.values[random_int(0, len(self.values), self.generator)]

    def _values_repr(self) -> str:
        if self.distribution is not None:
            return repr(self.distribution)
        return f"{len(self.values)} values"
