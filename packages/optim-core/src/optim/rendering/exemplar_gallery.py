"""Dataset exemplars beside a layer gallery's renders, with the ratio render / exemplar.

The exemplars come from optim-dataset (``opt.dataset.top_exemplars`` or an exemplars file);
this module only needs, per channel, their images and activations (any object with
``exemplars[channel].images`` ``[k, 3, h, w]`` and ``.activations``), so optim-core does not
depend on optim-dataset. The ratio compares like with like: the channel's peak activation
(maximum over positions) on its render, read back from the gallery's PNG, over its peak on
the top exemplar.

Example:
    A channel that reads the red value of each pixel, a white render, and two exemplars whose
    peaks were 0.5 and 0.4:

    >>> import tempfile
    >>> from types import SimpleNamespace
    >>> model = nn.Sequential(nn.Conv2d(3, 1, 1, bias=False))
    >>> with torch.no_grad():
    ...     _ = model[0].weight.copy_(torch.tensor([1.0, 0.0, 0.0]).view(1, 3, 1, 1))
    >>> found = {0: SimpleNamespace(images=torch.rand(2, 3, 8, 8), activations=[0.5, 0.4])}
    >>> with tempfile.TemporaryDirectory() as tmp:
    ...     render = write_png(torch.ones(1, 3, 8, 8), Path(tmp, "channel_0000.png"))
    ...     records = [SimpleNamespace(channel=0, image=render)]
    ...     views = exemplar_views(model, tmp, "0", records, found)
    >>> views[0].render_activation, views[0].ratio
    (1.0, 2.0)
    >>> views[0].images
    ['exemplars/channel_0000_0.png', 'exemplars/channel_0000_1.png']
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
        >>> import tempfile
        >>> model = nn.Sequential(nn.Conv2d(3, 2, 1, bias=False))
        >>> with torch.no_grad():  # channel 0 reads the red value, channel 1 the blue one
        ...     _ = model[0].weight.copy_(torch.eye(3)[[0, 2]].view(2, 3, 1, 1))
        >>> image = torch.zeros(1, 3, 8, 8)
        >>> image[0, 0, 2, 3] = 1  # one red pixel
        >>> with tempfile.TemporaryDirectory() as tmp:
        ...     path = write_png(image, Path(tmp, "render.png"))
        ...     render_peaks(model, "0", [0, 1], [path, path])
        [1.0, 0.0]
    """
    from optim.hooks import collect_activations
    from optim.rendering.layer_layout import as_channels_first

    device = next((p.device for p in model.parameters()), torch.device("cpu"))
    peaks: list[float] = []
    for start in range(0, len(images), batch):
        pixels = torch.stack([_load_png(p) for p in images[start : start + batch]]).to(device)
        with torch.no_grad():
            output = collect_activations(model, [layer], pixels)[layer]
        if output is None:
            raise RuntimeError(f"Layer {layer!r} produced no output on the exemplar images.")
        # tokens and channels-last maps read as renders read them
        output = as_channels_first(model, layer, output, (pixels.shape[-2], pixels.shape[-1]))
        output = output.float()
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
