"""The default rendering input: parameterization -> colour recorrelation -> squash."""

from __future__ import annotations

import inspect
from collections.abc import Callable, Sequence

import torch
from torch import nn

from optim.images.fft_image import FFTImage
from optim.images.image_tensor import ImageTensor
from optim.images.parameterization import ImageParameterization
from optim.transforms.to_rgb import ToRGB


def _decorrelated_init(init: torch.Tensor, decorrelate: nn.Module) -> torch.Tensor:
    """``init`` mapped into the decorrelated space: ``decorrelate(init, inverse=True)``."""
    if not isinstance(init, torch.Tensor):
        raise TypeError(f"init must be a tensor, got {type(init).__name__}.")
    try:
        return decorrelate(init.detach().as_subclass(torch.Tensor), inverse=True)
    except TypeError as exc:
        raise TypeError(
            "decorrelate_init=True needs a decorrelation module whose forward accepts "
            "inverse=True (like ToRGB); pass decorrelate_init=False otherwise."
        ) from exc


class NaturalImage(ImageParameterization):
    """Parameterization -> ToRGB recorrelation -> squash function -> :class:`ImageTensor`.

    Args:
        size: (height, width) passed to a parameterization class.
        channels: number of channels (4 adds an alpha channel that ToRGB passes through).
        batch: number of images.
        init: optional CHW/NCHW starting image in [0, 1] space (not inverse-squashed).
        parameterization: an ImageParameterization class (built with size, channels, batch,
            init and, when accepted, generator) or a ready instance (size and friends ignored).
        squash_func: maps the recorrelated image to the output range; None for identity.
        decorrelation_module: colour recorrelation module, or ``"klt"`` / ``"i1i2i3"`` for a
            new :class:`~optim.transforms.ToRGB` per NaturalImage; None to skip it.
        decorrelate_init: decorrelate ``init`` with ``decorrelation_module(init, inverse=True)``.
        generator: optional ``torch.Generator`` for the parameterization's random init.

    Example:
        >>> image = NaturalImage((32, 32))
        >>> out = image()
        >>> out.shape, bool(out.min() >= 0), bool(out.max() <= 1)
        (torch.Size([1, 3, 32, 32]), True, True)
    """

    def __init__(
        self,
        size: int | Sequence[int] = (224, 224),
        channels: int = 3,
        batch: int = 1,
        init: torch.Tensor | None = None,
        parameterization: type[nn.Module] | nn.Module = FFTImage,
        squash_func: Callable[[torch.Tensor], torch.Tensor] | None = torch.sigmoid,
        decorrelation_module: nn.Module | str | None = "klt",
        decorrelate_init: bool = True,
        generator: torch.Generator | None = None,
    ) -> None:
        super().__init__()
        if isinstance(decorrelation_module, str):
            decorrelation_module = ToRGB(transform=decorrelation_module)
        elif decorrelation_module is not None and not callable(decorrelation_module):
            raise TypeError(
                "decorrelation_module must be an nn.Module, 'klt', 'i1i2i3' or None, got "
                f"{decorrelation_module!r}."
            )
        self.decorrelate = decorrelation_module
        if squash_func is not None and not callable(squash_func):
            raise TypeError(f"squash_func must be callable or None, got {squash_func!r}.")
        self.squash_func = squash_func if squash_func is not None else nn.Identity()

        if isinstance(parameterization, nn.Module):
            self.parameterization = parameterization
        elif isinstance(parameterization, type) and issubclass(parameterization, nn.Module):
            if init is not None and decorrelate_init and self.decorrelate is not None:
                init = _decorrelated_init(init, self.decorrelate)
            kwargs: dict[str, object] = {
                "size": size,
                "channels": channels,
                "batch": batch,
                "init": init,
            }
            if "generator" in inspect.signature(parameterization).parameters:
                kwargs["generator"] = generator
            self.parameterization = parameterization(**kwargs)
        else:
            raise TypeError(
                "parameterization must be an ImageParameterization class or instance, got "
                f"{parameterization!r}."
            )

    @torch.jit.ignore
    def _to_image_tensor(self, x):
        # type: (torch.Tensor) -> torch.Tensor
        """Wrap the output in ImageTensor (runs in Python, also when the module is scripted)."""
        return ImageTensor(x)

    def forward(self) -> torch.Tensor:
        """Build the image, an :class:`ImageTensor` of shape [B, C, H, W]."""
        return self._finish(self.parameterization())

    def _finish(self, image: torch.Tensor) -> torch.Tensor:
        if self.decorrelate is not None:
            image = self.decorrelate(image)
        image = self.squash_func(image)
        return self._to_image_tensor(image)

    @torch.jit.unused
    def at_size(self, size: int | Sequence[int]) -> torch.Tensor:
        """The image redrawn at ``size`` by a resolution-free parameterization (one with its
        own ``at_size``, such as :class:`~optim.images.CPPNImage`).

        Example:
            >>> from optim.images import CPPNImage
            >>> NaturalImage((16, 16), parameterization=CPPNImage).at_size(64).shape
            torch.Size([1, 3, 64, 64])
        """
        redraw = getattr(self.parameterization, "at_size", None)
        if redraw is None:
            raise TypeError(
                f"{type(self.parameterization).__name__} is a fixed grid of pixels and cannot "
                "be redrawn at another size; use a resolution-free parameterization "
                "(CPPNImage, `--parameterization cppn`)."
            )
        return self._finish(redraw(size))
