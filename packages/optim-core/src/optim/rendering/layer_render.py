"""``render_layer``: one image per channel of a layer, channels optimised together in batches.

Each channel gets its own batch slot: slot ``i`` of a batch maximises its channel through an
objective with ``batch_index=i``, so one forward/backward pass serves a whole batch of
channels. Channel ``c`` starts from its own noise, drawn from :func:`channel_seed` ``(seed,
layer, c)``; the transforms draw from the job's seed, once per step for the whole batch (the
batch goes through the model as one tensor, and ``RandomScale`` changes its size), the same
draws in every batch. So a channel's image does not depend on its neighbours, its slot or the
rank that rendered it: at the same batch size it is bitwise the same, and other batch sizes
change only the floating-point summation order of batched convolutions. Under a
``torch.distributed`` process group (``torchrun``) the batches are shared out to the ranks.

Example:
    >>> import optim as opt
    >>> model = nn.Sequential(nn.Conv2d(3, 8, 3), nn.ReLU(), nn.Conv2d(8, 16, 3)).eval()
    >>> result = opt.render_layer(model, "2", range(4), size=32, steps=2, show_progress=False)
    >>> result.images.shape
    torch.Size([4, 3, 32, 32])
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import torch
from torch import nn
from tqdm.auto import tqdm

from optim.loss.base import Loss, TargetsToValues
from optim.optimization.finite_check import NotFiniteError
from optim.rendering.engine import (
    EngineRun,
    evaluate_objective,
    optimize_image,
    progress_bar,
    resolve_device,
)
from optim.rendering.input_size import required_input_size
from optim.rendering.objective import LayerView, layer_view, objective_for
from optim.rendering.parse_target import UnitTarget
from optim.rendering.pipeline import build_image, build_transforms, check_buildable
from optim.rendering.ranks import Ranks, current_ranks
from optim.rendering.result import LayerRenderResult
from optim.rendering.spec import RenderSpec
from optim.rendering.unit_render import DEFAULTS, RenderInputs, call_spec

if TYPE_CHECKING:
    from optim.optimization import FastPath

__all__ = [
    "DEFAULT_BATCH_SIZE",
    "SEEDING",
    "LayerJob",
    "channel_seed",
    "prepare_layer_job",
    "render_batches",
    "render_layer",
]

DEFAULT_BATCH_SIZE = DEFAULTS.batch_size
"""Channels optimised together per batch by default."""


SEEDING = "channel-seed-1"
"""How a layer job seeds its channels (recorded in channel manifests; a resumed job renders
files recorded with another scheme again). ``channel-seed-1``: :func:`channel_seed`."""


def channel_seed(seed: int, layer: str, channel: int) -> int:
    """The seed of one channel's random stream in a layer job, derived from (seed, layer,
    channel) with SHA-256: the same on every machine, rank and batch.

    Example:
        >>> channel_seed(0, "_blocks.4", 3) == channel_seed(0, "_blocks.4", 3)
        True
        >>> channel_seed(0, "_blocks.4", 3) != channel_seed(0, "_blocks.4", 4)
        True
    """
    text = f"optim-layer-channel:{seed}:{layer}:{channel}".encode()
    return int.from_bytes(hashlib.sha256(text).digest()[:8], "little") >> 1  # < 2**63


def _slot_images(
    parameterization: str | type, size: tuple[int, int], seeds: list[int], stream: int
) -> nn.Module:
    """One single image per slot, slot ``i`` initialised from ``seeds[i]``, stacked on the
    batch dimension; then torch's RNG is re-seeded with ``stream`` (the transforms' draws), so
    no slot's draws depend on which seeds its neighbours had."""
    from optim.images import StackImage

    singles = []
    for slot_seed in seeds:
        torch.manual_seed(slot_seed)
        singles.append(build_image(parameterization, size, 1))
    torch.manual_seed(stream)
    return StackImage(singles, dim=0)


class _ChannelPerSlot:
    """Slot ``i`` of the batch scores the mean of channel ``channels[i]``: one gather per step
    instead of one objective call per slot (equal to ``ChannelActivation(batch_index=i)``)."""

    def __init__(self, module: nn.Module, channels: list[int]) -> None:
        self.module = module
        self.channels = torch.tensor(channels)
        self._on_device: dict[torch.device, tuple[torch.Tensor, torch.Tensor]] = {}

    def __call__(self, values: TargetsToValues) -> torch.Tensor:
        activation = values[self.module]
        if activation is None:
            raise RuntimeError(f"The layer ({type(self.module).__name__}) produced no output.")
        device = activation.device
        if device not in self._on_device:  # built once per device: no copy inside a CUDA graph
            slots = torch.arange(len(self.channels), device=device)
            self._on_device[device] = (slots, self.channels.to(device))
        slots, channels = self._on_device[device]
        return activation[slots, channels].reshape(len(slots), -1).mean(dim=1)


