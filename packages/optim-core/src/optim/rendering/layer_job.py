"""The layer job: a layer's gallery, rendered batch by batch, sharded over ranks, resumable.

What ``optim layer`` and ``render_model`` run. The channel files in the folder are the job's
record of what is finished:

- each batch's channel PNGs and manifests are written (atomically) as soon as the batch
  finishes, by the rank that rendered it, so a job killed mid-run loses only the batches in
  flight;
- a re-run into the same folder renders only the batches with a missing or damaged channel,
  or whose recorded settings or weights differ; ``force`` renders every batch;
- under ``torchrun`` the batches to render are dealt out to the ranks (batch ``k`` to rank
  ``k mod N``); after every rank reports, rank 0 writes ``grid.png``, ``manifest.json`` and
  ``index.html`` from the channel files. Until then the folder holds no index, so an
  unfinished gallery is never presented as finished.

A channel's image depends only on the model, the layer, the channel, the seed, the settings
and its batch (see :func:`~optim.rendering.layer_render.channel_seed`), so the gallery is the
same however many ranks drew it and however often it was resumed.

Example:
    >>> import tempfile
    >>> from optim.rendering import RenderSpec
    >>> from optim.rendering.layer_job import run_layer_job
    >>> model = nn.Sequential(nn.Conv2d(3, 4, 3)).eval()
    >>> spec = RenderSpec(target="0", channels=range(4), batch_size=2, size=32, steps=2, seed=0)
    >>> with tempfile.TemporaryDirectory() as tmp:
    ...     first = run_layer_job(model, spec, tmp, show_progress=False)
    ...     again = run_layer_job(model, spec, tmp, show_progress=False)  # finds it finished
    >>> first.rendered, first.kept
    ([[0, 1], [2, 3]], [])
    >>> again.rendered, again.kept
    ([], [[0, 1], [2, 3]])
"""

from __future__ import annotations

import dataclasses
import itertools
import os
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import torch
from torch import nn
from tqdm.auto import tqdm

from optim.optimization.finite_check import NotFiniteError
from optim.rendering.exemplar_gallery import exemplar_views
from optim.rendering.gallery import (
    GALLERY_FILES,
    ChannelRecord,
    GalleryPaths,
    read_channel,
    remove_stale_channels,
    remove_temp_files,
    write_channels,
    write_index,
)
from optim.rendering.layer_render import SEEDING, LayerJob, prepare_layer_job, render_batches
from optim.rendering.manifest import read_manifest
from optim.rendering.model_source import ModelSource
from optim.rendering.ranks import RankFailedError, Ranks, current_ranks
from optim.rendering.result import LayerRenderResult
from optim.rendering.spec import RenderSpec
from optim.rendering.unit_render import fast_path_of

if TYPE_CHECKING:
    from optim.optimization import FastPath
    from optim.rendering.unit_render import RenderInputs

__all__ = ["FolderError", "LayerJobResult", "continue_spec", "recorded_job", "run_layer_job"]

WHERE_NOT_WHAT = ("device", "cuda_graph")
"""Spec fields that say where a batch ran, not what it is: a change does not re-render."""

_JOBS = itertools.count()  # numbers the jobs of a process (the same on every rank)


class FolderError(ValueError):
    """The output folder holds another job's gallery."""


@dataclass(frozen=True)
class LayerJobResult:
    """What :func:`run_layer_job` did.

    Attributes:
        spec: the job (channels, seed and device resolved).
        rendered: the batches this run rendered, over every rank.
        kept: the batches that were up to date from an earlier run.
        wall_time_s: seconds this run spent optimising, over every rank.
        paths: the gallery's files (on rank 0; ``None`` on the others).
        interrupted: Ctrl-C stopped the job before every batch finished.
        error: why the job stopped early (a non-finite objective), or ``None``.
        ranks: the ranks that ran it.
    """

    spec: RenderSpec
    rendered: list[list[int]]
    kept: list[list[int]]
    wall_time_s: float
    paths: GalleryPaths | None = None
    interrupted: bool = False
    error: str | None = None
    ranks: Ranks = field(default_factory=Ranks)

    @property
    def layer(self) -> str:
        return self.spec.unit.layer

    @property
    def channels(self) -> list[int]:
        return list(self.spec.channels or ())

    @property
    def channels_done(self) -> int:
        """Channels with their files: rendered by this run or kept from an earlier one."""
        return sum(len(batch) for batch in (*self.rendered, *self.kept))

    @property
    def finished(self) -> bool:
        """Every channel of the job has its files."""
        return not self.interrupted and self.error is None

    @property
    def channel_steps_per_s(self) -> float:
        """Channels times steps rendered by this run, per second of optimising (all ranks)."""
        channels = sum(len(batch) for batch in self.rendered)
        seconds = self.wall_time_s
        return channels * self.spec.steps / seconds if seconds > 0 else float("inf")


