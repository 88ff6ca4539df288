"""Objectives from CLIP feature visualization: L2Mean, VectorLoss and FacetLoss."""

from __future__ import annotations

from collections.abc import Callable, Sequence

import torch
import torch.nn.functional as F

from optim.checks import check_int, is_real
from optim.hooks.targets import Target
from optim.hooks.validation import check_channel_index
from optim.loss._common import create_new_vector
from optim.loss.base import BaseLoss, BatchIndex, TargetsToValues


def _check_vec(vec: object, objective: str) -> torch.Tensor:
    if not isinstance(vec, torch.Tensor) or vec.dim() != 1:
        raise ValueError(f"{objective}: vec must be a 1D tensor (one weight per channel).")
    return vec


class L2Mean(BaseLoss):
    """Mean squared distance to a constant: ``mean((a[:, c] - constant) ** 2)``.

    ``channel_index=None`` uses every channel. Used with a negative sign to keep
    activations near ``constant``.

    Example:
        >>> import torch, torch.nn as nn
        >>> layer = nn.ReLU()
        >>> L2Mean(layer, constant=0.0)({layer: torch.tensor([[1.0, 3.0]])})
        tensor(5.)
    """

    def __init__(
        self,
        target: Target,
        channel_index: int | None = None,
        constant: float = 0.5,
        batch_index: BatchIndex = None,
    ) -> None:
        if channel_index is not None:
            check_int(channel_index, "L2Mean: channel_index", hint="Or None for all channels.")
        super().__init__(target, batch_index)
        self.channel_index = channel_index
        self.constant = constant

    def __call__(self, targets_to_values: TargetsToValues) -> torch.Tensor:
        activation = self.select_batch(self.activation(targets_to_values))
        if self.channel_index is not None:
            check_channel_index(self.channel_index, activation, self.__name__)
            activation = activation[:, self.channel_index : self.channel_index + 1]
        return ((activation - self.constant) ** 2).mean()


class VectorLoss(BaseLoss):
    """Mean projection of ``activation_fn(a)`` (channels last) on ``vec``.

    Example:
        >>> import torch, torch.nn as nn
        >>> layer = nn.ReLU()
        >>> VectorLoss(layer, torch.tensor([1.0, 2.0]))({layer: torch.ones(1, 2, 3, 3)})
        tensor(3.)
    """

    def __init__(
        self,
        target: Target,
        vec: torch.Tensor,
        activation_fn: Callable[[torch.Tensor], torch.Tensor] | None = F.relu,
        move_channel_dim_to_final_dim: bool = True,
        batch_index: BatchIndex = None,
    ) -> None:
        super().__init__(target, batch_index)
        self.vec = _check_vec(vec, type(self).__name__)
        self.activation_fn = activation_fn
        self.move_channel_dim_to_final_dim = move_channel_dim_to_final_dim

    def __call__(self, targets_to_values: TargetsToValues) -> torch.Tensor:
        activation = self.select_batch(self.activation(targets_to_values))
        projected = create_new_vector(
            activation,
            self.converted_like(self.vec, activation),
            activation_fn=self.activation_fn,
            move_channel_dim_to_final_dim=self.move_channel_dim_to_final_dim,
        )
        return projected.mean()


class FacetLoss(BaseLoss):
    """Faceted feature visualization (Goh et al. 2021, "Multimodal Neurons").

    The ultimate target's projection on ``vec`` is differentiated with respect to the layer
    target; ``attr = a_layer * relu(grad)`` (summed over positions when ``facet_weights`` is
    2D), scaled by ``strength`` (a float, or ``[start, end]`` spread linearly over the
    batch), and the value is ``sum(attr * facet_weights)``. 4D facet weights are resized
    (nearest) to the layer's size.

    Args:
        vec: 1D direction in the ultimate target's channels.
        ultimate_target: The layer the direction lives in (e.g. the image embedding).
        layer_target: The intermediate layer the facet weights apply to.
        facet_weights: ``[B or 1, C]`` or ``[B or 1, C, H, W]`` weights of the layer.
        strength: Optional scale, a float or ``[start, end]``.
        batch_index: Batch selection.

    Example:
        >>> import torch, torch.nn as nn
        >>> layer, head = nn.Identity(), nn.Identity()
        >>> x = torch.ones(1, 2, 2, 2, requires_grad=True)
        >>> loss = FacetLoss(torch.ones(2), head, layer, torch.ones(1, 2))
        >>> loss({layer: x, head: 2 * x}).item()
        4.0
    """

    def __init__(
        self,
        vec: torch.Tensor,
        ultimate_target: Target,
        layer_target: Target,
        facet_weights: torch.Tensor,
        strength: float | Sequence[float] | None = None,
        batch_index: BatchIndex = None,
    ) -> None:
        name = type(self).__name__
        if not isinstance(facet_weights, torch.Tensor) or facet_weights.dim() not in (2, 4):
            raise ValueError(f"{name}: facet_weights must be a 2D or 4D tensor.")
        if (
            strength is not None
            and not is_real(strength)
            and not (isinstance(strength, Sequence) and len(strength) == 2)
        ):
            raise TypeError(f"{name}: strength must be a float or [start, end], got {strength!r}.")
        super().__init__([ultimate_target, layer_target], batch_index)
        self.vec = _check_vec(vec, name)
        self.ultimate_target, self.layer_target = ultimate_target, layer_target
        self.facet_weights = facet_weights
        self.strength = strength

    def __call__(self, targets_to_values: TargetsToValues) -> torch.Tensor:
        ultimate = self.select_batch(self.activation(targets_to_values, self.ultimate_target))
        projected = create_new_vector(ultimate, self.converted_like(self.vec, ultimate))
        layer_full = self.activation(targets_to_values, self.layer_target)
        if not layer_full.requires_grad:
            raise RuntimeError(
                f"{self.__name__} differentiates through the layer target's output, which does "
                "not require grad; run it with gradients enabled on an input that requires grad."
            )
        (grad,) = torch.autograd.grad(
            projected, layer_full, torch.ones_like(projected), retain_graph=True
        )
        layer = self.select_batch(layer_full)
        attr = layer * F.relu(self.select_batch(grad.detach()))
        if self.facet_weights.dim() == 2 and attr.dim() == 4:
            attr = attr.sum(dim=(2, 3))
        if isinstance(self.strength, Sequence):
            scale = torch.linspace(
                self.strength[0], self.strength[1], steps=attr.shape[0], device=attr.device
            ).to(attr.dtype)
            attr = scale.reshape(-1, *([1] * (attr.dim() - 1))) * attr
        elif self.strength is not None:
            attr = self.strength * attr
        weights = self.converted_like(self.facet_weights, attr)
        if weights.dim() == 4 and attr.dim() == 4 and weights.shape[2:] != attr.shape[2:]:
            weights = F.interpolate(weights, size=attr.shape[2:], mode="nearest")
        return torch.sum(attr * weights)
