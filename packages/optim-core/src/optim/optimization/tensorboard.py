"""Optional TensorBoard logging of a render: the loss every step, the image every k steps."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import torch

from optim.checks import is_int
from optim.optimization.stop_criteria import StopCriteria, n_steps


def _summary_writer_class() -> type:
    try:
        from torch.utils.tensorboard import SummaryWriter
    except ImportError as exc:
        raise ImportError(
            "TensorBoard logging needs the tensorboard package. Install it with: "
            "pip install 'optim-core[tensorboard]'"
        ) from exc
    return SummaryWriter


class TensorBoardLogger:
    """A stop criterion that logs to TensorBoard and defers the decision to another one.

    Before each step it logs the last summarised loss (tag ``<tag>/loss``) and, every
    ``image_every`` steps and at the end, the current image (``<tag>/image``, first three
    channels, clamped to [0, 1]).

    Args:
        stop_criteria: The criterion deciding when to stop; default ``n_steps(512)``.
        log_dir: Where a new ``SummaryWriter`` writes (ignored when ``writer`` is given).
        writer: An existing ``torch.utils.tensorboard.SummaryWriter``.
        image_every: Log the image every this many steps.
        tag: Prefix of the logged tags.

    Example:
        ``log_dir="runs/unit_3"`` makes a ``SummaryWriter`` (needs tensorboard); any object
        with its ``add_scalar``, ``add_images`` and ``flush`` methods can stand in for one:

        >>> import optim as opt
        >>> class Writer:
        ...     def __init__(self):
        ...         self.logged = []
        ...     def add_scalar(self, tag, value, step):
        ...         self.logged.append((tag, step))
        ...     def add_images(self, tag, images, step):
        ...         self.logged.append((tag, step, tuple(images.shape)))
        ...     def flush(self):
        ...         pass
        >>> model = torch.nn.Conv2d(3, 2, 3).eval()
        >>> obj = opt.InputOptimization(
        ...     model, opt.loss.ChannelActivation(model, 0), opt.images.NaturalImage((32, 32)))
        >>> writer = Writer()
        >>> stop = n_steps(3, show_progress=False)
        >>> obj.optimize(TensorBoardLogger(stop, writer=writer, image_every=2)).shape
        torch.Size([3])
        >>> writer.logged  # doctest: +NORMALIZE_WHITESPACE
        [('optim/image', 0, (1, 3, 32, 32)), ('optim/loss', 0), ('optim/loss', 1),
         ('optim/image', 2, (1, 3, 32, 32)), ('optim/loss', 2), ('optim/image', 3, (1, 3, 32, 32))]
    """

    def __init__(
        self,
        stop_criteria: StopCriteria | None = None,
        log_dir: str | None = None,
        *,
        writer: Any | None = None,
        image_every: int = 16,
        tag: str = "optim",
    ) -> None:
        if not is_int(image_every) or image_every < 1:
            raise ValueError(f"image_every must be a positive int, got {image_every!r}.")
        self._owns_writer = writer is None
        self.writer = writer if writer is not None else _summary_writer_class()(log_dir=log_dir)
        self.stop_criteria = stop_criteria if stop_criteria is not None else n_steps(512)
        self.image_every = int(image_every)
        self.tag = tag

    def _log_image(self, optimization: Any, step: int) -> None:
        with torch.no_grad():
            image = optimization.input_param().detach()
        image = torch.as_tensor(image).float().cpu()
        if image.dim() == 3:
            image = image.unsqueeze(0)
        if image.shape[1] > 3:
            image = image[:, :3]
        self.writer.add_images(f"{self.tag}/image", image.clamp(0, 1), step)

    def __call__(
        self,
        step: int,
        optimization: Any,
        history: Sequence[torch.Tensor],
        optimizer: torch.optim.Optimizer,
    ) -> bool:
        if history:
            self.writer.add_scalar(f"{self.tag}/loss", float(history[-1].mean()), step - 1)
        keep_going = self.stop_criteria(step, optimization, history, optimizer)
        if step % self.image_every == 0 or not keep_going:
            self._log_image(optimization, step)
        if not keep_going:
            self.writer.flush()
        return keep_going

    def close(self) -> None:
        """Flush (and close, if this object created it) the writer; close the inner criterion."""
        close = getattr(self.stop_criteria, "close", None)
        if callable(close):
            close()
        self.writer.flush()
        if self._owns_writer:
            self.writer.close()


def log_to_tensorboard(
    stop_criteria: StopCriteria | None = None,
    log_dir: str | None = None,
    *,
    writer: Any | None = None,
    image_every: int = 16,
    tag: str = "optim",
) -> TensorBoardLogger:
    """Wrap ``stop_criteria`` so the render is logged to TensorBoard.

    See :class:`TensorBoardLogger` for the arguments. Needs ``pip install
    'optim-core[tensorboard]'``.

    Example:
        >>> class Writer:  # stands in for the SummaryWriter of log_dir="runs/demo"
        ...     add_scalar = add_images = flush = lambda self, *args: None
        >>> stop = log_to_tensorboard(n_steps(128), writer=Writer(), image_every=8)
        >>> stop.image_every, stop.tag
        (8, 'optim')
    """
    return TensorBoardLogger(
        stop_criteria, log_dir, writer=writer, image_every=image_every, tag=tag
    )
