"""Shared input checks for the transforms (private)."""

from __future__ import annotations

import torch


def check_4d(x: torch.Tensor, name: str) -> None:
    """Raise a ValueError unless ``x`` is a 4-D NCHW tensor."""
    if not isinstance(x, torch.Tensor):
        raise TypeError(f"{name} expects a torch.Tensor, got {type(x).__name__}.")
    if x.dim() != 4:
        raise ValueError(
            f"{name} expects a 4-D NCHW tensor, got shape {tuple(x.shape)}; "
            "add a batch dimension with x.unsqueeze(0)."
        )


def check_3d_or_4d(x: torch.Tensor, name: str) -> None:
    """Raise a ValueError unless ``x`` is a CHW or NCHW tensor."""
    if not isinstance(x, torch.Tensor):
        raise TypeError(f"{name} expects a torch.Tensor, got {type(x).__name__}.")
    if x.dim() not in (3, 4):
        raise ValueError(f"{name} expects a CHW or NCHW tensor, got shape {tuple(x.shape)}.")


def random_int(low: int, high: int, generator: torch.Generator | None) -> int:
    """Draw one integer in ``[low, high)`` from ``generator`` (or torch's global RNG)."""
    device = generator.device if generator is not None else None
    return int(torch.randint(low, high, (1,), generator=generator, device=device).item())


def sample_value(
    values: torch.Tensor | torch.distributions.Distribution, generator: torch.Generator | None
) -> float:
    """Pick one element of the 1-D tensor ``values``, or sample the distribution."""
    if isinstance(values, torch.distributions.Distribution):
        # Distributions draw from torch's global RNG; they accept no generator.
        return float(values.sample().item())
    return float(values[random_int(0, len(values), generator)].item())


def as_values_or_distribution(
    values: object, name: str
) -> torch.Tensor | torch.distributions.Distribution:
    """Validate a list of values or a scalar distribution to sample from."""
    if isinstance(values, torch.distributions.Distribution):
        if values.batch_shape != torch.Size([]) or values.event_shape != torch.Size([]):
            raise ValueError(
                f"{name} distribution must be scalar (empty batch_shape and event_shape), "
                f"got batch_shape={tuple(values.batch_shape)}."
            )
        return values
    return as_value_tensor(values, name)


def as_value_tensor(values: object, name: str) -> torch.Tensor:
    """Turn a non-empty sequence or 1-D tensor of numbers into a float64 CPU tensor."""
    if isinstance(values, torch.Tensor):
        tensor = values.detach().to("cpu", torch.float64).flatten()
    else:
        try:
            tensor = torch.as_tensor(list(values), dtype=torch.float64)  # type: ignore[call-overload]
        except (TypeError, ValueError) as exc:
            raise TypeError(
                f"{name} must be a sequence of numbers, a 1-D tensor or a "
                f"torch.distributions.Distribution, got {values!r}."
            ) from exc
    if tensor.numel() == 0:
        raise ValueError(f"{name} must contain at least one value.")
    return tensor