def _slots_objective(view: LayerView, batch: list[int], objective: str | None) -> Loss:
    """The objective of one batch: slot ``i`` maximises channel ``batch[i]`` (of the layer
    seen as ``[B, C, H, W]``)."""
    from optim.loss import CompositeLoss

    module, layer = view.module, view.name
    if objective in (None, "channel_activation"):
        per_slot = _ChannelPerSlot(module, batch)
        return view.viewed(CompositeLoss(per_slot, name=f"ChannelsOf({layer})", target=module))
    slot_objectives = [
        objective_for(module, UnitTarget(layer, channel), objective, batch_index=slot)
        for slot, channel in enumerate(batch)
    ]
    combined = CompositeLoss(
        lambda values: torch.stack([p(values).mean() for p in slot_objectives]),
        name=f"ChannelsOf({layer})",
        target=module,
    )
    return view.viewed(combined)


def render_layer(
    model: nn.Module,
    layer: str | RenderSpec,
    channels: Iterable[int] | None = None,
    *,
    batch_size: int = DEFAULTS.batch_size,
    size: int | tuple[int, int] | None = None,
    steps: int = DEFAULTS.steps,
    lr: float = DEFAULTS.lr,
    seed: int | None = None,
    parameterization: str | type = DEFAULTS.parameterization,
    transforms: str | nn.Module | None = DEFAULTS.transforms,
    objective: str | None = None,
    token: str = DEFAULTS.token,
    device: str | torch.device | None = None,
    show_progress: bool = True,
    fast_path: FastPath | None = None,
) -> LayerRenderResult:
    """Render every channel of ``layer`` (or the listed ones), ``batch_size`` channels at a time.

    Args:
        model: the network, in eval mode.
        layer: a dotted layer name from ``model.named_modules()``, or a
            :class:`~optim.rendering.RenderSpec` whose target is the layer (then pass no other
            setting).
        channels: the channels to render (a list or range); ``None`` for all of them.
        batch_size: channels optimised together in one batch (one batch slot each).
        size: image size in px, an int or ``(height, width)``; default the model's own size
            when it takes one size only (a ViT), else 160.
        steps: Adam steps per batch.
        lr: Adam learning rate.
        seed: seed of every random draw; when ``None`` drawn from torch's global RNG and
            recorded.
        parameterization: a registered parameterization name or class (one image is built
            per channel, so ready modules are not accepted here).
        transforms: a registered transform name, ``"none"``/``None``, or any ``nn.Module``.
        objective: a registered objective taking ``(layer, channel_index=, batch_index=)``;
            default ``"channel_activation"``.
        token: on a token layer: ``"patches"`` (each channel is a feature averaged over the
            patch tokens) or ``"class"`` (the class token's feature).
        device: where to render; default the model's device.
        show_progress: show one tqdm progress bar over all batches.
        fast_path: the GPU switches (:class:`~optim.optimization.FastPath`); default
            ``FastPath()``, which on CPU fuses the transforms and folds batch norms.

    Returns:
        A :class:`LayerRenderResult`: one image, one objective history and one final objective
        per channel, the spec that ran and what ran.

    Raises:
        ValueError: unknown layer (closest names listed), channels out of range (valid range
            given), or an invalid setting.

    Example:
        >>> model = nn.Sequential(nn.Conv2d(3, 8, 3), nn.ReLU(), nn.Conv2d(8, 8, 3)).eval()
        >>> result = render_layer(
        ...     model, "2", [0, 1, 2], batch_size=2, size=32, steps=2, show_progress=False)
        >>> result.batches, result.history.shape, len(result.final_objectives)
        ([[0, 1], [2]], torch.Size([2, 3]), 3)
    """
    if not isinstance(model, nn.Module):
        raise TypeError(f"model must be an nn.Module, got {type(model).__name__}.")
    settings = {"channels": channels, "batch_size": batch_size, "size": size, "steps": steps,
                "lr": lr, "seed": seed, "objective": objective, "token": token,
                "device": device}  # fmt: skip
    if not isinstance(layer, str | RenderSpec):
        raise TypeError(f"layer must be a dotted layer name or a RenderSpec, got {layer!r}.")
    if isinstance(parameterization, nn.Module):
        raise TypeError(
            "render_layer builds one image per channel: pass the parameterization as a "
            "registered name or a class, not a module instance."
        )
    spec, inputs, fast_path = call_spec(
        "render_layer", model, layer, settings, parameterization=parameterization,
        transforms=transforms, fast_path=fast_path,
    )  # fmt: skip
    return render_layer_spec(model, spec, inputs, show_progress=show_progress, fast_path=fast_path)


