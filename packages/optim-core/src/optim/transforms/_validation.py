"""Shared input checks and random draws for the transforms (private, TorchScript-friendly)."""

from __future__ import annotations

from collections.abc import Iterable

import torch


def check_4d(x: torch.Tensor, name: str) -> None:
    """Raise a ValueError unless ``x`` is a 4-D NCHW tensor."""
    if x.dim() != 4:
        raise ValueError(
            f"{name} expects a 4-D NCHW tensor, got shape {list(x.shape)}; "
            "add a batch dimension with x.unsqueeze(0)."
        )


def check_3d_or_4d(x: torch.Tensor, name: str) -> None:
    """Raise a ValueError unless ``x`` is a CHW or NCHW tensor."""
    if x.dim() != 3 and x.dim() != 4:
        raise ValueError(f"{name} expects a CHW or NCHW tensor, got shape {list(x.shape)}.")


def check_generator(generator: object, name: str) -> None:
    """Random parameters are drawn on the CPU, so a generator must be a CPU generator."""
    if generator is None:
        return
    if not isinstance(generator, torch.Generator) or generator.device.type != "cpu":
        raise TypeError(
            f"{name} generator must be a CPU torch.Generator (random parameters are drawn on "
            f"the CPU), got {generator!r}."
        )


def _kinds(name: str, values: object) -> str:
    return (
        f"{name} must be a sequence of numbers, a 1-D tensor or a "
        f"torch.distributions.Distribution, got {values!r}."
    )


def random_int(low: int, high: int, generator: torch.Generator | None) -> int:
    """Draw one integer in ``[low, high)`` from ``generator`` (or torch's global CPU RNG)."""
    return int(torch.randint(low, high, (1,), generator=generator).item())


def as_values_or_distribution(
    values: object, name: str
) -> tuple[list[float], torch.distributions.Distribution | None]:
    """Split ``values`` into a list of numbers to pick from, or a scalar distribution."""
    if isinstance(values, torch.distributions.Distribution):
        if values.batch_shape != torch.Size([]) or values.event_shape != torch.Size([]):
            raise ValueError(
                f"{name} distribution must be scalar (empty batch_shape and event_shape), "
                f"got batch_shape={tuple(values.batch_shape)}."
            )
        return [], values
    if isinstance(values, torch.Tensor):
        numbers = values.detach().to("cpu", torch.float64).flatten().tolist()
    elif not isinstance(values, Iterable):
        raise TypeError(_kinds(name, values))
    else:
        try:
            numbers = [float(v) for v in values]
        except (TypeError, ValueError) as exc:
            raise TypeError(_kinds(name, values)) from exc
    if len(numbers) == 0:
        raise ValueError(f"{name} must contain at least one value.")
    return numbers, None