def recorded_job(out: str | os.PathLike[str]) -> dict[str, Any] | None:
    """The model, layer and seed of the gallery in ``out`` (from its manifest, or from a
    channel manifest when the job never finished); ``None`` for a folder without one.

    Example:
        >>> recorded_job("no/such/folder") is None
        True
    """
    out = Path(out)
    candidates = [out / "manifest.json", *sorted((out / "channels").glob("channel_*.json"))]
    for path in candidates:
        if not path.is_file():
            continue
        try:
            manifest = read_manifest(path)
        except ValueError:
            continue
        if manifest["kind"] not in ("layer", "layer_channel"):
            continue
        spec = manifest.get("spec") or {}
        layer = (spec.get("target") or manifest.get("target", "")).split(":")[0]
        model = (manifest.get("model") or {}).get("name", spec.get("model"))
        return {"model": model, "layer": layer, "seed": spec.get("seed"), "path": path}
    return None


def continue_spec(
    out: str | os.PathLike[str],
    spec: RenderSpec,
    *,
    force: bool = False,
    ranks: Ranks | None = None,
) -> RenderSpec:
    """The layer job ``spec`` as it continues in the folder ``out``.

    A folder holding another model's or layer's gallery is refused (unless ``force``). A
    spec without a seed takes the seed recorded in the folder, so that re-running the same
    command resumes; otherwise a fresh seed is drawn from the operating system on rank 0 and
    shared with every rank.

    Example:
        >>> continue_spec("no/such/folder", RenderSpec(target="conv1", seed=3)).seed
        3
    """
    out, ranks = Path(out), ranks or Ranks()
    recorded = recorded_job(out)
    layer = spec.unit.layer
    foreign = [out / name for name in GALLERY_FILES if (out / name).exists()]
    if foreign and not force and (recorded is None or recorded["path"].name != "manifest.json"):
        raise FolderError(
            f"{str(foreign[0])!r} exists and is not part of an optim gallery: choose another "
            "--out, or pass --force to replace it."
        )
    if recorded is not None and not force:
        if recorded["model"] != spec.model or recorded["layer"] != layer:
            raise FolderError(
                f"{str(out)!r} holds the gallery of {recorded['model']} {recorded['layer']} "
                f"({recorded['path'].name}), not of {spec.model} {layer}: choose another "
                "--out, or pass --force to replace that gallery."
            )
        if spec.seed is None and isinstance(recorded["seed"], int):
            spec = spec.replace(seed=recorded["seed"])
    if spec.seed is None:
        spec = spec.replace(seed=ranks.broadcast(spec.with_seed(fresh=True).seed))
    return spec


def _finished(
    out: Path, job: LayerJob, batch: list[int], weights: str | None
) -> list[ChannelRecord] | None:
    """The records of ``batch`` when every channel has intact files recording exactly this
    batch's spec, seeding and the model's weights; ``None`` when it must be rendered."""
    expected = _what(job.spec.for_batch(batch).to_dict())
    records = []
    for channel in batch:
        record = read_channel(out, channel)
        if record is None or _what(record.manifest.get("spec") or {}) != expected:
            return None
        if record.manifest.get("seeding") != SEEDING:  # rendered by an older optim
            return None
        model = record.manifest.get("model") or {}
        if weights is not None and model.get("state_dict_sha256") != weights:
            return None
        records.append(record)
    return records


