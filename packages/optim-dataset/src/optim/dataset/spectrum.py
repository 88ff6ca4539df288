"""Mean Fourier magnitude spectra of image datasets (the MACO prior) and their 1/f slope."""

from __future__ import annotations

import os
from collections.abc import Iterable, Sequence

import torch
from tqdm.auto import tqdm

from optim.checks import check_size
from optim.dataset._batches import iterate_images
from optim.dataset.loaders import resize_and_crop


def _colour_matrix(color_transform: str | torch.Tensor | None) -> torch.Tensor | None:
    if color_transform is None:
        return None
    if isinstance(color_transform, str):
        from optim.transforms import ToRGB

        return ToRGB(transform=color_transform).transform.detach().to(torch.float64)
    if not isinstance(color_transform, torch.Tensor) or color_transform.shape != (3, 3):
        raise ValueError(
            "color_transform must be 'klt', 'i1i2i3', a 3x3 tensor (e.g. from "
            "optim.dataset.dataset_klt_matrix) or None for plain RGB, got "
            f"{color_transform!r}."
        )
    return color_transform.detach().to(torch.float64)


def dataset_magnitude_spectrum(
    loader: Iterable[object],
    size: int | Sequence[int],
    color_transform: str | torch.Tensor | None = "klt",
    show_progress: bool = False,
    device: torch.device | str = "cpu",
) -> torch.Tensor:
    """Mean Fourier amplitude of a dataset's images in a decorrelated colour space.

    This is the magnitude prior of MACO (Fel et al. 2023): each image is resized and
    centre-cropped to ``size``, mapped to the decorrelated colour space of ``color_transform``
    (the inverse of the recorrelation ``ToRGB`` applies, so an image rendered from this
    spectrum and recorrelated by that same ``ToRGB`` has natural colour statistics), and the
    amplitudes ``|rfft2(x, norm="ortho")|`` are averaged over images.

    Args:
        loader: yields RGB image batches [N, 3, H, W] in [0, 1], or (images, labels) pairs.
        size: spectrum (height, width) in pixels, or one int for a square.
        color_transform: the recorrelation matrix: "klt" (default), "i1i2i3", a 3x3 tensor,
            or None to stay in RGB.
        show_progress: show a tqdm progress bar counting images.
        device: where the FFTs run.

    Returns:
        A float32 tensor [C, H, W // 2 + 1] (the ``torch.fft.rfft2`` layout).

    Example:
        >>> loader = [torch.rand(2, 3, 32, 32)]
        >>> dataset_magnitude_spectrum(loader, 32).shape
        torch.Size([3, 32, 17])
    """
    height, width = check_size(size)
    matrix = _colour_matrix(color_transform)
    inverse = None if matrix is None else torch.linalg.inv(matrix).to(device)
    total: torch.Tensor | None = None
    count = 0
    with tqdm(disable=not show_progress, unit=" images", desc="magnitude spectrum") as bar:
        for images in iterate_images(loader, device):
            if tuple(images.shape[-2:]) != (height, width):
                images = resize_and_crop(images, (height, width))
            images = images.to(torch.float64)
            if inverse is not None:
                if images.shape[1] != 3:
                    raise ValueError(
                        f"A colour transform needs 3-channel images, got {images.shape[1]} "
                        "channels; pass color_transform=None for other channel counts."
                    )
                images = torch.einsum("ij,njhw->nihw", inverse, images)
            amplitude = torch.fft.rfft2(images, norm="ortho").abs().sum(dim=0)
            total = amplitude if total is None else total + amplitude
            count += images.shape[0]
            bar.update(images.shape[0])
    if total is None or count == 0:
        raise ValueError("The loader yielded no images; give it at least one image batch.")
    return (total / count).to(torch.float32)


def spectrum_frequencies(size: int | Sequence[int]) -> torch.Tensor:
    """Radial frequency (cycles per pixel) of each bin of an ``rfft2`` spectrum of ``size``.

    Example:
        >>> spectrum_frequencies(4)
        tensor([[0.0000, 0.2500, 0.5000],
                [0.2500, 0.3536, 0.5590],
                [0.5000, 0.5590, 0.7071],
                [0.2500, 0.3536, 0.5590]])
    """
    height, width = check_size(size)
    fy = torch.fft.fftfreq(height, dtype=torch.float64)[:, None]
    fx = torch.fft.rfftfreq(width, dtype=torch.float64)[None, :]
    return torch.sqrt(fy**2 + fx**2).to(torch.float32)


