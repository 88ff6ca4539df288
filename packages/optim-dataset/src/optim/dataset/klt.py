"""Karhunen-Loeve (KLT) colour transforms from covariance matrices."""

from __future__ import annotations

from collections.abc import Iterable

import torch

from optim.dataset.covariance import dataset_cov_matrix


def cov_matrix_to_klt(
    cov_mtx: torch.Tensor, normalize: bool = False, epsilon: float = 1e-10
) -> torch.Tensor:
    """Square-root KLT matrix ``U diag(sqrt(S + epsilon))`` of a covariance matrix.

    Its columns are the principal colour directions scaled by their standard deviations, so
    ``klt @ klt.T`` reproduces the covariance. Column signs (arbitrary in an SVD) are fixed so
    that the first row is non-negative, the convention of Lucid's ImageNet matrix.

    Args:
        cov_mtx: a symmetric positive semi-definite [C, C] matrix.
        normalize: divide by the largest column L2 norm, as ToRGB does with its "klt" matrix.
        epsilon: added to the eigenvalues before the square root.

    Returns:
        The [C, C] KLT matrix, usable as ``opt.transforms.ToRGB(transform=klt)`` when C == 3.

    Example:
        >>> cov = torch.tensor([[2.0, 1.0], [1.0, 2.0]])
        >>> klt = cov_matrix_to_klt(cov)
        >>> torch.allclose(klt @ klt.T, cov, atol=1e-6)
        True
    """
    if not isinstance(cov_mtx, torch.Tensor):
        raise TypeError(f"cov_matrix_to_klt expects a torch.Tensor, got {type(cov_mtx).__name__}.")
    if cov_mtx.dim() != 2 or cov_mtx.shape[0] != cov_mtx.shape[1]:
        raise ValueError(
            f"cov_matrix_to_klt expects a square [C, C] matrix, got shape {tuple(cov_mtx.shape)}."
        )
    if not torch.allclose(cov_mtx, cov_mtx.T, rtol=1e-4, atol=1e-8):
        raise ValueError(
            "cov_matrix_to_klt expects a symmetric covariance matrix; symmetrise it with "
            "(cov + cov.T) / 2 if it is only asymmetric by rounding."
        )
    if epsilon < 0:
        raise ValueError(f"epsilon must be >= 0, got {epsilon}.")
    u, s, _ = torch.linalg.svd(cov_mtx)
    signs = torch.where(u[0] < 0, -1.0, 1.0).to(u.dtype)
    klt = (u * signs) @ torch.diag(torch.sqrt(s + epsilon))
    if normalize:
        klt = klt / torch.linalg.vector_norm(klt, dim=0).max()
    return klt


def dataset_klt_matrix(
    loader: Iterable[object],
    normalize: bool = False,
    show_progress: bool = False,
    device: torch.device | str = "cpu",
) -> torch.Tensor:
    """KLT colour matrix of a dataset, ready for ``opt.transforms.ToRGB(transform=...)``.

    Args:
        loader: yields image batches [N, 3, H, W] in [0, 1], or (images, labels) pairs.
        normalize: divide by the largest column norm (what ToRGB does with its "klt" matrix).
        show_progress: show a tqdm progress bar.
        device: where the computation runs.

    Returns:
        A float32 [C, C] matrix.

    Example:
        >>> loader = [torch.rand(4, 3, 16, 16)]
        >>> dataset_klt_matrix(loader, normalize=True).shape
        torch.Size([3, 3])
    """
    cov = dataset_cov_matrix(loader, show_progress=show_progress, device=device)
    return cov_matrix_to_klt(cov, normalize=normalize).to(torch.float32)