def render_layer_spec(
    model: nn.Module,
    spec: RenderSpec,
    inputs: RenderInputs | None = None,
    *,
    show_progress: bool = True,
    fast_path: FastPath | None = None,
) -> LayerRenderResult:
    """Run the layer job of ``spec`` on ``model`` (the engine behind :func:`render_layer`).

    Under an initialised ``torch.distributed`` process group (``torchrun``) each rank renders
    its share of the batches and every rank returns the whole result.
    """
    ranks = current_ranks()
    job = prepare_layer_job(model, spec, ranks)
    ranks.check_enough(len(job.batches))
    progress = progress_bar(
        job.spec.steps * len(job.batches), f"{job.layer} ({len(job.channels)} channels)",
        show_progress and ranks.is_main,
    )  # fmt: skip
    try:
        done = render_batches(model, job, ranks.shard(job.batches), inputs, progress, fast_path)
    except Exception as exc:
        if ranks.distributed:  # the other ranks learn why, then this rank raises its own error
            ranks.raise_if_any_failed(f"{type(exc).__name__}: {exc}")
        raise
    finally:
        progress.close()
    if ranks.distributed:
        return _gather(ranks, job, done)
    if not done.batches:
        raise KeyboardInterrupt  # interrupted before any batch finished: nothing to keep
    return done.result(job.layer, job.spec)


@dataclass(frozen=True)
class LayerJob:
    """A layer job resolved against its model: every rank computes the same one."""

    spec: RenderSpec  # channels, seed, device and objective filled in
    view: LayerView  # the layer's module, shape and layout
    device: torch.device

    @property
    def module(self) -> nn.Module:
        return self.view.module

    @property
    def layer(self) -> str:
        return self.spec.unit.layer

    @property
    def channels(self) -> list[int]:
        return list(self.spec.channels or ())

    @property
    def batches(self) -> list[list[int]]:
        """The channels in job order, ``batch_size`` at a time."""
        size = self.spec.batch_size
        return [self.channels[i : i + size] for i in range(0, len(self.channels), size)]


def prepare_layer_job(model: nn.Module, spec: RenderSpec, ranks: Ranks | None = None) -> LayerJob:
    """Check ``spec``'s layer and channels on ``model`` and fill in what the job needs: the
    channels (all when ``None``), the seed (drawn on rank 0 and shared), the device and the
    objective."""
    device = resolve_device(model, spec.device)
    layer = spec.unit.layer
    if spec.unit.channel is not None:
        raise ValueError(
            f"render_layer renders whole channels: give the layer {layer!r}, not {spec.target!r}."
        )
    view = layer_view(model, layer, spec.size, spec.token)
    count = view.channels
    chosen = list(spec.channels) if spec.channels is not None else list(range(count))
    outside = [c for c in chosen if c >= count]
    if outside:
        raise ValueError(
            f"Channel {outside[0]} is out of range for layer {layer!r}, which has {count} "
            f"channels: use 0..{count - 1}."
        )
    seed = (ranks or Ranks()).broadcast(spec.with_seed().seed)
    spec = spec.replace(
        seed=seed, device=str(device), channels=tuple(chosen),
        objective=spec.objective or "channel_activation",
    )  # fmt: skip
    return LayerJob(spec, view, device)


