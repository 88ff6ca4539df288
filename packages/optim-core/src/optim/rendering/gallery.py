"""A static gallery of a layer job: per-channel PNGs and manifests, a grid PNG, index.html.

The page needs no server and loads nothing from the network: open ``index.html`` from disk.
Thumbnails carry the channel id and final objective; clicking one enlarges it (pure CSS,
``:target``), and each links to its channel manifest.

The channel files are the gallery's record of what finished: each is written atomically as
soon as its batch finishes (by whichever rank rendered it), and the grid, ``manifest.json``
and ``index.html`` are written from them (:func:`write_index`), so a resumed or sharded job
writes the same gallery as one uninterrupted run.

Example:
    >>> import tempfile
    >>> import torch.nn as nn
    >>> from optim.rendering import render_layer
    >>> from optim.rendering.gallery import write_gallery
    >>> model = nn.Sequential(nn.Conv2d(3, 2, 3)).eval()
    >>> result = render_layer(model, "0", size=32, steps=2, show_progress=False)
    >>> with tempfile.TemporaryDirectory() as tmp:
    ...     paths = write_gallery(result, Path(tmp, "gallery"))
    ...     sorted(p.relative_to(tmp).as_posix() for p in Path(tmp, "gallery").rglob("*.*"))
    ['gallery/channels/channel_0000.json', 'gallery/channels/channel_0000.png',
     'gallery/channels/channel_0001.json', 'gallery/channels/channel_0001.png',
     'gallery/grid.png', 'gallery/index.html', 'gallery/manifest.json']
"""

from __future__ import annotations

import html
import os
import re
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from optim.rendering.exemplar_gallery import RATIO_NOTE, ExemplarView
from optim.rendering.files import write_text_atomic
from optim.rendering.manifest import (
    channel_manifest,
    layer_manifest,
    read_manifest,
    write_manifest,
)
from optim.rendering.model_source import ModelSource, sha256_file
from optim.rendering.result import LayerRenderResult, write_png
from optim.rendering.spec import RenderSpec

__all__ = [
    "CHANNEL_DIR",
    "GALLERY_FILES",
    "ChannelRecord",
    "GalleryPaths",
    "channel_files",
    "read_channel",
    "remove_stale_channels",
    "remove_temp_files",
    "render_index_html",
    "write_channels",
    "write_gallery",
    "write_index",
]

CHANNEL_DIR = "channels"
GALLERY_FILES = ("index.html", "grid.png", "manifest.json")
"""The files that present a gallery as a whole (written last, from the channel files)."""
_CHANNEL_FILE = re.compile(r"channel_(\d+)\.(png|json)")
_CHANNEL_TEMP = re.compile(r"\.channel_\d+\..+\.(png|json)")
"""A channel file's temp file (see :func:`~optim.rendering.files.write_atomic`)."""


@dataclass(frozen=True)
class GalleryPaths:
    """The files of a gallery."""

    index: Path
    grid: Path
    manifest: Path
    channel_images: dict[int, Path]
    channel_manifests: dict[int, Path]


def channel_files(out: str | os.PathLike[str], channel: int) -> tuple[Path, Path]:
    """The PNG and manifest of ``channel`` in the gallery ``out`` (the names depend only on
    the channel, so a resumed job finds the files of an earlier run).

    Example:
        >>> [p.as_posix() for p in channel_files("g", 7)]
        ['g/channels/channel_0007.png', 'g/channels/channel_0007.json']
    """
    stem = Path(out) / CHANNEL_DIR / f"channel_{channel:04d}"
    return stem.with_suffix(".png"), stem.with_suffix(".json")


@dataclass(frozen=True)
class ChannelRecord:
    """One finished channel of a gallery, as its files record it."""

    channel: int
    image: Path
    manifest_path: Path
    manifest: dict[str, Any]

    @property
    def final_objective(self) -> float:
        return self.manifest["result"]["final_objective"]

    @property
    def batch(self) -> list[int]:
        """The channels it was optimised with."""
        return list(self.manifest["settings"]["channels"])

    @property
    def batch_seconds(self) -> float:
        return float(self.manifest["result"].get("wall_time_s_batch") or 0.0)


