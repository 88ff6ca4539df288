"""Dataset exemplars beside a layer gallery's renders, with the ratio render / exemplar.

The exemplars come from optim-dataset (``opt.dataset.top_exemplars`` or an exemplars file);
this module only needs, per channel, their images and activations (any object with
``exemplars[channel].images`` ``[k, 3, h, w]`` and ``.activations``), so optim-core does not
depend on optim-dataset. The ratio compares like with like: the channel's peak activation
(maximum over positions) on its render, read back from the gallery's PNG, over its peak on
the top exemplar.

Example:
    >>> views = exemplar_views(model, out, spec, records, found)  # doctest: +SKIP
    >>> views[3].ratio  # doctest: +SKIP
    4.7
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from PIL import Image
from torch import nn

from optim.rendering.result import write_png

__all__ = ["EXEMPLAR_DIR", "RATIO_NOTE", "ExemplarView", "exemplar_views", "render_peaks"]

EXEMPLAR_DIR = "exemplars"
RATIO_NOTE = (
    "ratio = the channel's peak activation on the render / on its top exemplar. Far above 1, "
    "the render drives the channel harder than any of these images does, possibly through "
    "features no photo contains: read it beside the exemplars."
)


@dataclass(frozen=True)
class ExemplarView:
    """What a gallery shows of one channel's exemplars (hrefs relative to the gallery)."""

    images: list[str]
    activations: list[float]
    render_activation: float
    ratio: float | None


def _load_png(path: Path) -> torch.Tensor:
    with Image.open(path) as image:
        pixels = np.asarray(image.convert("RGB"), dtype=np.float32)
    return torch.from_numpy(pixels).permute(2, 0, 1) / 255


def render_peaks(
    model: nn.Module, layer: str, channels: list[int], images: list[Path], batch: int = 32
) -> list[float]:
    """Channel ``channels[i]``'s maximum over positions on the PNG ``images[i]``.

    Example:
        >>> render_peaks(model, "_blocks.4", [3], [Path("channel_0003.png")])  # doctest: +SKIP
        [41.2]
    """
    from optim.hooks import collect_activations

    device = next((p.device for p in model.parameters()), torch.device("cpu"))
    peaks: list[float] = []
    for start in range(0, len(images), batch):
        pixels = torch.stack([_load_png(p) for p in images[start : start + batch]]).to(device)
        with torch.no_grad():
            output = collect_activations(model, [layer], pixels)[layer].float()
        rows = torch.arange(len(pixels))
        picked = output[rows, torch.tensor(channels[start : start + batch])]
        peaks.extend(picked.reshape(len(pixels), -1).max(dim=1).values.tolist())
    return peaks


def exemplar_views(
    model: nn.Module,
    out: str | os.PathLike[str],
    layer: str,
    records: list[Any],
    exemplars: Any,
) -> dict[int, ExemplarView]:
    """Write each channel's exemplar crops into ``out/exemplars/`` and measure its ratio.

    Args:
        model: the network the gallery was rendered with.
        out: the gallery folder.
        layer: the gallery's layer.
        records: the gallery's channel records (``.channel``, ``.image``).
        exemplars: ``exemplars[channel]`` with ``.images`` and ``.activations`` (best first).

    Returns:
        ``{channel: ExemplarView}`` for the channels that have exemplars.
    """
    out = Path(out)
    lookups = {record.channel: _lookup(exemplars, record.channel) for record in records}
    shown = [record for record in records if lookups[record.channel] is not None]
    peaks = render_peaks(model, layer, [r.channel for r in shown], [r.image for r in shown])
    views = {}
    for record, peak in zip(shown, peaks):
        found = lookups[record.channel]
        hrefs = []
        for slot, crop in enumerate(found.images):
            path = out / EXEMPLAR_DIR / f"channel_{record.channel:04d}_{slot}.png"
            write_png(crop[None], path)
            hrefs.append(path.relative_to(out).as_posix())
        top = found.activations[0] if found.activations else None
        ratio = peak / top if top is not None and top > 0 else None
        views[record.channel] = ExemplarView(hrefs, list(found.activations), peak, ratio)
    return views


def _lookup(exemplars: Any, channel: int) -> Any:
    """``exemplars[channel]``, or ``None`` for a channel it has none for."""
    try:
        return exemplars[channel]
    except KeyError:
        return None
