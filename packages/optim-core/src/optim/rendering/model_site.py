"""The top page of a whole-model site: the model → its layers → each layer's gallery.

``render_model`` writes one gallery per layer (``<out>/<layer>/index.html``) and this page,
``<out>/index.html``: one card per layer with its channel count, the channels rendered, a
thumbnail (the layer's grid) and a link to its gallery. ``site.json`` records which model the
folder holds, so a re-run resumes it and another model's run is refused. Static files only:
open ``index.html`` from disk.

Example:
    >>> page = render_site_html("tiny_net", [SiteLayer("conv1", 8, 4, "conv1/index.html",
    ...     "conv1/grid.png", True)])
    >>> page.count('class="layer"')
    1
"""

from __future__ import annotations

import html
import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from optim.rendering.files import write_text_atomic

__all__ = ["SITE_FILE", "SiteLayer", "read_site", "render_site_html", "write_site"]

SITE_FILE = "site.json"
SITE_FORMAT = "optim-site"

_STYLE = """
body { font-family: system-ui, sans-serif; margin: 1.5rem; background: #fafafa; color: #222; }
header p { margin: 0.3rem 0; color: #555; }
.layers { display: grid; grid-template-columns: repeat(auto-fill, minmax(220px, 1fr)); gap: 14px; }
a.layer { display: block; background: #fff; border: 1px solid #ddd; border-radius: 6px;
  padding: 8px; color: inherit; text-decoration: none; }
a.layer:hover { border-color: #888; }
a.layer img { width: 100%; aspect-ratio: 1; object-fit: contain; image-rendering: pixelated; }
a.layer h2 { font-size: 1rem; margin: 0.4rem 0 0.2rem; font-family: monospace; }
a.layer p { margin: 0; font-size: 0.85rem; color: #555; }
.unfinished { color: #a40; }
""".strip()


@dataclass(frozen=True)
class SiteLayer:
    """One layer's card on the model page (paths relative to the site folder)."""

    name: str
    channel_count: int
    rendered: int
    gallery: str
    thumbnail: str
    finished: bool


def render_site_html(model: str, layers: list[SiteLayer], summary: str = "") -> str:
    """The model page: one card per layer, linking to the layer's gallery."""
    esc = html.escape
    cards = []
    for layer in layers:
        state = "" if layer.finished else ' · <span class="unfinished">unfinished</span>'
        image = f'<img src="{esc(layer.thumbnail)}" alt="channels of {esc(layer.name)}">'
        cards.append(
            f'<a class="layer" href="{esc(layer.gallery)}" data-layer="{esc(layer.name)}">'
            f"{image if layer.thumbnail else ''}"
            f"<h2>{esc(layer.name)}</h2>"
            f"<p>{layer.rendered} of {layer.channel_count} channels{state}</p></a>"
        )
    return "\n".join(
        [
            "<!DOCTYPE html>",
            '<html lang="en">',
            "<head>",
            '<meta charset="utf-8">',
            f"<title>{esc(model)}</title>",
            f"<style>\n{_STYLE}\n</style>",
            "</head>",
            "<body>",
            f"<header><h1>{esc(model)}</h1><p>{esc(summary)}</p></header>",
            '<main class="layers">',
            *cards,
            "</main>",
            "</body>",
            "</html>",
            "",
        ]
    )


def read_site(out: str | os.PathLike[str]) -> dict[str, Any] | None:
    """The ``site.json`` of the folder ``out`` (``None`` when there is none or it is not
    optim's)."""
    path = Path(out) / SITE_FILE
    try:
        site = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return site if isinstance(site, dict) and site.get("format") == SITE_FORMAT else None


def write_site(
    out: str | os.PathLike[str], model: str, layers: list[SiteLayer], summary: str = ""
) -> Path:
    """Write ``site.json`` and the model page ``index.html`` (atomically); returns the page."""
    out = Path(out)
    record = {
        "format": SITE_FORMAT,
        "model": model,
        "layers": {layer.name: layer.gallery for layer in layers},
    }
    write_text_atomic(out / SITE_FILE, json.dumps(record, indent=2) + "\n")
    return write_text_atomic(out / "index.html", render_site_html(model, layers, summary))
