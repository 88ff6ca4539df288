"""A static gallery of a layer render: per-channel PNGs and manifests, a grid PNG, index.html.

The page needs no server and loads nothing from the network: open ``index.html`` from disk.
Thumbnails carry the channel id and final objective; clicking one enlarges it (pure CSS,
``:target``), and each links to its channel manifest.

Example:
    >>> from optim.rendering.gallery import write_gallery
    >>> paths = write_gallery(result, "out/blocks10", model=source)  # doctest: +SKIP
    >>> paths.index  # doctest: +SKIP
    PosixPath('out/blocks10/index.html')
"""

from __future__ import annotations

import html
import os
import re
from dataclasses import dataclass
from pathlib import Path

from optim.rendering.files import write_text_atomic
from optim.rendering.manifest import channel_manifest, layer_manifest, write_manifest
from optim.rendering.model_source import ModelSource
from optim.rendering.result import LayerRenderResult, write_png

__all__ = ["GalleryPaths", "render_index_html", "write_gallery"]

CHANNEL_DIR = "channels"
_CHANNEL_FILE = re.compile(r"channel_\d+\.(png|json)")
"""The per-channel files a gallery writes (what ``remove_stale`` may delete)."""


@dataclass(frozen=True)
class GalleryPaths:
    """The files :func:`write_gallery` wrote."""

    index: Path
    grid: Path
    manifest: Path
    channel_images: dict[int, Path]
    channel_manifests: dict[int, Path]


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
) -> str:
    """The gallery page for ``entries`` of ``(channel, image href, objective, manifest href)``.

    Example:
        >>> page = render_index_html("blocks.4", "2 channels", [(0, "c0.png", 1.5, "c0.json"),
        ...     (1, "c1.png", 2.0, "c1.json")], "grid.png", "manifest.json")
        >>> page.count('class="channel"')
        2
    """
    esc = html.escape
    figures, boxes = [], []
    for channel, image, objective, manifest in entries:
        anchor = f"channel-{channel}"
        figures.append(
            f'<figure class="channel" data-channel="{channel}">'
            f'<a href="#{anchor}"><img src="{esc(image)}" alt="channel {channel}"></a>'
            f"<figcaption><strong>channel {channel}</strong><br>"
            f'<span class="objective">objective {_format_objective(objective)}</span><br>'
            f'<a href="{esc(manifest)}">manifest</a></figcaption></figure>'
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
            f'<p><a href="{esc(grid_href)}">grid</a> &middot; '
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
        remove_stale: delete the ``channels/channel_<c>`` files of an earlier gallery in the
            same folder that this render did not write (so old and new are not mixed).

    Returns:
        A :class:`GalleryPaths` with every file written.

    Example:
        >>> write_gallery(result, "gallery").index.name  # doctest: +SKIP
        'index.html'
    """
    out = Path(out_dir)
    (out / CHANNEL_DIR).mkdir(parents=True, exist_ok=True)
    width = len(str(max(result.channels)))
    images: dict[int, Path] = {}
    manifests: dict[int, Path] = {}
    for index, channel in enumerate(result.channels):
        stem = out / CHANNEL_DIR / f"channel_{channel:0{max(width, 4)}d}"
        images[channel] = write_png(result.images[index : index + 1], stem.with_suffix(".png"))
        manifests[channel] = stem.with_suffix(".json")
        write_manifest(
            manifests[channel],
            channel_manifest(result, model, channel, images[channel], manifests[channel]),
        )
    if remove_stale:
        written = {*images.values(), *manifests.values()}
        for old in (out / CHANNEL_DIR).glob("channel_*"):
            if _CHANNEL_FILE.fullmatch(old.name) and old not in written:
                old.unlink()
    grid = write_png(result.images, out / "grid.png", images_per_row)
    manifest = out / "manifest.json"
    write_manifest(manifest, layer_manifest(result, model, images, grid, manifest))

    model_name = model.name if model is not None else "model"
    height, width_px = result.settings["size"]
    summary = (
        f"{model_name} · {len(result.channels)} channels · {height}x{width_px} px · "
        f"{result.settings['steps']} steps · seed {result.seed} · "
        f"{_batches_text(result.batches)} · {result.wall_time_s:.1f} s"
    )
    if result.interrupted:
        summary += " · interrupted: the channels of unfinished batches are missing"
    entries = [
        (
            channel,
            images[channel].relative_to(out).as_posix(),
            result.final_objectives[index],
            manifests[channel].relative_to(out).as_posix(),
        )
        for index, channel in enumerate(result.channels)
    ]
    index_path = write_text_atomic(
        out / "index.html",
        render_index_html(
            f"{model_name} · {result.layer}", summary, entries, "grid.png", "manifest.json"
        ),
    )
    return GalleryPaths(index_path, grid, manifest, images, manifests)
