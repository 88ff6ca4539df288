"""``render_layer``: one image per channel of a layer, channels optimised together in batches.

Each channel gets its own batch slot: slot ``i`` of a batch maximises its channel through an
objective with ``batch_index=i``, so one forward/backward pass serves a whole batch of
channels. Every slot starts from the image that ``render(..., seed=seed)`` starts from and sees
the same transforms, so a channel's image does not depend on which batch it landed in (up to
floating-point differences of batched convolutions).

Example:
    >>> import optim as opt
    >>> model = opt.models.efficientnet_lite0(pretrained=True).eval()  # doctest: +SKIP
    >>> result = opt.render_layer(model, "_blocks.4", range(16), size=64)  # doctest: +SKIP
    >>> result.images.shape  # doctest: +SKIP
    torch.Size([16, 3, 64, 64])
"""

from __future__ import annotations

import time
from collections.abc import Iterable

import torch
from torch import nn
from tqdm.auto import tqdm

from optim.optimization.fast_path import FastPath
from optim.optimization.step_record import StepRecord
from optim.rendering.objective import layer_channel_count, objective_for
from optim.rendering.parse_target import UnitTarget
from optim.rendering.pipeline import build_image, build_transforms, describe
from optim.rendering.render import DEFAULT_LR
from optim.rendering.result import LayerRenderResult
from optim.rendering.run_optimization import evaluate_objective, optimize
from optim.rendering.seeding import seeded
from optim.rendering.settings import (
    check_lr,
    check_positive_int,
    check_size,
    resolve_device,
    resolve_seed,
)

__all__ = ["DEFAULT_BATCH_SIZE", "render_layer"]

DEFAULT_BATCH_SIZE = 8
"""Channels optimised together per batch by default."""


def _check_channels(channels: Iterable[int] | None, count: int, layer: str) -> list[int]:
    if channels is None:
        return list(range(count))
    if isinstance(channels, int | str) or not isinstance(channels, Iterable):
        raise TypeError(
            f"channels must be a list or range of channel indices, got {channels!r}; "
            "for one channel write [c]."
        )
    chosen = list(channels)
    if not chosen:
        raise ValueError("channels is empty: give at least one channel, or None for all.")
    for channel in chosen:
        if isinstance(channel, bool) or not isinstance(channel, int):
            raise TypeError(f"Channel indices must be ints, got {channel!r}.")
        if not 0 <= channel < count:
            raise ValueError(
                f"Channel {channel} is out of range for layer {layer!r}, which has {count} "
                f"channels: use 0..{count - 1}."
            )
    duplicates = sorted({c for c in chosen if chosen.count(c) > 1})
    if duplicates:
        raise ValueError(f"Channels {duplicates} are listed more than once; list each once.")
    return chosen


def _slot_images(
    parameterization: str | type, size: tuple[int, int], slots: int, seed: int
) -> nn.Module:
    """``slots`` single images stacked on the batch dimension, each initialised from ``seed``."""
    from optim.images import StackImage

    singles = []
    for _ in range(slots):
        torch.manual_seed(seed)  # every slot starts where render(..., seed=seed) starts
        singles.append(build_image(parameterization, size, 1))
    return StackImage(singles, dim=0)


class _ChannelPerSlot:
    """Slot ``i`` of the batch scores the mean of channel ``channels[i]``: one gather per step
    instead of one objective call per slot (equal to ``ChannelActivation(batch_index=i)``)."""

    def __init__(self, module: nn.Module, channels: list[int]) -> None:
        self.module = module
        self.channels = torch.tensor(channels)
        self._on_device: dict[torch.device, tuple[torch.Tensor, torch.Tensor]] = {}

    def __call__(self, values: dict) -> torch.Tensor:
        activation = values[self.module]
        device = activation.device
        if device not in self._on_device:  # built once per device: no copy inside a CUDA graph
            slots = torch.arange(len(self.channels), device=device)
            self._on_device[device] = (slots, self.channels.to(device))
        slots, channels = self._on_device[device]
        return activation[slots, channels].reshape(len(slots), -1).mean(dim=1)


def _slots_objective(module: nn.Module, layer: str, batch: list[int], objective: str | None):
    """The objective of one batch: slot ``i`` maximises channel ``batch[i]``."""
    from optim.loss import CompositeLoss

    if objective in (None, "channel_activation"):
        per_slot = _ChannelPerSlot(module, batch)
        return CompositeLoss(per_slot, name=f"ChannelsOf({layer})", target=module)
    slot_objectives = [
        objective_for(module, UnitTarget(layer, channel), objective, batch_index=slot)
        for slot, channel in enumerate(batch)
    ]
    return CompositeLoss(
        lambda values: torch.stack([p(values).mean() for p in slot_objectives]),
        name=f"ChannelsOf({layer})",
        target=module,
    )