def read_channel(out: str | os.PathLike[str], channel: int) -> ChannelRecord | None:
    """The record of ``channel`` in the gallery ``out``; ``None`` when its files are missing,
    damaged, or the PNG is not the one its manifest recorded.

    Example:
        >>> read_channel("no/such/gallery", 3) is None
        True
    """
    image, manifest_path = channel_files(out, channel)
    if not image.is_file() or not manifest_path.is_file():
        return None
    try:
        manifest = read_manifest(manifest_path)
    except ValueError:
        return None
    if manifest["kind"] != "layer_channel" or manifest.get("channel") != channel:
        return None
    if sha256_file(image) != manifest["outputs"]["image_sha256"]:
        return None
    return ChannelRecord(channel, image, manifest_path, manifest)


def write_channels(
    result: LayerRenderResult, out: str | os.PathLike[str], model: ModelSource | None = None
) -> dict[int, ChannelRecord]:
    """Write the PNG and then the manifest of every channel of ``result`` into the gallery
    ``out``, each atomically; returns their records.

    Example:
        >>> import tempfile
        >>> import torch.nn as nn
        >>> from optim.rendering import render_layer
        >>> model = nn.Sequential(nn.Conv2d(3, 4, 3)).eval()
        >>> result = render_layer(model, "0", [1, 3], size=32, steps=2, show_progress=False)
        >>> with tempfile.TemporaryDirectory() as tmp:
        ...     records = write_channels(result, tmp)
        ...     read_channel(tmp, 3) == records[3]  # the files read back as the same record
        True
        >>> sorted(records), records[3].image.name, records[3].batch
        ([1, 3], 'channel_0003.png', [1, 3])
    """
    records = {}
    for index, channel in enumerate(result.channels):
        image, manifest_path = channel_files(out, channel)
        write_png(result.images[index : index + 1], image)
        manifest = channel_manifest(result, model, channel, image, manifest_path)
        write_manifest(manifest_path, manifest)
        records[channel] = ChannelRecord(channel, image, manifest_path, manifest)
    return records


def remove_stale_channels(out: str | os.PathLike[str], keep: Iterable[int]) -> None:
    """Delete the channel files in the gallery ``out`` of every channel not in ``keep``."""
    keep = set(keep)
    folder = Path(out) / CHANNEL_DIR
    for old in folder.glob("channel_*") if folder.is_dir() else ():
        match = _CHANNEL_FILE.fullmatch(old.name)
        if match and int(match.group(1)) not in keep:
            old.unlink(missing_ok=True)


_STYLE = """
body { font-family: system-ui, sans-serif; margin: 1.5rem; background: #fafafa; color: #222; }
header p { margin: 0.3rem 0; color: #555; }
.grid { display: grid; grid-template-columns: repeat(auto-fill, minmax(140px, 1fr)); gap: 12px; }
figure.channel { margin: 0; background: #fff; border: 1px solid #ddd; border-radius: 6px;
  padding: 6px; text-align: center; }
figure.channel img { width: 128px; height: 128px; object-fit: contain;
  image-rendering: pixelated; cursor: zoom-in; }
figcaption { font-size: 0.8rem; }
figcaption .objective { color: #666; }
.lightbox { display: none; position: fixed; inset: 0; background: rgba(0, 0, 0, 0.85);
  align-items: center; justify-content: center; flex-direction: column; }
.lightbox:target { display: flex; }
.lightbox img { width: min(80vw, 80vh); height: min(80vw, 80vh); image-rendering: pixelated; }
.lightbox p, .lightbox a { color: #eee; }
.exemplars { display: grid; grid-template-columns: repeat(3, 40px); gap: 2px;
  justify-content: center; margin-top: 4px; }
figure.channel .exemplars img { width: 40px; height: 40px; object-fit: cover; cursor: default; }
.ratio { font-weight: 600; }
.note { font-size: 0.85rem; max-width: 60rem; }
""".strip()


def _batches_text(batches: list[list[int]]) -> str:
    """``"2 batches of 8"``, ``"1 batch of 4"`` or ``"3 batches (8, 8, 2 channels)"``."""
    sizes = [len(b) for b in batches]
    noun = "batch" if len(sizes) == 1 else "batches"
    if len(set(sizes)) == 1:
        return f"{len(sizes)} {noun} of {sizes[0]}"
    return f"{len(sizes)} {noun} ({', '.join(map(str, sizes))} channels)"


def _format_objective(value: float) -> str:
    return f"{value:.3g}"