def _what(spec: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in spec.items() if k not in WHERE_NOT_WHAT}


class _Progress:
    """One bar for the whole job on rank 0: channels finished by every rank, of the total.

    Ranks count finished channels in the process group's key-value store (the one
    ``torchrun``'s rendezvous set up); the bar shows the step of rank 0's current batch too.
    """

    def __init__(self, total: int, desc: str, ranks: Ranks, enabled: bool, steps: int) -> None:
        self.ranks, self.steps, self.step = ranks, steps, 0
        self.bar = tqdm(total=total, desc=desc, unit="channel", disable=not enabled)
        self.key = f"optim/job-{next(_JOBS)}"
        self.store = _store() if ranks.distributed else None
        self._shown_at = 0.0

    def update(self, n: int = 1) -> None:  # a step of the current batch (the engine's call)
        self.step += n
        now = time.monotonic()
        if now - self._shown_at > 1 or self.step >= self.steps:
            self.bar.set_postfix_str(f"batch step {self.step}/{self.steps}")
            self._shown_at = now

    def set_postfix(self, **values: Any) -> None:
        pass  # the engine's loss display: a job shows channels instead

    def batch_done(self, channels: int) -> None:
        self.step = 0
        done = self.store.add(f"{self.key}/channels", channels) if self.store else None
        self._show(done if done is not None else int(self.bar.n) + channels)

    def rank_done(self) -> None:
        """This rank rendered its share; rank 0 then follows the others until all are done."""
        if self.store is None:
            return
        self.store.add(f"{self.key}/ranks", 1)
        if self.ranks.is_main:
            while self.store.add(f"{self.key}/ranks", 0) < self.ranks.world_size:
                self._show(self.store.add(f"{self.key}/channels", 0))
                time.sleep(0.2)
            self._show(self.store.add(f"{self.key}/channels", 0))

    def _show(self, done: int) -> None:
        if done > self.bar.n:
            self.bar.update(done - self.bar.n)

    def close(self) -> None:
        self.bar.close()


def _store() -> torch.distributed.Store | None:
    """The process group's key-value store (``None`` if this torch does not expose it)."""
    try:
        return torch.distributed.distributed_c10d._get_default_store()
    except (AttributeError, RuntimeError, ValueError):
        return None


