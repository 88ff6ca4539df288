"""Logit attribution of a layer's activations at chosen spatial positions (gradient x activation).

Example:
    >>> import torch
    >>> from torch import nn
    >>> activ = torch.rand(1, 2, 3, 3, requires_grad=True)
    >>> logits = nn.Linear(18, 4)(activ.flatten(1))
    >>> mask = torch.zeros(1, 1, 3, 3)
    >>> mask[..., 1, 1] = 1  # the centre position
    >>> attribute_spatial_position(activ, logits, mask).shape
    torch.Size([1, 4])
"""

from __future__ import annotations

import torch

__all__ = ["attribute_spatial_position"]


def attribute_spatial_position(
    target_activ: torch.Tensor, logit_activ: torch.Tensor, position_mask: torch.Tensor
) -> torch.Tensor:
    """Attribution of every logit to the masked part of a layer's activations.

    Computes the Jacobian-vector product ``J @ (target_activ * position_mask)``, with ``J``
    the Jacobian of ``logit_activ`` with respect to ``target_activ``: for each item ``b`` and
    logit ``k``, ``sum(d logit_activ[b, k] / d target_activ[b] * target_activ[b] * mask[b])``
    (gradient x activation, restricted to the mask). It uses the double-backward trick (a
    vector-Jacobian product through a zero probe, differentiated again with respect to the
    probe), so it costs two backward passes however many logits there are. Items are
    independent when the model treats batch items independently (eval mode).

    Args:
        target_activ: The layer's activations, ``[B, C, H, W]`` or ``[B, C]``, part of the
            autograd graph that produced ``logit_activ``.
        logit_activ: The logits, ``[B, K]`` (computed from ``target_activ``).
        position_mask: Broadcastable to ``target_activ``; 1 at the positions to attribute,
            0 elsewhere (e.g. ``[B, 1, H, W]`` with one 1 per item).

    Returns:
        ``[B, K]`` attributions, detached.

    Raises:
        ValueError: If the shapes are not as above or ``logit_activ`` does not depend on
            ``target_activ``.

    Example:
        >>> activ = torch.tensor([[2.0, 3.0]], requires_grad=True)
        >>> logits = activ @ torch.tensor([[1.0], [10.0]])
        >>> attribute_spatial_position(activ, logits, torch.tensor([[0.0, 1.0]]))
        tensor([[30.]])
    """
    if not (target_activ.requires_grad and logit_activ.requires_grad):
        raise ValueError(
            "target_activ and logit_activ must be part of one autograd graph: compute the "
            "logits from the activations with gradients enabled."
        )
    if target_activ.dim() not in (2, 4):
        raise ValueError(
            f"target_activ must be [B, C, H, W] or [B, C], got shape {tuple(target_activ.shape)}."
        )
    if logit_activ.dim() != 2:
        raise ValueError(
            f"logit_activ must be [B, K] logits, got shape {tuple(logit_activ.shape)}; "
            "flatten it with logit_activ.flatten(1)."
        )
    try:
        direction = target_activ.detach() * position_mask.to(target_activ)
        broadcast = direction.shape == target_activ.shape
    except RuntimeError:
        broadcast = False
    if not broadcast:
        raise ValueError(
            f"position_mask of shape {tuple(position_mask.shape)} does not broadcast to "
            f"target_activ's shape {tuple(target_activ.shape)}."
        )
    with torch.enable_grad():
        probe = torch.zeros_like(logit_activ, requires_grad=True)
        (vjp,) = torch.autograd.grad(
            logit_activ, target_activ, probe, create_graph=True, allow_unused=True
        )
        if vjp is None:
            raise ValueError(
                "logit_activ does not depend on target_activ: pass the logits computed from "
                "these activations (with gradients enabled)."
            )
        (jvp,) = torch.autograd.grad(vjp, probe, direction, retain_graph=True)
    return jvp.detach()