def render_index_html(
    title: str,
    summary: str,
    entries: list[tuple[int, str, float, str]],
    grid_href: str,
    manifest_href: str,
    up: tuple[str, str] | None = None,
    exemplars: dict[int, ExemplarView] | None = None,
) -> str:
    """The gallery page for ``entries`` of ``(channel, image href, objective, manifest href)``.

    Example:
        >>> page = render_index_html("blocks.4", "2 channels", [(0, "c0.png", 1.5, "c0.json"),
        ...     (1, "c1.png", 2.0, "c1.json")], "grid.png", "manifest.json")
        >>> page.count('class="channel"')
        2
    """
    esc = html.escape
    up_link = f'<a href="{esc(up[0])}">{esc(up[1])}</a> &middot; ' if up else ""
    figures, boxes = [], []
    for channel, image, objective, manifest in entries:
        anchor = f"channel-{channel}"
        view = (exemplars or {}).get(channel)
        extra = ""
        if view is not None:
            ratio = "n/a" if view.ratio is None else f"{view.ratio:.3g}"
            crops = "".join(
                f'<img src="{esc(href)}" alt="exemplar {slot + 1} of channel {channel}" '
                f'title="activation {value:.3g}">'
                for slot, (href, value) in enumerate(zip(view.images, view.activations))
            )
            extra = (
                f'<br><span class="ratio" title="render {view.render_activation:.3g}">'
                f'ratio {ratio}</span><div class="exemplars">{crops}</div>'
            )
        figures.append(
            f'<figure class="channel" data-channel="{channel}">'
            f'<a href="#{anchor}"><img src="{esc(image)}" alt="channel {channel}"></a>'
            f"<figcaption><strong>channel {channel}</strong><br>"
            f'<span class="objective">objective {_format_objective(objective)}</span><br>'
            f'<a href="{esc(manifest)}">manifest</a>{extra}</figcaption></figure>'
        )
        boxes.append(
            f'<div class="lightbox" id="{anchor}"><a href="#">'
            f'<img src="{esc(image)}" alt="channel {channel}, enlarged"></a>'
            f"<p>channel {channel} &middot; objective {_format_objective(objective)} &middot; "
            f'<a href="{esc(manifest)}">manifest</a> &middot; <a href="#">close</a></p></div>'
        )
    return "\n".join(
        [
            "<!DOCTYPE html>",
            '<html lang="en">',
            "<head>",
            '<meta charset="utf-8">',
            f"<title>{esc(title)}</title>",
            f"<style>\n{_STYLE}\n</style>",
            "</head>",
            "<body>",
            f"<header><h1>{esc(title)}</h1><p>{esc(summary)}</p>",
            f'<p class="note">{esc(RATIO_NOTE)}</p>' if exemplars else "",
            f"<p>{up_link}"
            f'<a href="{esc(grid_href)}">grid</a> &middot; '
            f'<a href="{esc(manifest_href)}">manifest</a></p></header>',
            '<main class="grid">',
            *figures,
            "</main>",
            *boxes,
            "</body>",
            "</html>",
            "",
        ]
    )


def remove_temp_files(out: str | os.PathLike[str]) -> None:
    """Delete the temp files of channel writes that a killed job left in the gallery ``out``."""
    folder = Path(out) / CHANNEL_DIR
    for temp in folder.glob(".channel_*") if folder.is_dir() else ():
        if _CHANNEL_TEMP.fullmatch(temp.name):
            temp.unlink(missing_ok=True)


def _grid(records: list[ChannelRecord], path: Path, images_per_row: int | None) -> Path:
    """The grid PNG, tiled from the channel PNGs (8-bit values, so the grid is the same
    whichever run or rank wrote each channel)."""
    import numpy as np
    import torch
    from PIL import Image

    tiles = []
    for record in records:
        with Image.open(record.image) as image:
            tiles.append(torch.from_numpy(np.asarray(image.convert("RGB"), dtype=np.float32)))
    return write_png(torch.stack(tiles).permute(0, 3, 1, 2) / 255, path, images_per_row)


def _batches(records: list[ChannelRecord]) -> list[list[int]]:
    """The distinct batches of ``records``, in order."""
    batches: list[list[int]] = []
    for record in records:
        if record.batch not in batches:
            batches.append(record.batch)
    return batches


