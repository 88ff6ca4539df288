"""``render``: optimise an image that maximises one unit (or any objective) of a model.

Example:
    >>> import optim as opt
    >>> model = opt.models.efficientnet_lite0(pretrained=True).eval()  # doctest: +SKIP
    >>> result = opt.render(model, "_blocks.10:2", size=128, steps=128, seed=0)  # doctest: +SKIP
    >>> result.save("unit.png")  # doctest: +SKIP
"""

from __future__ import annotations

import time
from typing import Any

import torch
from torch import nn
from tqdm.auto import tqdm

from optim.optimization.fast_path import FastPath
from optim.rendering.objective import unit_objective
from optim.rendering.parse_target import parse_target
from optim.rendering.pipeline import build_image, build_transforms, describe
from optim.rendering.result import RenderResult
from optim.rendering.run_optimization import evaluate_objective, optimize
from optim.rendering.seeding import seeded
from optim.rendering.settings import (
    check_lr,
    check_positive_int,
    check_size,
    resolve_device,
    resolve_seed,
)

__all__ = ["DEFAULT_LR", "render"]


DEFAULT_LR = 0.05
"""Adam learning rate of renders (captum's optimize() default is 0.025; see the README)."""


def render(
    model: nn.Module,
    target: Any,
    *,
    size: int | tuple[int, int] = 224,
    steps: int = 256,
    lr: float = DEFAULT_LR,
    batch: int = 1,
    seed: int | None = None,
    parameterization: str | type | nn.Module = "fft_image",
    transforms: str | nn.Module | None = "transformation_robustness",
    device: str | torch.device | None = None,
    show_progress: bool = True,
    fast_path: FastPath | None = None,
) -> RenderResult:
    """Render the input that maximises ``target`` of ``model``.

    Args:
        model: the network, in eval mode (a model in training mode gets a warning).
        target: ``"layer:channel"`` (a channel), ``"layer:channel:x:y"`` (the neuron at column
            x, row y) with dotted layer names from ``model.named_modules()``, or any
            ``optim.loss.Loss`` (``opt.loss.ChannelActivation(model._blocks[10], 2) - ...``).
        size: image size in px, an int or ``(height, width)``.
        steps: Adam steps.
        lr: Adam learning rate.
        batch: images optimised together (each one maximises the objective).
        seed: seed of every random draw (init, transforms); drawn and recorded when ``None``.
        parameterization: a registered name (``"fft_image"``, ``"pixel_image"``,
            ``"laplacian_image"``), a parameterization class (wrapped in ``NaturalImage``), or a
            ready image module whose batch equals ``batch``.
        transforms: a registered transform name, ``"none"``/``None``, or any ``nn.Module``.
        device: where to render; default the model's device (the model is never moved).
        show_progress: show a tqdm progress bar.
        fast_path: the GPU switches (:class:`~optim.optimization.FastPath`: channels_last,
            bf16/fp16 autocast, CUDA graph); default ``FastPath()``, which on CPU renders
            exactly like the plain loop.

    Returns:
        A :class:`RenderResult` with the images, the objective per step, the final objective,
        the seed and the settings.

    Raises:
        ValueError: unknown layer (closest names listed), channel or position out of range
            (valid range given), or an invalid setting.

    Example:
        >>> result = render(model, "features.4:7", size=64, steps=32, seed=1)  # doctest: +SKIP
        >>> result.images.shape  # doctest: +SKIP
        torch.Size([1, 3, 64, 64])
    """
    if not isinstance(model, nn.Module):
        raise TypeError(f"model must be an nn.Module, got {type(model).__name__}.")
    height, width = check_size(size)
    check_positive_int(steps, "steps")
    check_positive_int(batch, "batch")
    lr = check_lr(lr)
    seed = resolve_seed(seed)
    render_device = resolve_device(model, device)
    objective, keep_size = _objective(model, target, min(height, width))

    with seeded(seed, render_device):
        image = build_image(parameterization, (height, width), batch).to(render_device)
        transform = build_transforms(transforms, keep_size=keep_size).to(render_device)
        progress = tqdm(total=steps, desc="render", unit="step", disable=not show_progress)
        started = time.perf_counter()
        try:
            summarized = optimize(
                model,
                objective,
                image,
                transform,
                steps=steps,
                lr=lr,
                progress=progress,
                fast_path=fast_path,
            )
        finally:
            progress.close()
        wall_time = time.perf_counter() - started
        with torch.no_grad():
            images = image().detach()
    history = -summarized.reshape(len(summarized), -1).mean(dim=1)
    final = evaluate_objective(model, objective, images)
    final_objective = float(final.mean()) if final is not None else float(history[-1])
    settings = {
        "target": str(target) if isinstance(target, str) else describe(target),
        "size": [height, width],
        "steps": steps,
        "lr": lr,
        "batch": batch,
        "seed": seed,
        "parameterization": describe(parameterization),
        "transforms": describe(transforms),
        "transforms_keep_size": keep_size,
        "device": str(render_device),
        "fast_path": (fast_path or FastPath()).describe(),
        "final_objective_on": "final image" if final is not None else "last step",
    }
    return RenderResult(
        images=images.as_subclass(torch.Tensor).float().cpu(),
        history=history,
        final_objective=final_objective,
        seed=seed,
        settings=settings,
        wall_time_s=wall_time,
    )


def _objective(model: nn.Module, target: Any, size: int) -> tuple[Any, bool]:
    """The objective, and whether the transforms must keep the image size (neurons)."""
    from optim.loss import Loss

    if isinstance(target, str):
        unit = parse_target(target)
        return unit_objective(model, unit, size=size), unit.is_neuron
    if isinstance(target, Loss):
        return target, _reads_fixed_position(target)
    raise TypeError(
        "target must be 'layer:channel', 'layer:channel:x:y' or an optim.loss.Loss, got "
        f"{type(target).__name__}: {target!r}."
    )


def _reads_fixed_position(objective: Any) -> bool:
    """Whether ``objective`` reads an explicit spatial position (a neuron at x/y)."""
    return getattr(objective, "x", None) is not None or getattr(objective, "y", None) is not None
