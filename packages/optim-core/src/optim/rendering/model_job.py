"""``render_model``: many layers of a model, each its own gallery, under one model page.

Each layer is a layer job (:func:`~optim.rendering.layer_job.run_layer_job`) into
``<out>/<layer>/``, so layers shard over ``torchrun`` ranks and resume like ``optim layer``;
the batches of consecutive layers are dealt out to the ranks continuing where the previous
layer stopped, so that small layers do not all land on rank 0. Rank 0 then writes the model
page ``<out>/index.html`` (see :mod:`optim.rendering.model_site`).

Example:
    >>> import tempfile
    >>> import optim as opt
    >>> model = nn.Sequential(nn.Conv2d(3, 4, 3), nn.ReLU(), nn.Conv2d(4, 2, 3)).eval()
    >>> spec = opt.rendering.LAYER_JOB.replace(channels=range(3), size=32, steps=2, seed=0)
    >>> with tempfile.TemporaryDirectory() as tmp:
    ...     site = opt.rendering.render_model(model, ["0", "2"], tmp, spec, show_progress=False)
    ...     site.index.relative_to(tmp), [p.name for p in sorted(Path(tmp).glob("*/index.html"))]
    (PosixPath('index.html'), ['index.html', 'index.html'])
    >>> [layer.spec.channels for layer in site.layers]  # layer "2" has two channels only
    [(0, 1, 2), (0, 1)]
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from torch import nn

from optim.hooks.targets import resolve_target
from optim.rendering.layer_job import FolderError, LayerJobResult, run_layer_job
from optim.rendering.model_site import SiteLayer, read_site, write_site
from optim.rendering.objective import layer_view
from optim.rendering.ranks import Ranks, current_ranks
from optim.rendering.spec import LAYER_JOB, RenderSpec

if TYPE_CHECKING:
    from optim.optimization import FastPath
    from optim.rendering.model_source import ModelSource

__all__ = ["ModelJobResult", "layer_folder", "model_layers", "render_model"]

_CONTAINERS = (nn.Sequential, nn.ModuleList, nn.ModuleDict)


@dataclass(frozen=True)
class ModelJobResult:
    """What :func:`render_model` did: one :class:`LayerJobResult` per layer, in order."""

    spec: RenderSpec
    layers: list[LayerJobResult]
    index: Path | None = None
    ranks: Ranks = field(default_factory=Ranks)

    @property
    def interrupted(self) -> bool:
        return any(layer.interrupted for layer in self.layers)

    @property
    def error(self) -> str | None:
        return next((layer.error for layer in self.layers if layer.error), None)

    @property
    def wall_time_s(self) -> float:
        return sum(layer.wall_time_s for layer in self.layers)


def model_layers(model: nn.Module) -> list[str]:
    """The layers ``--all`` renders: the model's children, containers (Sequential,
    ModuleList, ModuleDict) replaced by their own children.

    Example:
        >>> model_layers(nn.Sequential(nn.Conv2d(3, 4, 3), nn.Sequential(nn.ReLU(), nn.ReLU())))
        ['0', '1.0', '1.1']
    """
    names: list[str] = []
    for name, child in model.named_children():
        if isinstance(child, _CONTAINERS):
            names.extend(f"{name}.{sub}" for sub, _ in child.named_children())
        else:
            names.append(name)
    return names


def layer_folder(layer: str) -> str:
    """The folder of a layer's gallery in a model site (the name, made safe for a path).

    Example:
        >>> layer_folder("_blocks.4"), layer_folder("a/b")
        ('_blocks.4', 'a_b')
    """
    return re.sub(r"[^A-Za-z0-9._-]", "_", layer).lstrip(".") or "_"


def _check_layers(model: nn.Module, layers: list[str]) -> list[str]:
    if not layers:
        raise ValueError("No layers to render: name some (`optim layers MODEL` lists them).")
    for layer in layers:
        resolve_target(model, layer)  # unknown layer: ValueError with the closest names
    repeated = sorted({layer for layer in layers if layers.count(layer) > 1})
    if repeated:
        raise ValueError(f"Layer {repeated[0]!r} is listed more than once; list it once.")
    return list(layers)


def _check_folder(out: Path, model_name: str, force: bool) -> None:
    site = read_site(out)
    if force:
        return
    if site is not None and site.get("model") != model_name:
        raise FolderError(
            f"{str(out)!r} holds the site of {site.get('model')}, not of {model_name}: choose "
            "another --out, or pass --force to replace that site."
        )
    if site is None and (out / "index.html").exists():
        raise FolderError(
            f"{str(out / 'index.html')!r} exists and is not part of an optim site: choose "
            "another --out, or pass --force to replace it."
        )


def _layer_spec(model: nn.Module, spec: RenderSpec, layer: str) -> tuple[RenderSpec, int]:
    """``spec`` for one layer, with the requested channels that the layer has (all when
    none), and the layer's channel count."""
    count = layer_view(model, layer, spec.size, spec.token).channels
    wanted = spec.channels if spec.channels is not None else range(count)
    kept = tuple(c for c in wanted if c < count)
    if not kept:
        raise ValueError(
            f"Layer {layer!r} has {count} channels, none of those asked for "
            f"({wanted[0]}..{wanted[-1]}); ask for channels from 0..{count - 1}."
        )
    return spec.replace(target=layer, channels=kept), count