def write_index(
    out: str | os.PathLike[str],
    spec: RenderSpec,
    records: list[ChannelRecord],
    model: ModelSource | None = None,
    *,
    images_per_row: int | None = None,
    rendered: list[list[int]] | None = None,
    interrupted: bool = False,
    error: str | None = None,
    up: tuple[str, str] | None = None,
    exemplars: dict[int, ExemplarView] | None = None,
) -> GalleryPaths:
    """Write ``grid.png``, ``manifest.json`` and ``index.html`` of the gallery ``out`` from
    the channel ``records`` (in job order) of the layer job ``spec``.

    ``rendered``: the batches this run rendered (default all; the others were kept from an
    earlier run). An ``interrupted`` or failed (``error``) job says so on its page.

    Example:
        >>> import tempfile
        >>> import torch.nn as nn
        >>> from optim.rendering import render_layer
        >>> model = nn.Sequential(nn.Conv2d(3, 2, 3)).eval()
        >>> result = render_layer(model, "0", size=32, steps=2, show_progress=False)
        >>> with tempfile.TemporaryDirectory() as tmp:
        ...     records = write_channels(result, tmp)
        ...     paths = write_index(tmp, result.spec, [records[0], records[1]], interrupted=True)
        ...     "interrupted" in paths.index.read_text(), read_manifest(paths.manifest)["kind"]
        (True, 'layer')
    """
    out = Path(out)
    batches = _batches(records)
    seconds = {tuple(r.batch): r.batch_seconds for r in records}
    grid = _grid(records, out / "grid.png", images_per_row)
    manifest = out / "manifest.json"
    summary = {
        "batches": batches,
        "rendered": batches if rendered is None else rendered,
        "seconds": sum(seconds.values()),
        "interrupted": interrupted,
        "error": error,
        "exemplar_ratios": {str(c): v.ratio for c, v in (exemplars or {}).items()} or None,
    }
    write_manifest(manifest, layer_manifest(spec, records, model, grid, manifest, summary))
    model_name = model.name if model is not None else "model"
    height, width_px = spec.size
    text = (
        f"{model_name} · {len(records)} channels · {height}x{width_px} px · "
        f"{spec.steps} steps · seed {spec.seed} · {_batches_text(batches)} · "
        f"{summary['seconds']:.1f} s"
    )
    if interrupted or error:
        stopped = "interrupted" if interrupted else "stopped by an error"
        text += f" · {stopped}: the channels of unfinished batches are missing"
    entries = [
        (
            r.channel,
            r.image.relative_to(out).as_posix(),
            r.final_objective,
            r.manifest_path.relative_to(out).as_posix(),
        )
        for r in records
    ]
    page = render_index_html(
        f"{model_name} · {spec.unit.layer}",
        text,
        entries,
        "grid.png",
        "manifest.json",
        up,
        exemplars,
    )
    index = write_text_atomic(out / "index.html", page)
    images = {r.channel: r.image for r in records}
    manifests = {r.channel: r.manifest_path for r in records}
    return GalleryPaths(index, grid, manifest, images, manifests)


def write_gallery(
    result: LayerRenderResult,
    out_dir: str | os.PathLike[str],
    model: ModelSource | None = None,
    images_per_row: int | None = None,
    *,
    remove_stale: bool = False,
) -> GalleryPaths:
    """Write a layer render as a browsable folder.

    Layout: ``index.html``, ``grid.png``, ``manifest.json`` (the whole layer) and
    ``channels/channel_<c>.png`` + ``channels/channel_<c>.json`` per channel.

    Args:
        result: what :func:`~optim.rendering.render_layer` returned.
        out_dir: the folder (created if missing).
        model: the registered model's description for the manifests.
        images_per_row: grid width (default: about the square root of the channel count).
        remove_stale: delete the ``channels/channel_<c>`` files of other channels (an earlier
            gallery in the same folder), so old and new are not mixed.

    Returns:
        A :class:`GalleryPaths` with every file written.

    Example:
        >>> import tempfile
        >>> import torch.nn as nn
        >>> from optim.rendering import render_layer
        >>> model = nn.Sequential(nn.Conv2d(3, 2, 3)).eval()
        >>> result = render_layer(model, "0", size=32, steps=2, show_progress=False)
        >>> with tempfile.TemporaryDirectory() as tmp:
        ...     paths = write_gallery(result, tmp)
        ...     paths.index.name, sorted(paths.channel_images), paths.grid.is_file()
        ('index.html', [0, 1], True)
    """
    if result.spec is None:
        raise ValueError(
            "write_gallery needs the LayerRenderResult of render_layer, which records its "
            "spec; this one has spec=None."
        )
    records = write_channels(result, out_dir, model)
    if remove_stale:
        remove_stale_channels(out_dir, result.channels)
    return write_index(
        out_dir, result.spec, [records[c] for c in result.channels], model,
        images_per_row=images_per_row, interrupted=result.interrupted, error=result.error,
    )  # fmt: skip