def run_layer_job(
    model: nn.Module,
    spec: RenderSpec,
    out: str | os.PathLike[str],
    *,
    source: ModelSource | None = None,
    force: bool = False,
    show_progress: bool = True,
    fast_path: FastPath | None = None,
    inputs: RenderInputs | None = None,
    up: tuple[str, str] | None = None,
    first_rank: int | None = None,
    exemplars: Any = None,
) -> LayerJobResult:
    """Render the layer job ``spec`` of ``model`` into the gallery folder ``out``.

    Resumes what an earlier run into ``out`` finished (see the module docstring); under an
    initialised ``torch.distributed`` process group each rank renders its share.

    Args:
        model: the network, in eval mode, on the job's device.
        spec: the layer job (``target`` a layer; ``channels`` ``None`` for all).
        out: the gallery folder (created if missing).
        source: the registered model's description (recorded; its name and weights decide
            whether the folder's files belong to this job).
        force: render every batch again, and delete the files of other channels.
        show_progress: one bar on rank 0 (channels done of the total).
        fast_path: the GPU switches (default: the spec's ``precision`` and ``cuda_graph``).
        inputs: Python objects standing in for the spec's names (parameterization, transforms).
        up: ``(href, text)`` of a link from the gallery page up to a page holding it.
        first_rank: the rank that takes the first batch, when this job is part of a larger
            one (then a rank may have no batch of this layer); ``None``: a job of its own,
            which needs at least one batch per rank.
        exemplars: dataset exemplars to show beside each render, with the ratio render /
            exemplar (``opt.dataset.top_exemplars(...)`` or ``load_exemplars``; rank 0's).

    Raises:
        FolderError: ``out`` holds another model's or layer's gallery (and not ``force``).
        ValueError: an unknown layer, channels out of range, more ranks than batches.
        RankFailedError: another rank failed (this rank's own error is raised as itself).
    """
    ranks = current_ranks()
    out = Path(out)
    spec = continue_spec(out, spec, force=force, ranks=ranks)
    job = prepare_layer_job(model, spec, ranks)
    if first_rank is None:
        ranks.check_enough(len(job.batches))
    weights = source.state_dict_sha256 if source is not None else None
    pending: list[list[int]] = []
    kept: list[list[int]] = []
    kept_records: dict[int, ChannelRecord] = {}
    for batch in job.batches:
        records = None if force else _finished(out, job, batch, weights)
        if records is None:
            pending.append(batch)
        else:
            kept.append(batch)
            kept_records.update((record.channel, record) for record in records)
    if ranks.is_main:  # before the collective below: no rank writes before it
        remove_temp_files(out)
    if any(plan != pending for plan in ranks.all_gather(pending)):
        raise ValueError(
            f"The ranks see different files in {str(out)!r}: the output folder must be on a "
            "filesystem that every rank shares."
        )
    if ranks.is_main:
        out.mkdir(parents=True, exist_ok=True)
        if pending:  # not finished until rank 0 writes these again
            for name in GALLERY_FILES:
                (out / name).unlink(missing_ok=True)
        if force:
            remove_stale_channels(out, job.channels)
    mine = ranks.shard(pending, first_rank or 0)
    ranks.log(f"{job.layer}: {len(mine)} of {len(pending)} batches to render")
    total = sum(len(b) for b in pending)
    progress = _Progress(
        total, f"{job.layer} ({total} channels)", ranks,
        show_progress and ranks.is_main and bool(pending), job.spec.steps,
    )  # fmt: skip

    def on_batch(result: LayerRenderResult) -> None:
        write_channels(result, out, source)
        progress.batch_done(len(result.channels))
        ranks.log(f"{job.layer}: channels {result.channels} done in {result.wall_time_s:.1f} s")

    fast_path = fast_path if fast_path is not None else fast_path_of(job.spec)
    report: dict[str, Any] = {"rendered": [], "seconds": 0.0, "interrupted": False,
                              "error": None, "failed": None}  # fmt: skip
    failure = None
    try:
        done = render_batches(model, job, mine, inputs, progress, fast_path, on_batch)
        report.update(rendered=done.batches, seconds=done.wall_time, interrupted=done.interrupted)
    except NotFiniteError as exc:  # the batches that finished before are on disk
        if not isinstance(exc.result, LayerRenderResult):  # render_batches always attaches one
            raise
        report.update(rendered=exc.result.batches, seconds=exc.result.wall_time_s)
        report["error"] = str(exc)
    except Exception as exc:
        if not ranks.distributed:
            raise
        failure, report["failed"] = exc, f"{type(exc).__name__}: {exc}"
    finally:
        progress.rank_done()
        progress.close()
    reports = ranks.all_gather(report)  # one collective on every rank, failed or not
    if failure is not None:
        raise failure
    failed = [(rank, r["failed"]) for rank, r in enumerate(reports) if r["failed"]]
    if failed:
        raise RankFailedError(f"rank {failed[0][0]} of {ranks.world_size} failed: {failed[0][1]}")
    rendered = [b for b in job.batches if any(b in r["rendered"] for r in reports)]
    errors = [r["error"] for r in reports if r["error"]]
    result = LayerJobResult(
        spec=job.spec,
        rendered=rendered,
        kept=kept,
        wall_time_s=sum(r["seconds"] for r in reports),
        interrupted=any(r["interrupted"] for r in reports),
        error=errors[0] if errors else None,
        ranks=ranks,
    )
    if not ranks.is_main:
        return result
    found = [kept_records.get(c) or read_channel(out, c) for c in job.channels]
    records = [record for record in found if record is not None]
    if not records:
        return result
    views = None
    if exemplars is not None:
        views = exemplar_views(model, out, job.layer, records, exemplars)
    paths = write_index(
        out, job.spec, records, source, rendered=rendered, interrupted=result.interrupted,
        error=result.error, up=up, exemplars=views,
    )  # fmt: skip
    return dataclasses.replace(result, paths=paths)
