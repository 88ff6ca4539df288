"""Dataset exemplars: the real images that excite a channel most, cropped to its field.

One streaming pass over the images: each image's activation map at the layer is reduced to
the channel's maximum over positions, and per channel the ``k`` best images are kept (their
value, source, position and the crop of the unit's receptive field around the maximum), so
memory is O(channels x k) whatever the number of images. Ties keep the earlier image, so the
result is deterministic for the same inputs. The receptive field is measured from the model
(:func:`~optim.dataset.receptive_field.measure_receptive_field`); for layers without spatial
dimensions (logits, pooled features) the "crop" is the whole image.

Example:
    A channel that reads the red value of each pixel finds the reddest of three images first.
    (``opt.models.efficientnet_lite0(pretrained=True)``, ``"_blocks.10"`` and a folder of
    photos find real exemplars.)

    >>> import tempfile
    >>> from PIL import Image
    >>> import optim as opt
    >>> model = nn.Sequential(nn.Conv2d(3, 1, 1, bias=False)).eval()
    >>> with torch.no_grad():
    ...     _ = model[0].weight.copy_(torch.tensor([1.0, 0.0, 0.0]).view(1, 3, 1, 1))
    >>> tmp = tempfile.TemporaryDirectory()
    >>> for name, red in [("dark.png", 64), ("red.png", 255), ("pink.png", 128)]:
    ...     Image.new("RGB", (16, 16), (red, 0, 0)).save(Path(tmp.name, name))
    >>> found = opt.dataset.top_exemplars(model, "0", tmp.name, k=2, size=16, show_progress=False)
    >>> [Path(source).name for source in found[0].sources]
    ['red.png', 'pink.png']
    >>> [round(value, 4) for value in found[0].activations]  # 255 / 255, 128 / 255
    [1.0, 0.502]
    >>> path = found.save(Path(tmp.name, "red.exemplars"))
    >>> opt.dataset.load_exemplars(path)[0].activations == found[0].activations
    True
    >>> tmp.cleanup()
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from torch import nn
from tqdm.auto import tqdm

from optim.checks import check_int, check_int_list, check_size
from optim.dataset.image_stream import image_stream
from optim.dataset.loaders import resize_and_crop
from optim.dataset.receptive_field import ReceptiveField, _layer_output, measure_receptive_field

__all__ = ["ChannelExemplars", "Exemplars", "load_exemplars", "top_exemplars"]

FORMAT = "optim-exemplars"
FORMAT_VERSION = 1


@dataclass(frozen=True)
class ChannelExemplars:
    """The top images of one channel, best first.

    Attributes:
        sources: the file path of each image, or its index in the stream for images given
            as a tensor or as batches.
        activations: the channel's maximum over positions on each image, descending.
        positions: ``(row, column)`` of that maximum in the layer's map (``(0, 0)`` for a
            layer without spatial dimensions).
        images: ``[k, 3, h, w]`` crops of the receptive field around the maximum, in [0, 1].
    """

    sources: list[str | int]
    activations: list[float]
    positions: list[tuple[int, int]]
    images: torch.Tensor


@dataclass(frozen=True)
class Exemplars:
    """Top-``k`` exemplars of every channel of a layer; ``result[channel]`` gives one.

    ``crops`` holds uint8 pixels; ``values``, ``indices``, ``positions`` are ``[C, k]``
    (``indices`` -1 where fewer than ``k`` images were seen); ``sources`` holds the file
    path of every image streamed from a folder (empty for tensors and batches).
    """

    model: str
    weights_sha256: str | None
    layer: str
    source: str
    k: int
    size: tuple[int, int]
    field: ReceptiveField
    channels: list[int]
    sources: list[str]
    values: torch.Tensor
    indices: torch.Tensor
    positions: torch.Tensor
    crops: torch.Tensor
    images_seen: int

    def __getitem__(self, channel: int) -> ChannelExemplars:
        if channel not in self.channels:
            raise KeyError(
                f"Channel {channel} has no exemplars here; computed for channels "
                f"{self.channels[0]}..{self.channels[-1]} ({len(self.channels)} channels)."
            )
        row = self.channels.index(channel)
        found = int((self.indices[row] >= 0).sum())
        images = self.indices[row, :found].tolist()
        return ChannelExemplars(
            sources=[self.sources[i] if self.sources else i for i in images],
            activations=self.values[row, :found].tolist(),
            positions=[tuple(p) for p in self.positions[row, :found].tolist()],
            images=self.crops[row, :found].float() / 255,
        )

    def save(self, path: str | os.PathLike[str]) -> Path:
        """Write everything to one file (``torch.save`` of tensors and plain values, read back
        with ``weights_only=True``), atomically; returns the path."""
        from optim.rendering.files import write_atomic

        record = {
            "format": FORMAT,
            "format_version": FORMAT_VERSION,
            "model": self.model,
            "weights_sha256": self.weights_sha256,
            "layer": self.layer,
            "source": self.source,
            "k": self.k,
            "size": list(self.size),
            "field": {
                "size": list(self.field.size),
                "stride": list(self.field.stride),
                "center": list(self.field.center),
                "input_size": list(self.field.input_size),
                "spatial": self.field.spatial,
            },
            "channels": list(self.channels),
            "sources": list(self.sources),
            "values": self.values,
            "indices": self.indices,
            "positions": self.positions,
            "crops": self.crops,
            "images_seen": self.images_seen,
        }
        return write_atomic(Path(path), lambda temp: torch.save(record, temp))


def load_exemplars(path: str | os.PathLike[str]) -> Exemplars:
    """Read what :meth:`Exemplars.save` wrote (safely: ``torch.load(weights_only=True)``).

    Raises:
        ValueError: the file is missing, not an exemplars file, or of a newer format.
    """
    path = Path(path)
    try:
        record = torch.load(path, map_location="cpu", weights_only=True)
    except FileNotFoundError:
        raise ValueError(f"No exemplars file {str(path)!r}.") from None
    except Exception as exc:  # a pickle the safe loader refuses, or not a torch file at all
        raise ValueError(
            f"{str(path)!r} is not an exemplars file written by `optim exemplars` or "
            f"Exemplars.save ({type(exc).__name__})."
        ) from None
    if not isinstance(record, dict) or record.get("format") != FORMAT:
        raise ValueError(f"{str(path)!r} is not an exemplars file (no format {FORMAT!r}).")
    if record.get("format_version", 0) > FORMAT_VERSION:
        raise ValueError(
            f"{str(path)!r} has format_version {record['format_version']}; this optim-dataset "
            f"reads up to {FORMAT_VERSION}. Upgrade optim-dataset."
        )
    field = record["field"]
    return Exemplars(
        model=record["model"],
        weights_sha256=record["weights_sha256"],
        layer=record["layer"],
        source=record["source"],
        k=record["k"],
        size=tuple(record["size"]),
        field=ReceptiveField(
            tuple(field["size"]),
            tuple(field["stride"]),
            tuple(field["center"]),
            tuple(field["input_size"]),
            field["spatial"],
        ),
        channels=list(record["channels"]),
        sources=list(record["sources"]),
        values=record["values"],
        indices=record["indices"],
        positions=record["positions"],
        crops=record["crops"],
        images_seen=record["images_seen"],
    )


def top_exemplars(
    model: nn.Module,
    layer: str,
    images: str | os.PathLike[str] | torch.Tensor | Iterable[Any],
    channels: Sequence[int] | None = None,
    k: int = 9,
    size: int | tuple[int, int] = 224,
    batch_size: int = 32,
    show_progress: bool = True,
    *,
    model_name: str | None = None,
    weights_sha256: str | None = None,
) -> Exemplars:
    """The ``k`` images that excite each channel of ``layer`` most, with their crops.

    Args:
        model: the network, in eval mode (inputs in [0, 1]).
        layer: a dotted layer name with ``[B, C, H, W]`` or ``[B, C]`` outputs, a channels-last
            ``[B, H, W, C]`` map or a vision transformer's ``[B, tokens, features]`` (its
            patch tokens as a grid: features are the channels, positions are patches).
        images: a folder (searched recursively; non-images and unreadable files are skipped
            with a warning), a tensor ``[N, 3, H, W]``, or an iterable of batches (a
            DataLoader yielding tensors or ``(images, labels)``). Images are resized and
            centre-cropped to ``size``.
        channels: the channels to keep exemplars for; ``None`` for all.
        k: exemplars per channel.
        size: the input size in px.
        batch_size: images per forward pass (for a folder or a tensor).
        show_progress: show a tqdm bar over the images.
        model_name: recorded in the result (default: the model's class name).
        weights_sha256: recorded in the result (the registered model's weights hash).

    Returns:
        :class:`Exemplars`; ``result[channel]`` is a :class:`ChannelExemplars`.

    Raises:
        ValueError: an unknown layer (closest names listed), channels out of range, a folder
            without images, or no image at all in the stream.
    """
    check_int(k, "k", minimum=1)
    check_int(batch_size, "batch_size", minimum=1)
    size = check_size(size, "size", minimum=8)
    device = next((p.device for p in model.parameters()), torch.device("cpu"))
    field = measure_receptive_field(model, layer, size)
    batches, source, count = image_stream(images, size, batch_size)
    chosen: list[int] | None = None
    if channels is not None:
        chosen = check_int_list(channels, "channels", minimum=0, item="channel")
    state = None  # values, indices, positions, crops, slots
    sources: list[str] = []
    seen = 0
    progress = tqdm(total=count, desc=f"exemplars {layer}", unit="image", disable=not show_progress)
    try:
        for batch, names in batches:
            batch = batch.to(device)
            if batch.shape[-2:] != size:
                batch = resize_and_crop(batch, size)
            with torch.no_grad():
                output = _layer_output(model, layer, batch).float()
            if chosen is None:
                chosen = list(range(output.shape[1]))
            if max(chosen) >= output.shape[1]:
                raise ValueError(
                    f"Channel {max(chosen)} is out of range for layer {layer!r}, which has "
                    f"{output.shape[1]} channels: use 0..{output.shape[1] - 1}."
                )
            maps = output[:, chosen].flatten(2) if output.dim() == 4 else output[:, chosen, None]
            best, where = maps.max(dim=2)  # [B, C]
            width = output.shape[-1] if output.dim() == 4 else 1
            rows, cols = where // width, where % width
            if state is None:
                state = _empty(len(chosen), k, field)
            state = _merge(
                state,
                (best.T.cpu(), rows.T.cpu(), cols.T.cpu()),
                _LazyCrops(batch, rows, cols, field),
                seen,
            )
            sources.extend(names or [])
            seen += len(batch)
            progress.update(len(batch))
    finally:
        progress.close()
    if state is None or chosen is None:  # both are set by the first batch
        raise ValueError(f"No images in {source}: nothing to find exemplars in.")
    values, indices, positions, crops, slots = state
    crops = crops[torch.arange(len(chosen))[:, None], slots]  # in rank order
    return Exemplars(
        model=model_name or type(model).__name__,
        weights_sha256=weights_sha256,
        layer=layer,
        source=source,
        k=k,
        size=size,
        field=field,
        channels=chosen,
        sources=sources,
        values=values,
        indices=indices,
        positions=positions,
        crops=crops,
        images_seen=seen,
    )


def _crop_size(field: ReceptiveField) -> tuple[int, int]:
    top, left, bottom, right = field.box((0, 0))
    return bottom - top, right - left


# The running top-k of every channel: (values, image indices, positions, crops, crop slots).
_TopK = tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]


def _empty(channels: int, k: int, field: ReceptiveField) -> _TopK:
    height, width = _crop_size(field)
    return (
        torch.full((channels, k), float("-inf")),
        torch.full((channels, k), -1, dtype=torch.long),
        torch.zeros((channels, k, 2), dtype=torch.long),
        torch.zeros((channels, k, 3, height, width), dtype=torch.uint8),
        torch.arange(k).expand(channels, k).clone(),
    )


class _LazyCrops:
    """The crop of image ``b`` for channel ``c``, cut only when it enters a top-k."""

    def __init__(
        self, batch: torch.Tensor, rows: torch.Tensor, cols: torch.Tensor, field: ReceptiveField
    ) -> None:
        self.rows, self.cols, self.field = rows.cpu(), cols.cpu(), field
        self.pixels: torch.Tensor | None = None
        self.batch = batch

    def __call__(self, image: int, channel: int) -> torch.Tensor:
        if self.pixels is None:  # 8-bit once per batch, only if one of its images is kept
            self.pixels = (self.batch[:, :3].clamp(0, 1) * 255).round().to(torch.uint8).cpu()
        position = (int(self.rows[image, channel]), int(self.cols[image, channel]))
        top, left, bottom, right = self.field.box(position)
        return self.pixels[image, :, top:bottom, left:right]


def _merge(
    kept: _TopK,
    new: tuple[torch.Tensor, torch.Tensor, torch.Tensor],
    crops_of: _LazyCrops,
    offset: int,
) -> _TopK:
    """Merge one batch's per-image maxima into the running top-k (ties keep earlier images).

    ``kept`` is ``(values, indices, positions, crops, slots)``: rank ``j`` of channel ``c``
    has its crop in ``crops[c, slots[c, j]]``, so a merge writes only the crops of images
    that enter a top-k, into the slots of those that leave it.
    """
    values, indices, positions, crops, slots = kept
    best, rows, cols = new  # [C, B]
    channels, k = values.shape
    images = best.shape[1]
    image_ids = torch.arange(offset, offset + images).expand(channels, images)
    all_values = torch.cat([values, best], dim=1)  # earlier first: the stable sort keeps them
    order = torch.sort(all_values, dim=1, descending=True, stable=True).indices[:, :k]
    new_values = all_values.gather(1, order)
    new_indices = torch.cat([indices, image_ids], dim=1).gather(1, order)
    all_positions = torch.cat([positions, torch.stack([rows, cols], dim=2)], dim=1)
    new_positions = all_positions.gather(1, order[..., None].expand(-1, -1, 2))
    entering = order >= k
    new_slots = slots.gather(1, order.clamp(max=k - 1))
    for channel in entering.any(dim=1).nonzero().flatten().tolist():
        staying = set(slots[channel, order[channel][~entering[channel]]].tolist())
        free = [slot for slot in slots[channel].tolist() if slot not in staying]
        for rank in entering[channel].nonzero().flatten().tolist():
            slot = free.pop()
            crops[channel, slot] = crops_of(int(order[channel, rank]) - k, channel)
            new_slots[channel, rank] = slot
    return new_values, new_indices, new_positions, crops, new_slots