def render_model(
    model: nn.Module,
    layers: list[str] | None,
    out: str | os.PathLike[str],
    spec: RenderSpec | None = None,
    *,
    source: ModelSource | None = None,
    force: bool = False,
    show_progress: bool = True,
    fast_path: FastPath | None = None,
) -> ModelJobResult:
    """Render ``layers`` of ``model`` (``None``: :func:`model_layers`) into a static site.

    Args:
        model: the network, in eval mode.
        layers: dotted layer names; ``None`` for every block (:func:`model_layers`).
        out: the site folder: ``index.html`` (the model page) and one gallery per layer.
        spec: the settings of every layer job (its ``target`` is replaced by each layer; its
            ``channels`` are taken from each layer as far as it has them; ``None``: every
            channel). Default :data:`~optim.rendering.LAYER_JOB`'s settings.
        source: the registered model's description (recorded in the manifests).
        force: render everything again, replacing what ``out`` holds.
        show_progress: one bar per layer on rank 0.
        fast_path: the GPU switches.

    Returns:
        A :class:`ModelJobResult` (``index`` is set on rank 0).

    Raises:
        ValueError: an unknown layer (closest names listed), channels a layer does not have,
            more ranks than batches, or ``out`` holding another model's site
            (:class:`~optim.rendering.layer_job.FolderError`).
    """
    ranks = current_ranks()
    spec = spec or LAYER_JOB
    out = Path(out)
    model_name = source.name if source is not None else spec.model
    names = _check_layers(model, list(layers) if layers is not None else model_layers(model))
    _check_folder(out, model_name, force)
    plans = [_layer_spec(model, spec, layer) for layer in names]
    # Batches per layer (_layer_spec sets every spec's channels).
    counts = [-(-len(s.channels or ()) // s.batch_size) for s, _ in plans]
    ranks.check_enough(sum(counts))
    done: list[LayerJobResult] = []
    first_rank = 0
    for layer, (layer_spec, _), count in zip(names, plans, counts):
        job = run_layer_job(
            model, layer_spec, out / layer_folder(layer), source=source, force=force,
            show_progress=show_progress, fast_path=fast_path, up=("../index.html", model_name),
            first_rank=first_rank,
        )  # fmt: skip
        done.append(job)
        first_rank = (first_rank + count) % ranks.world_size
        if not job.finished:
            break  # Ctrl-C or a non-finite objective: keep what finished, stop here
    result = ModelJobResult(spec, done, ranks=ranks)
    if not ranks.is_main:
        return result
    cards = [
        SiteLayer(
            name=layer,
            channel_count=channel_count,
            rendered=job.channels_done,
            gallery=f"{layer_folder(layer)}/index.html",
            thumbnail=f"{layer_folder(layer)}/grid.png" if job.paths is not None else "",
            finished=job.finished,
        )
        for layer, (_, channel_count), job in zip(names, plans, done)
    ]
    summary = (
        f"{len(cards)} layers · {spec.size[0]}x{spec.size[1]} px · {spec.steps} steps · "
        f"{sum(j.channels_done for j in done)} channels"
    )
    index = write_site(out, model_name, cards, summary)
    return ModelJobResult(spec, done, index, ranks)
