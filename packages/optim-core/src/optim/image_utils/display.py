"""Show image tensors with matplotlib."""

from __future__ import annotations

import sys
import warnings
from types import FrameType

import torch

from optim.image_utils._to_pil import to_uint8_hwc

# matplotlib's built-in backends that only render to files or buffers (matplotlib >= 3.9 lists
# them as backend_registry.list_builtin(BackendFilter.NON_INTERACTIVE)). Backends given as
# "module://..." (Jupyter's inline backend among them) are assumed to display.
_NON_INTERACTIVE_BACKENDS = frozenset({"agg", "cairo", "pdf", "pgf", "ps", "svg", "template"})
_warned_non_interactive = False
_OWN_MODULES = ("optim.image_utils", "optim.images")  # show() and ImageTensor.show


def _user_stacklevel() -> int:
    """The ``stacklevel`` that points a warning at the first frame outside show()'s modules."""
    frame: FrameType | None = sys._getframe(1)
    level = 1
    while frame is not None and frame.f_globals.get("__name__", "").startswith(_OWN_MODULES):
        frame, level = frame.f_back, level + 1
    return level


def _warn_if_not_displayed() -> None:
    """Warn once per process when matplotlib's backend cannot display anything."""
    global _warned_non_interactive
    import matplotlib

    backend = str(matplotlib.get_backend())
    if _warned_non_interactive or backend.lower() not in _NON_INTERACTIVE_BACKENDS:
        return
    _warned_non_interactive = True
    warnings.warn(
        f"show() displays nothing: matplotlib's backend {backend!r} is non-interactive (no "
        "display, e.g. a headless machine or MPLBACKEND=Agg). Save the image instead with "
        'opt.save_tensor_as_image(x, "image.png") or image().export("image.png"), or set '
        "MPLBACKEND to an interactive backend such as TkAgg or QtAgg.",
        UserWarning,
        stacklevel=_user_stacklevel(),
    )


def show(
    x: torch.Tensor,
    figsize: tuple[float, float] | None = None,
    scale: float = 255.0,
    images_per_row: int | None = None,
    padding: int = 2,
    pad_value: float = 0.0,
) -> None:
    """Display a CHW or NCHW image tensor (values in [0, 1]) with matplotlib.

    A batch is laid out in one row, or on a grid when ``images_per_row`` is set. With a
    non-interactive matplotlib backend (``agg``, ``pdf``, ``svg``, ...: a headless machine)
    nothing can appear on screen: the figure is still drawn, and a ``UserWarning`` (once per
    process) says so and suggests :func:`optim.image_utils.save_tensor_as_image`.

    Args:
        x: image tensor; values are multiplied by ``scale`` and clipped to [0, 255].
        figsize: matplotlib figure size.
        scale: multiplier to the 0-255 range.
        images_per_row: grid width for batches.
        padding: pixels between batch images.
        pad_value: fill value (before scaling) between images.

    Example:
        >>> show(torch.rand(2, 3, 8, 8))  # a window; headless (MPLBACKEND=Agg): the warning
    """
    import matplotlib.pyplot as plt

    array = to_uint8_hwc(x, scale, images_per_row, padding, pad_value)
    if figsize is not None:
        plt.figure(figsize=figsize)
    plt.imshow(array, cmap="gray" if array.ndim == 2 else None)
    plt.axis("off")
    _warn_if_not_displayed()
    plt.show()