def render_layer(
    model: nn.Module,
    layer: str,
    channels: Iterable[int] | None = None,
    *,
    batch_size: int = DEFAULT_BATCH_SIZE,
    size: int | tuple[int, int] = 224,
    steps: int = 256,
    lr: float = DEFAULT_LR,
    seed: int | None = None,
    parameterization: str | type = "fft_image",
    transforms: str | nn.Module | None = "transformation_robustness",
    objective: str | None = None,
    device: str | torch.device | None = None,
    show_progress: bool = True,
    fast_path: FastPath | None = None,
) -> LayerRenderResult:
    """Render every channel of ``layer`` (or the listed ones), ``batch_size`` channels at a time.

    Args:
        model: the network, in eval mode.
        layer: a dotted layer name from ``model.named_modules()``.
        channels: the channels to render (a list or range); ``None`` for all of them.
        batch_size: channels optimised together in one batch (one batch slot each).
        size: image size in px, an int or ``(height, width)``.
        steps: Adam steps per batch.
        lr: Adam learning rate.
        seed: seed of every random draw; drawn and recorded when ``None``.
        parameterization: a registered parameterization name or class (one image is built
            per channel, so ready modules are not accepted here).
        transforms: a registered transform name, ``"none"``/``None``, or any ``nn.Module``.
        objective: a registered objective taking ``(layer, channel_index=, batch_index=)``;
            default ``"channel_activation"``.
        device: where to render; default the model's device.
        show_progress: show one tqdm progress bar over all batches.
        fast_path: the GPU switches (:class:`~optim.optimization.FastPath`: channels_last,
            bf16/fp16 autocast, CUDA graph); default ``FastPath()``, which on CPU renders
            exactly like the plain loop.

    Returns:
        A :class:`LayerRenderResult`: one image, one objective history and one final objective
        per channel.

    Raises:
        ValueError: unknown layer (closest names listed), channels out of range (valid range
            given), or an invalid setting.

    Example:
        >>> result = render_layer(model, "features.4", [0, 1, 2], steps=32)  # doctest: +SKIP
        >>> result.final_objectives  # doctest: +SKIP
        [4.2, 3.1, 5.7]
    """
    from optim.hooks import resolve_target

    if not isinstance(model, nn.Module):
        raise TypeError(f"model must be an nn.Module, got {type(model).__name__}.")
    if isinstance(parameterization, nn.Module):
        raise TypeError(
            "render_layer builds one image per channel: pass the parameterization as a "
            "registered name or a class, not a module instance."
        )
    height, width = check_size(size)
    check_positive_int(steps, "steps")
    check_positive_int(batch_size, "batch_size")
    lr = check_lr(lr)
    seed = resolve_seed(seed)
    render_device = resolve_device(model, device)
    module = resolve_target(model, layer)
    count = layer_channel_count(model, layer, min(height, width))
    chosen = _check_channels(channels, count, layer)
    batches = [chosen[i : i + batch_size] for i in range(0, len(chosen), batch_size)]

    images, histories, finals = [], [], []
    progress = tqdm(
        total=steps * len(batches),
        desc=f"{layer} ({len(chosen)} channels)",
        unit="step",
        disable=not show_progress,
    )
    started = time.perf_counter()
    try:
        for batch in batches:
            combined = _slots_objective(module, layer, batch, objective)
            per_step = StepRecord(steps)  # no sync per step; filled by CUDA-graph replays too

            def summarize(values: torch.Tensor, record: StepRecord = per_step) -> torch.Tensor:
                record.append(values)
                return -values.sum()  # each slot's gradient equals its single render's

            with seeded(seed, render_device):
                image = _slot_images(parameterization, (height, width), len(batch), seed)
                image = image.to(render_device)
                transform = build_transforms(transforms).to(render_device)
                optimize(
                    model,
                    combined,
                    image,
                    transform,
                    steps=steps,
                    lr=lr,
                    progress=progress,
                    summarize=summarize,
                    fast_path=fast_path,
                )
                with torch.no_grad():
                    final_images = image().detach()
            images.append(final_images.as_subclass(torch.Tensor).float().cpu())
            histories.append(per_step.values().cpu().as_subclass(torch.Tensor))
            finals.extend(evaluate_objective(model, combined, final_images).tolist())
    finally:
        progress.close()
    wall_time = time.perf_counter() - started

    settings = {
        "layer": layer,
        "channels": chosen,
        "batch_size": batch_size,
        "size": [height, width],
        "steps": steps,
        "lr": lr,
        "seed": seed,
        "parameterization": describe(parameterization),
        "transforms": describe(transforms),
        "objective": objective or "channel_activation",
        "device": str(render_device),
        "fast_path": (fast_path or FastPath()).describe(),
    }
    return LayerRenderResult(
        layer=layer,
        channels=chosen,
        images=torch.cat(images),
        history=torch.cat(histories, dim=1),
        final_objectives=[float(v) for v in finals],
        batches=batches,
        seed=seed,
        settings=settings,
        wall_time_s=wall_time,
    )
