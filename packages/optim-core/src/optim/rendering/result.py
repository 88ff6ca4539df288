"""What :func:`~optim.rendering.render` and :func:`~optim.rendering.render_layer` return.

Example:
    >>> import torch
    >>> from optim.rendering.result import RenderResult
    >>> result = RenderResult(
    ...     images=torch.rand(1, 3, 8, 8), history=torch.tensor([0.5, 1.0]),
    ...     final_objective=1.2, seed=0, settings={"steps": 2}, wall_time_s=0.5)
    >>> result.steps_per_s
    4.0
"""

from __future__ import annotations

import math
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import torch

if TYPE_CHECKING:
    from optim.rendering.spec import RenderSpec

__all__ = ["LayerRenderResult", "RenderResult", "write_png"]


def write_png(
    images: torch.Tensor, path: str | os.PathLike[str], images_per_row: int | None = None
) -> Path:
    """Save ``[B, 3, H, W]`` images in [0, 1] as one PNG (a grid when B > 1), atomically.

    The bytes depend only on the pixels, so equal images give byte-identical files.

    Example:
        >>> import tempfile
        >>> from PIL import Image
        >>> with tempfile.TemporaryDirectory() as tmp:
        ...     path = write_png(torch.zeros(4, 3, 8, 8), Path(tmp, "black.png"))
        ...     Image.open(path).size  # a 2 x 2 grid of 8 px images, 2 px padding
        (22, 22)
    """
    from optim.image_utils import save_tensor_as_image
    from optim.rendering.files import write_atomic

    if images.dim() != 4:
        raise ValueError(f"Expected [B, C, H, W] images, got shape {list(images.shape)}.")
    path = Path(path)
    if images.shape[0] > 1 and images_per_row is None:
        images_per_row = math.ceil(math.sqrt(images.shape[0]))
    pixels = images.detach().cpu()
    return write_atomic(
        path, lambda temp: save_tensor_as_image(pixels, str(temp), images_per_row=images_per_row)
    )


def _steps_per_second(steps: int, seconds: float) -> float:
    return steps / seconds if seconds > 0 else float("inf")


@dataclass
class RenderResult:
    """The outcome of one render.

    Attributes:
        images: ``[batch, 3, H, W]`` float32 images in [0, 1] on the CPU.
        history: the objective (the value being maximised) at every step, shape ``[steps]``.
        final_objective: the objective of the final image fed to the model without transforms.
        seed: the seed the render used (drawn and recorded when none was given).
        settings: every setting, JSON-ready: the spec's fields and what the render derived
            from them (``transforms_keep_size``, ``final_objective_on``).
        wall_time_s: seconds spent optimising.
        spec: the :class:`~optim.rendering.RenderSpec` that ran (seed and device resolved).
        ran: what actually ran (eager or CUDA graph, fused transforms, autocast), as
            :meth:`optim.optimization.RunReport.describe` gives it.
        interrupted: Ctrl-C stopped the render: ``history`` has the steps that ran.
        error: why the render stopped early (a non-finite objective or gradient); the images
            are then the last good ones.
    """

    images: torch.Tensor
    history: torch.Tensor
    final_objective: float
    seed: int
    settings: dict[str, Any] = field(default_factory=dict)
    wall_time_s: float = 0.0
    spec: RenderSpec | None = None
    ran: dict[str, Any] = field(default_factory=dict)
    interrupted: bool = False
    error: str | None = None

    @property
    def steps_per_s(self) -> float:
        """Optimisation steps per second."""
        return _steps_per_second(len(self.history), self.wall_time_s)

    def save(self, path: str | os.PathLike[str], images_per_row: int | None = None) -> Path:
        """Write the images as one PNG (a grid for a batch); returns the path.

        Example:
            >>> import tempfile
            >>> result = RenderResult(
            ...     images=torch.rand(1, 3, 8, 8), history=torch.zeros(2), final_objective=0.0,
            ...     seed=0)
            >>> with tempfile.TemporaryDirectory() as tmp:
            ...     result.save(Path(tmp, "unit.png")).name
            'unit.png'
        """
        return write_png(self.images, path, images_per_row)


@dataclass
class LayerRenderResult:
    """The outcome of rendering many channels of one layer, one image per channel.

    Attributes:
        layer: the layer's dotted name.
        channels: the channels rendered, in order.
        images: ``[len(channels), 3, H, W]`` float32 images in [0, 1] on the CPU.
        history: the objective of every channel at every step, shape ``[steps, channels]``.
        final_objectives: each channel's objective on its final image without transforms.
        batches: the channels optimised together in each batch.
        seed: the seed the render used.
        settings: every setting, JSON-ready.
        wall_time_s: seconds spent optimising, all batches together.
        batch_wall_times_s: seconds spent optimising each batch.
        spec: the :class:`~optim.rendering.RenderSpec` that ran (``target`` is the layer).
        ran: what actually ran (of the first batch; every batch runs the same way).
        interrupted: Ctrl-C stopped the job: only the batches that finished are here.
        error: why the job stopped early (a non-finite objective or gradient); only the
            batches that finished before are here.
    """

    layer: str
    channels: list[int]
    images: torch.Tensor
    history: torch.Tensor
    final_objectives: list[float]
    batches: list[list[int]]
    seed: int
    settings: dict[str, Any] = field(default_factory=dict)
    wall_time_s: float = 0.0
    batch_wall_times_s: list[float] = field(default_factory=list)
    spec: RenderSpec | None = None
    ran: dict[str, Any] = field(default_factory=dict)
    interrupted: bool = False
    error: str | None = None

    @property
    def steps_per_s(self) -> float:
        """Optimisation steps per second (one step updates a whole batch of channels)."""
        return _steps_per_second(len(self.history) * len(self.batches), self.wall_time_s)

    @property
    def channel_steps_per_s(self) -> float:
        """Channel-steps per second: channels times steps over the wall time."""
        return _steps_per_second(len(self.history) * len(self.channels), self.wall_time_s)

    def image(self, channel: int) -> torch.Tensor:
        """The ``[1, 3, H, W]`` image of ``channel``.

        Example:
            >>> result = LayerRenderResult(
            ...     layer="conv", channels=[3, 5], images=torch.rand(2, 3, 64, 64),
            ...     history=torch.zeros(4, 2), final_objectives=[0.5, 0.7], batches=[[3, 5]],
            ...     seed=0)
            >>> result.image(5).shape
            torch.Size([1, 3, 64, 64])
            >>> torch.equal(result.image(5)[0], result.images[1])
            True
        """
        if channel not in self.channels:
            raise KeyError(f"Channel {channel} was not rendered; rendered: {self.channels}.")
        index = self.channels.index(channel)
        return self.images[index : index + 1]

    def save(self, path: str | os.PathLike[str], images_per_row: int | None = None) -> Path:
        """Write every channel's image into one grid PNG; returns the path."""
        return write_png(self.images, path, images_per_row)
