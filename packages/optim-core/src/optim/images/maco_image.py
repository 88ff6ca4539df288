"""MACO: a magnitude-constrained Fourier parameterization (Fel et al. 2023)."""

from __future__ import annotations

import math
import os
from collections.abc import Sequence

import torch
from torch import nn

from optim.images._init_checks import as_nchw_init, as_size, check_counts
from optim.images.fft_image import rfft2d_freqs
from optim.images.parameterization import ImageParameterization


def _self_conjugate_columns(width: int) -> list[int]:
    """``rfft2`` columns whose coefficients must be Hermitian along the height axis."""
    return [0, width // 2] if width % 2 == 0 and width > 1 else [0]


def _mirror_rows(height: int, device: torch.device | None = None) -> torch.Tensor:
    """Row index of frequency ``-f`` for each row ``f`` in ``fftfreq`` order."""
    return (-torch.arange(height, device=device)) % height


def _load_spectrum(spectrum: torch.Tensor | str | os.PathLike) -> torch.Tensor:
    if isinstance(spectrum, str | os.PathLike):
        loaded = torch.load(os.fspath(spectrum), map_location="cpu", weights_only=True)
        if not isinstance(loaded, torch.Tensor):
            raise ValueError(
                f"{os.fspath(spectrum)!r} holds {type(loaded).__name__}, not a spectrum tensor; "
                "save one with optim.dataset.save_magnitude_spectrum."
            )
        spectrum = loaded
    if not isinstance(spectrum, torch.Tensor):
        raise TypeError(
            "spectrum must be a [C, H, W // 2 + 1] tensor, a path to one, or None for a 1/f "
            f"prior; got {type(spectrum).__name__}."
        )
    if spectrum.dim() != 3:
        raise ValueError(
            "spectrum must have shape [C, H, W // 2 + 1] (the torch.fft.rfft2 layout), got "
            f"{tuple(spectrum.shape)}. optim.dataset.dataset_magnitude_spectrum makes one."
        )
    if not bool(torch.isfinite(spectrum).all()) or bool((spectrum < 0).any()):
        raise ValueError("spectrum must hold finite, non-negative magnitudes.")
    return spectrum.detach().to(torch.float64)


class MACOImage(ImageParameterization):
    """Fixed Fourier magnitude, optimised phase: MACO (Fel et al. 2023).

    The image is ``irfft2(magnitude * exp(i * phase))``: only the phase is a parameter, and
    the magnitude is a given spectrum (e.g. the mean amplitude of natural images in the
    decorrelated colour space, from ``optim.dataset.dataset_magnitude_spectrum``) or a
    ``1 / f ** decay_power`` prior. As in MACO the mean is removed (the DC term is zero) and
    the image is scaled to unit standard deviation; because the phase is kept Hermitian, that
    scale is a constant, so the amplitude spectrum of every output is exactly
    :attr:`magnitude` at every step. Use it inside :class:`~optim.images.NaturalImage`, which
    recorrelates the colours and squashes the result to [0, 1].

    With ``accumulate_transparency`` the absolute gradient that reaches the image is summed
    over every backward pass, giving MACO's transparency (attribution) map:
    :meth:`transparency`.

    Args:
        size: (height, width); taken from ``spectrum`` or ``init`` when None.
        spectrum: [C, H, W // 2 + 1] magnitudes (or a path to a saved tensor of them); None
            uses the 1/f prior for every channel.
        channels: channel count when no spectrum is given (must match it otherwise).
        batch: number of images.
        init: optional CHW/NCHW image whose phase is the starting phase.
        decay_power: exponent of the 1/f prior.
        accumulate_transparency: record the transparency map during optimisation.
        generator: optional ``torch.Generator`` for the random starting phase.

    Example:
        >>> image = MACOImage((32, 32))
        >>> out = image()
        >>> out.shape, round(out.std(unbiased=False).item(), 4)
        (torch.Size([1, 3, 32, 32]), 1.0)
        >>> spectrum = torch.fft.rfft2(out.detach(), norm="ortho").abs()[0]
        >>> torch.allclose(spectrum, image.magnitude, atol=1e-5)
        True
    """

    def __init__(
        self,
        size: int | Sequence[int] | None = (224, 224),
        spectrum: torch.Tensor | str | os.PathLike | None = None,
        channels: int = 3,
        batch: int = 1,
        init: torch.Tensor | None = None,
        decay_power: float = 1.0,
        accumulate_transparency: bool = False,
        generator: torch.Generator | None = None,
    ) -> None:
        super().__init__()
        magnitude = None if spectrum is None else _load_spectrum(spectrum)
        if init is not None:
            init = as_nchw_init(init, "MACOImage")
            batch, size = init.shape[0], (init.shape[2], init.shape[3])
            if magnitude is None:
                channels = init.shape[1]
        if magnitude is not None:
            if size is None:
                size = (magnitude.shape[1], 2 * (magnitude.shape[2] - 1))
            if channels != magnitude.shape[0] and init is None:
                raise ValueError(
                    f"MACOImage got channels={channels} but the spectrum has "
                    f"{magnitude.shape[0]} channels; they must agree."
                )
            channels = magnitude.shape[0]
        height, width = as_size(size, "MACOImage")
        check_counts(channels, batch, "MACOImage")
        if init is not None and init.shape[1] != channels:
            raise ValueError(
                f"MACOImage init has {init.shape[1]} channels but the spectrum has {channels}."
            )
        self.size = (height, width)
        if magnitude is None:
            if decay_power < 0:
                raise ValueError(f"decay_power must be >= 0, got {decay_power}.")
            freqs = rfft2d_freqs(height, width).clamp(min=1.0 / max(height, width))
            magnitude = (1.0 / freqs**decay_power).expand(channels, -1, -1)
        elif tuple(magnitude.shape[1:]) != (height, width // 2 + 1):
            raise ValueError(
                f"The spectrum has shape {tuple(magnitude.shape)}, but size {self.size} needs "
                f"[C, {height}, {width // 2 + 1}]. Compute it at this size with "
                f"optim.dataset.dataset_magnitude_spectrum(loader, size=({height}, {width}))."
            )
        self.magnitude: torch.Tensor  # a buffer (typed for type checkers)
        self.register_buffer("magnitude", self._unit_std_magnitude(magnitude).to(torch.float32))

        if init is None:
            phase = (
                torch.rand(batch, channels, height, width // 2 + 1, generator=generator) * 2 - 1
            ) * math.pi
        else:
            phase = torch.angle(torch.fft.rfft2(init.to(torch.float64))).to(torch.float32)
        self.phase = nn.Parameter(phase)
        self.accumulate_transparency = accumulate_transparency
        self.transparency_accumulator: torch.Tensor  # a buffer (typed for type checkers)
        self.register_buffer("transparency_accumulator", torch.zeros(batch, 1, height, width))

    def _unit_std_magnitude(self, magnitude: torch.Tensor) -> torch.Tensor:
        """Symmetrise the self-conjugate columns, zero the DC term, scale to unit std."""
        height, width = self.size
        magnitude = magnitude.clone()
        mirror = _mirror_rows(height)
        weights = torch.full((width // 2 + 1,), 2.0, dtype=torch.float64)
        for column in _self_conjugate_columns(width):
            magnitude[:, :, column] = (magnitude[:, :, column] + magnitude[:, mirror, column]) / 2
            weights[column] = 1.0
        magnitude[:, 0, 0] = 0.0
        # norm="ortho": the image's sum of squares is the full spectrum's energy.
        energy = (magnitude**2 * weights).sum()
        if energy <= 0:
            raise ValueError("The spectrum is zero at every frequency except DC; no image fits.")
        pixels = magnitude.shape[0] * height * width
        return magnitude * torch.sqrt(pixels / energy)

    def _hermitian_phase(self) -> torch.Tensor:
        """Phase whose self-conjugate columns are odd in frequency, so irfft2 is exact."""
        height, width = self.size
        mirror = _mirror_rows(height, self.phase.device)  # built there: no host copy per step
        phase = self.phase.clone()
        for column in _self_conjugate_columns(width):
            original = self.phase[:, :, :, column]
            phase[:, :, :, column] = (original - original[:, :, mirror]) / 2
        return phase

    def forward(self) -> torch.Tensor:
        spectrum = torch.polar(self.magnitude.expand_as(self.phase), self._hermitian_phase())
        image = torch.fft.irfft2(spectrum, s=self.size, norm="ortho")
        if self.accumulate_transparency and image.requires_grad:
            image.register_hook(self._accumulate)
        return image

    def _accumulate(self, grad: torch.Tensor) -> None:
        self.transparency_accumulator += grad.detach().abs().sum(dim=1, keepdim=True)

    def transparency(self) -> torch.Tensor:
        """The accumulated transparency map, [B, 1, H, W], scaled to [0, 1] per image.

        Example:
            >>> image = MACOImage((8, 8), accumulate_transparency=True)
            >>> (image() ** 2).sum().backward()
            >>> float(image.transparency().max())
            1.0
        """
        accumulated = self.transparency_accumulator
        peak = accumulated.flatten(1).amax(dim=1).clamp(min=torch.finfo(accumulated.dtype).tiny)
        return accumulated / peak.view(-1, 1, 1, 1)

    def reset_transparency(self) -> None:
        """Forget the transparency accumulated so far."""
        self.transparency_accumulator.zero_()