def render_batches(
    model: nn.Module,
    job: LayerJob,
    batches: Sequence[list[int]],
    inputs: RenderInputs | None = None,
    progress: tqdm | Any = None,
    fast_path: FastPath | None = None,
    on_batch: Callable[[LayerRenderResult], None] | None = None,
) -> _Done:
    """Optimise ``batches`` of ``job`` one after another; ``on_batch`` gets each finished
    batch as its own result (to write its files before the next batch starts)."""
    inputs = inputs or RenderInputs()
    spec, layer = job.spec, job.layer
    parameterization = inputs.parameterization or spec.parameterization
    transforms = inputs.transforms or spec.transforms
    fixed_size = required_input_size(model)  # a ViT: transforms crop/pad back to its size
    check_buildable(parameterization, transforms, size=spec.size, batch=1)  # fail early
    done = _Done()
    for batch in batches:
        combined = _slots_objective(job.view, batch, spec.objective)
        seeds = [channel_seed(spec.fixed_seed, layer, channel) for channel in batch]

        def build(seeds: list[int] = seeds) -> tuple[nn.Module, nn.Module]:
            image = _slot_images(parameterization, spec.size, seeds, spec.fixed_seed)
            return image, build_transforms(transforms, fixed_size=fixed_size)

        try:
            run = optimize_image(
                model, combined, build, seed=spec.fixed_seed, steps=spec.steps, lr=spec.lr,
                device=job.device, progress=progress, fast_path=fast_path, record="per_slot",
            )  # fmt: skip
        except NotFiniteError as exc:  # the batches that finished go with the error
            exc.result = done.result(layer, spec, error=f"channels {batch}: {exc}")
            raise
        if run.interrupted:  # Ctrl-C: stop the job, keep the batches that finished
            done.interrupted = True
            break
        values = evaluate_objective(model, combined, run.images)
        if values is None:  # the slots objective reads a layer of the model: never None
            raise RuntimeError(f"The objective of layer {layer!r} reads no output of the model.")
        finals = values.tolist()
        done.add(batch, run, finals)
        if on_batch is not None:
            single = _Done()
            single.add(batch, run, finals)
            on_batch(single.result(layer, spec))
    return done


def _gather(ranks: Ranks, job: LayerJob, done: _Done) -> LayerRenderResult:
    """Every rank's finished batches, reassembled in job order, on every rank."""
    error = "interrupted" if done.interrupted else None
    ranks.raise_if_any_failed(error)
    if done.interrupted:
        raise KeyboardInterrupt
    parts = ranks.all_gather(done.result(job.layer, job.spec))
    by_batch = {}
    for part in parts:
        for batch in part.batches:
            by_batch[batch[0]] = (part, batch)
    whole = _Done()
    for batch in job.batches:
        part, _ = by_batch[batch[0]]
        whole.add_from(part, batch)
    whole.wall_time = sum(part.wall_time_s for part in parts)
    return whole.result(job.layer, job.spec)


class _Done:
    """The finished batches of a layer job."""

    def __init__(self) -> None:
        self.batches: list[list[int]] = []
        self.images: list[torch.Tensor] = []
        self.histories: list[torch.Tensor] = []
        self.finals: list[float] = []
        self.ran: dict = {}
        self.wall_time = 0.0
        self.batch_times: list[float] = []
        self.interrupted = False

    def add(self, batch: list[int], run: EngineRun, finals: list[float]) -> None:
        self.batches.append(batch)
        self.images.append(run.images.as_subclass(torch.Tensor).float().cpu())
        self.histories.append(run.history)
        self.finals.extend(float(v) for v in finals)
        self.ran = self.ran or run.ran
        self.wall_time += run.wall_time_s
        self.batch_times.append(run.wall_time_s)

    def add_from(self, part: LayerRenderResult, batch: list[int]) -> None:
        """Take ``batch`` over from another rank's result."""
        index = part.batches.index(batch)
        first = sum(len(b) for b in part.batches[:index])
        rows = slice(first, first + len(batch))
        self.batches.append(batch)
        self.images.append(part.images[rows])
        self.histories.append(part.history[:, rows])
        self.finals.extend(part.final_objectives[rows])
        self.ran = self.ran or part.ran
        self.batch_times.append(part.batch_wall_times_s[index])

    def result(self, layer: str, spec: RenderSpec, error: str | None = None) -> LayerRenderResult:
        return LayerRenderResult(
            layer=layer,
            channels=[c for batch in self.batches for c in batch],
            images=torch.cat(self.images) if self.images else torch.empty(0, 3, *spec.size),
            history=torch.cat(self.histories, dim=1) if self.histories else torch.empty(0, 0),
            final_objectives=self.finals,
            batches=self.batches,
            seed=spec.fixed_seed,
            settings={**spec.to_dict(), "layer": layer},
            wall_time_s=self.wall_time,
            batch_wall_times_s=self.batch_times,
            spec=spec,
            ran=self.ran,
            interrupted=self.interrupted,
            error=error,
        )
