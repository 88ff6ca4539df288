"""ChannelReducer: dimensionality reduction over the channel dimension of activations.

Example:
    >>> import torch
    >>> from optim.reducer import ChannelReducer
    >>> reducer = ChannelReducer(n_components=2, reduction_alg="PCA")
    >>> reducer.fit_transform(torch.rand(1, 8, 4, 4)).shape
    torch.Size([1, 2, 4, 4])
    >>> reducer.components.shape
    torch.Size([2, 8])
"""

from __future__ import annotations

from typing import Any

import torch

from optim.checks import check_int
from optim.reducer.algorithms import resolve_reduction_algorithm, to_tensor_if_array


def _channels_last_order(ndim: int) -> list[int]:
    """The permutation that moves dim 1 (dim 0 for CHW) to the end; it is its own inverse
    for CHW, and :func:`_channels_first_order` undoes it otherwise."""
    if ndim == 3:
        return [2, 1, 0]
    return [0, *range(2, ndim), 1]


def _channels_first_order(ndim: int) -> list[int]:
    if ndim == 3:
        return [2, 1, 0]
    return [0, ndim - 1, *range(1, ndim - 1)]


class ChannelReducer:
    """Reduce the channels of activations with any scikit-learn style algorithm.

    The algorithm is built as ``reduction_alg(n_components=n_components, **kwargs)``. Names
    are looked up in the plugin registry only (kind ``"reducers"``: every scikit-learn
    decomposition and manifold estimator that takes ``n_components``, ``"UMAP"`` from
    umap-learn, and third-party additions); an estimator class may also be passed directly.

    After :meth:`fit_transform`, the fitted estimator's results are attributes of the
    reducer without their trailing underscore (``reducer.components`` is the estimator's
    ``components_``), converted to tensors on the device of the last input.

    Args:
        n_components: Number of components to reduce the channels to.
        reduction_alg: Algorithm name (``"NMF"``, ``"PCA"``, ``"TSNE"``, ``"UMAP"``, ...)
            or an estimator class.
        **kwargs: Passed to the estimator's constructor (e.g. ``random_state=0``).

    Example:
        >>> import torch
        >>> reducer = ChannelReducer(3, "NMF", random_state=0, max_iter=500)
        >>> acts = torch.rand(2, 16, 7, 7, generator=torch.Generator().manual_seed(0))  # NCHW, >= 0
        >>> reducer.fit_transform(acts).shape
        torch.Size([2, 3, 7, 7])
    """

    def __init__(
        self, n_components: int = 3, reduction_alg: str | type = "NMF", **kwargs: Any
    ) -> None:
        n_components = check_int(
            n_components, "n_components", minimum=1, hint="Reduce to at least 1 component."
        )
        # A registered name, or an estimator class; instances are refused with a hint.
        algorithm = resolve_reduction_algorithm(reduction_alg)
        self.n_components = n_components
        self._reducer = algorithm(n_components=n_components, **kwargs)
        self._device = torch.device("cpu")

    @property
    def reducer(self) -> Any:
        """The wrapped estimator instance."""
        return self._reducer

    def fit_transform(self, x: torch.Tensor, swap_2nd_and_last_dims: bool = True) -> torch.Tensor:
        """Fit the algorithm on ``x``'s channel vectors and return them reduced.

        Every position (batch item and spatial location) is one sample whose features are
        the channels. The input may live on any device: it is copied to the CPU for
        scikit-learn and the result is returned on the input's device, in its floating
        dtype.

        Args:
            x: Activations. With ``swap_2nd_and_last_dims=True`` the channels are dim 1
                (``[N, C]``, ``[N, C, H, W]``, any ``[N, C, ...]``) or dim 0 for a 3D ``CHW``
                tensor. With ``False`` the channels are already the last dim (``[..., C]``,
                e.g. ``[N, H, W, C]``).
            swap_2nd_and_last_dims: Whether to move the channel dim last before reducing
                and back afterwards.

        Returns:
            ``x`` with its channel dim replaced by ``n_components`` reduced components.

        Example:
            >>> import torch
            >>> reducer = ChannelReducer(2, "PCA")
            >>> reducer.fit_transform(torch.rand(5, 6, 8), swap_2nd_and_last_dims=False).shape
            torch.Size([5, 6, 2])
        """
        if not isinstance(x, torch.Tensor):
            raise TypeError(f"x must be a torch.Tensor, got {type(x).__name__}.")
        min_dims = 2
        if x.dim() < min_dims:
            raise ValueError(
                f"x must have at least 2 dims (samples and channels), got shape "
                f"{tuple(x.shape)}. Reshape a single vector to [1, C]."
            )
        if x.numel() == 0:
            raise ValueError(f"x is empty (shape {tuple(x.shape)}); nothing to reduce.")
        if x.is_complex():
            raise TypeError("x must be real-valued; complex tensors cannot be reduced.")

        if swap_2nd_and_last_dims:
            x = x.permute(*_channels_last_order(x.dim()))
        reduced = self._fit_transform_channels_last(x)
        if swap_2nd_and_last_dims:
            reduced = reduced.permute(*_channels_first_order(reduced.dim()))
        return reduced

    def _fit_transform_channels_last(self, x: torch.Tensor) -> torch.Tensor:
        out_dtype = x.dtype if x.is_floating_point() else torch.get_default_dtype()
        # scikit-learn works on CPU numpy arrays: move whatever device the input is on.
        flat = x.detach().reshape(-1, x.shape[-1]).to("cpu")
        if flat.dtype in (torch.float16, torch.bfloat16) or not flat.is_floating_point():
            flat = flat.to(torch.float32)
        try:
            reduced = self._reducer.fit_transform(flat.numpy())
        except ValueError as exc:
            if "negative" in str(exc).lower():
                raise ValueError(
                    f"{type(self._reducer).__name__} needs non-negative input ({exc}). "
                    "Split signed activations into positive and negative parts first with "
                    "optim.reducer.posneg(x, dim=<channel dim>)."
                ) from exc
            raise
        self._device = x.device
        result = torch.as_tensor(reduced).to(device=x.device, dtype=out_dtype)
        return result.reshape(*x.shape[:-1], result.shape[-1])

    # ---- fitted attributes -----------------------------------------------------------
    def __getattr__(self, name: str) -> Any:
        # Only called when normal lookup fails. Guard private names (and the state of a
        # half-built instance, e.g. during unpickling) against infinite recursion.
        if name.startswith("_") or "_reducer" not in self.__dict__:
            raise AttributeError(f"{type(self).__name__!s} has no attribute {name!r}")
        estimator = self.__dict__["_reducer"]
        for candidate in (name + "_", name):
            if hasattr(estimator, candidate):
                value = to_tensor_if_array(getattr(estimator, candidate))
                if isinstance(value, torch.Tensor):
                    value = value.to(self.__dict__.get("_device", "cpu"))
                return value
        fitted = self._fitted_attribute_names()
        hint = (
            f" Available after fitting: {', '.join(fitted)}."
            if fitted
            else " Call fit_transform first: fitted results (e.g. components) appear then."
        )
        raise AttributeError(
            f"{type(self).__name__} ({type(estimator).__name__}) has no attribute {name!r}.{hint}"
        )

    def _fitted_attribute_names(self) -> list[str]:
        estimator = self.__dict__.get("_reducer")
        if estimator is None:
            return []
        return sorted(
            key[:-1]
            for key in vars(estimator)
            if key.endswith("_") and not key.startswith("_") and not key.endswith("__")
        )

    def __dir__(self) -> list[str]:
        return sorted({*super().__dir__(), *self._fitted_attribute_names()})

    def __repr__(self) -> str:
        return f"{type(self).__name__}(n_components={self.n_components}, reducer={self._reducer!r})"