def spectrum_power_law_exponent(spectrum: torch.Tensor, width: int | None = None) -> float:
    """Fit ``amplitude ~ f ** -alpha`` to a magnitude spectrum and return ``alpha``.

    The channel-mean amplitude is regressed on frequency in log-log space over every bin with
    0 < f <= 0.5 cycles/pixel (the DC bin and the corners beyond Nyquist are left out), each
    bin weighted so that every octave of frequency counts equally.
    Natural photos give alpha close to 1.

    Args:
        spectrum: [C, H, W // 2 + 1] or [H, W // 2 + 1] magnitudes (``rfft2`` layout), with
            the height (full) axis in ``torch.fft.fftfreq`` order.
        width: the image width; the ``rfft2`` layout cannot tell ``2k`` from ``2k + 1``, so
            the default assumes an even width ``2 * (W // 2 + 1 - 1)``.

    Example:
        >>> f = spectrum_frequencies(32).clamp(min=1 / 32)
        >>> round(spectrum_power_law_exponent(f ** -1.5), 6)
        1.5
    """
    if not isinstance(spectrum, torch.Tensor) or spectrum.dim() not in (2, 3):
        raise ValueError(
            "spectrum must be a [C, H, W // 2 + 1] or [H, W // 2 + 1] tensor, got "
            f"{getattr(spectrum, 'shape', type(spectrum).__name__)}."
        )
    amplitude = spectrum.detach().to(torch.float64)
    if amplitude.dim() == 3:
        amplitude = amplitude.mean(dim=0)
    height, half_width = amplitude.shape
    width = 2 * (half_width - 1) if width is None else width
    if width // 2 + 1 != half_width or width < 1:
        raise ValueError(
            f"width={width} does not match a spectrum with {half_width} columns "
            f"(expected {2 * half_width - 2} or {2 * half_width - 1})."
        )
    frequencies = spectrum_frequencies((height, width)).to(torch.float64)
    mask = (frequencies > 0) & (frequencies <= 0.5) & (amplitude > 0)
    if int(mask.sum()) < 2:
        raise ValueError("The spectrum has too few positive bins to fit a power law.")
    log_f = frequencies[mask].log()
    # Bins crowd at high frequencies (their count grows like f); weighting each by 1/f
    # (residuals by 1/f, squares by 1/f^2) gives every octave the same say in the fit.
    weight = 1.0 / frequencies[mask]
    design = torch.stack([log_f, torch.ones_like(log_f)], dim=1) * weight[:, None]
    target = (amplitude[mask].log() * weight)[:, None]
    solution = torch.linalg.lstsq(design, target).solution
    return float(-solution[0, 0])


def save_magnitude_spectrum(spectrum: torch.Tensor, path: str | os.PathLike) -> None:
    """Save a magnitude spectrum as a tensor file (``torch.save``).

    Example:
        >>> import tempfile
        >>> with tempfile.TemporaryDirectory() as tmp:
        ...     save_magnitude_spectrum(torch.ones(3, 8, 5), os.path.join(tmp, "spectrum.pt"))
        ...     os.listdir(tmp)
        ['spectrum.pt']
    """
    _check_spectrum(spectrum)
    torch.save(spectrum.detach().cpu().contiguous(), os.fspath(path))


def load_magnitude_spectrum(path: str | os.PathLike) -> torch.Tensor:
    """Load a spectrum saved by :func:`save_magnitude_spectrum` (``weights_only=True``).

    Example:
        >>> import tempfile
        >>> with tempfile.TemporaryDirectory() as tmp:
        ...     path = os.path.join(tmp, "spectrum.pt")
        ...     save_magnitude_spectrum(torch.ones(3, 8, 5), path)
        ...     load_magnitude_spectrum(path).shape
        torch.Size([3, 8, 5])
    """
    spectrum = torch.load(os.fspath(path), map_location="cpu", weights_only=True)
    if not isinstance(spectrum, torch.Tensor):
        raise ValueError(f"{os.fspath(path)!r} does not hold a tensor; it is no spectrum file.")
    _check_spectrum(spectrum)
    return spectrum


def _check_spectrum(spectrum: object) -> None:
    if not isinstance(spectrum, torch.Tensor) or spectrum.dim() != 3:
        raise ValueError(
            "A magnitude spectrum is a [C, H, W // 2 + 1] tensor, got "
            f"{getattr(spectrum, 'shape', type(spectrum).__name__)}."
        )
    if bool((spectrum < 0).any()) or not bool(torch.isfinite(spectrum).all()):
        raise ValueError("A magnitude spectrum must be finite and non-negative.")
