"""Seeded, isolated randomness for renders.

Example:
    >>> import torch
    >>> from optim.rendering.seeding import seeded
    >>> with seeded(0):
    ...     a = torch.rand(1)
    >>> with seeded(0):
    ...     b = torch.rand(1)
    >>> bool(a == b)
    True
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import torch

__all__ = ["seeded"]


@contextmanager
def seeded(seed: int, device: torch.device | str = "cpu") -> Iterator[None]:
    """Seed torch's RNG (CPU, and ``device`` if it is a GPU) and restore it on exit.

    Everything random in a render (image initialisation, transforms) draws from torch's
    global RNG inside this context, so the same seed gives the same image, bitwise on CPU,
    and the caller's RNG state is left as it was.
    """
    device = torch.device(device)
    with torch.random.fork_rng(devices=[device] if device.type == "cuda" else []):
        torch.manual_seed(seed)
        yield
