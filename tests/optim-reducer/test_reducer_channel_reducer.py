"""ChannelReducer: algorithms on data of known structure, shape handling, attributes, errors."""

from __future__ import annotations

import inspect

import numpy as np
import pytest
import torch
from sklearn.base import BaseEstimator
from sklearn.decomposition import PCA

import optim as opt
from optim.reducer import ChannelReducer, posneg


def _rank3_channels(n_samples: int, channels: int, seed: int = 0) -> torch.Tensor:
    """[n_samples, channels] non-negative data of rank exactly 3."""
    generator = torch.Generator().manual_seed(seed)
    mixing = torch.rand(n_samples, 3, generator=generator, dtype=torch.float64)
    basis = torch.rand(3, channels, generator=generator, dtype=torch.float64)
    return mixing @ basis


def test_pca_rank3_nchw_reconstructs_to_1e4() -> None:
    flat = _rank3_channels(2 * 5 * 6, 10)
    nchw = flat.reshape(2, 5, 6, 10).permute(0, 3, 1, 2)  # channels to dim 1
    reducer = ChannelReducer(3, "PCA")
    reduced = reducer.fit_transform(nchw)
    assert reduced.shape == (2, 3, 5, 6)
    assert reduced.dtype == torch.float64
    # Reconstruct every position from its 3 components: x = z @ components + mean.
    z = reduced.permute(0, 2, 3, 1).reshape(-1, 3)
    rebuilt = z @ reducer.components + reducer.mean
    assert reducer.components.shape == (3, 10)
    torch.testing.assert_close(rebuilt, flat, atol=1e-4, rtol=0)
    assert reducer.explained_variance_ratio.sum().item() == pytest.approx(1.0, abs=1e-6)


@pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")
def test_nmf_rank3_non_negative_factorisation_reconstructs() -> None:
    flat = _rank3_channels(120, 8, seed=1)
    reducer = ChannelReducer(3, "NMF", init="nndsvda", max_iter=2000, tol=1e-10, random_state=0)
    reduced = reducer.fit_transform(flat)
    assert reduced.shape == (120, 3)
    assert (reduced >= 0).all() and (reducer.components >= 0).all()
    relative_error = torch.linalg.norm(reduced @ reducer.components - flat) / torch.linalg.norm(
        flat
    )
    assert relative_error < 1e-3


def _three_clusters(
    points_per_cluster: int = 20, channels: int = 6
) -> tuple[torch.Tensor, np.ndarray]:
    generator = torch.Generator().manual_seed(3)
    centres = torch.eye(channels)[:3] * 10.0
    points = torch.cat(
        [
            centre + 0.1 * torch.randn(points_per_cluster, channels, generator=generator)
            for centre in centres
        ]
    )
    labels = np.repeat(np.arange(3), points_per_cluster)
    return points, labels


def _nearest_neighbour_purity(embedding: np.ndarray, labels: np.ndarray) -> float:
    distances = np.linalg.norm(embedding[:, None] - embedding[None], axis=-1)
    np.fill_diagonal(distances, np.inf)
    return float(np.mean(labels[distances.argmin(axis=1)] == labels))


@pytest.mark.slow  # UMAP's first fit compiles its numba kernels (tens of seconds)
@pytest.mark.filterwarnings("ignore:n_jobs value")
@pytest.mark.parametrize(
    ("name", "kwargs"),
    [
        ("TSNE", {"perplexity": 10.0, "random_state": 0}),
        ("UMAP", {"n_neighbors": 10, "random_state": 0}),
    ],
)
def test_manifold_algorithms_keep_clusters_apart(name: str, kwargs: dict) -> None:
    points, labels = _three_clusters()
    embedding = ChannelReducer(2, name, **kwargs).fit_transform(points).numpy()
    assert embedding.shape == (60, 2)
    assert _nearest_neighbour_purity(embedding, labels) == 1.0
    # Every point is closer to its own cluster's centre than to any other cluster's.
    centres = np.stack([embedding[labels == k].mean(axis=0) for k in range(3)])
    nearest_centre = np.linalg.norm(embedding[:, None] - centres[None], axis=-1).argmin(axis=1)
    assert (nearest_centre == labels).all()


def _sklearn_pca(rows: np.ndarray) -> np.ndarray:
    return PCA(2, svd_solver="full").fit_transform(rows)


def test_chw_input_matches_sklearn_on_flattened_positions() -> None:
    chw = torch.rand(5, 3, 4, dtype=torch.float64, generator=torch.Generator().manual_seed(0))
    reduced = ChannelReducer(2, "PCA", svd_solver="full").fit_transform(chw)
    assert reduced.shape == (2, 3, 4)
    # CHW is permuted to WHC: rows are positions in (w, h) order.
    rows = chw.permute(2, 1, 0).reshape(-1, 5).numpy()
    expected = torch.from_numpy(_sklearn_pca(rows)).reshape(4, 3, 2).permute(2, 1, 0)
    torch.testing.assert_close(reduced, expected)


def test_nd_input_keeps_every_position_aligned() -> None:
    x = torch.rand(2, 6, 3, 2, 2, dtype=torch.float64, generator=torch.Generator().manual_seed(1))
    reduced = ChannelReducer(2, "PCA", svd_solver="full").fit_transform(x)
    assert reduced.shape == (2, 2, 3, 2, 2)
    rows = x.permute(0, 2, 3, 4, 1).reshape(-1, 6).numpy()
    expected = torch.from_numpy(_sklearn_pca(rows)).reshape(2, 3, 2, 2, 2).permute(0, 4, 1, 2, 3)
    torch.testing.assert_close(reduced, expected)


def test_channels_last_input_without_swap() -> None:
    nhwc = torch.rand(2, 3, 4, 6, dtype=torch.float64, generator=torch.Generator().manual_seed(2))
    reduced = ChannelReducer(2, "PCA", svd_solver="full").fit_transform(
        nhwc, swap_2nd_and_last_dims=False
    )
    assert reduced.shape == (2, 3, 4, 2)
    expected = torch.from_numpy(_sklearn_pca(nhwc.reshape(-1, 6).numpy())).reshape(2, 3, 4, 2)
    torch.testing.assert_close(reduced, expected)
    # The same data given channels-first gives the same result, channels-first.
    nchw = nhwc.permute(0, 3, 1, 2)
    swapped = ChannelReducer(2, "PCA", svd_solver="full").fit_transform(nchw)
    torch.testing.assert_close(swapped, expected.permute(0, 3, 1, 2))


def test_float32_in_float32_out_and_grad_inputs_accepted() -> None:
    x = torch.rand(4, 5, requires_grad=True)
    out = ChannelReducer(2, "PCA").fit_transform(x)
    assert out.dtype == torch.float32 and not out.requires_grad


def test_attribute_access_and_errors() -> None:
    reducer = ChannelReducer(2, "PCA")
    with pytest.raises(AttributeError, match="fit_transform first"):
        _ = reducer.components
    assert not hasattr(reducer, "components")
    reducer.fit_transform(torch.rand(10, 4))
    assert isinstance(reducer.components, torch.Tensor)
    assert "components" in dir(reducer) and "singular_values" in dir(reducer)
    with pytest.raises(AttributeError, match=r"no attribute 'not_a_result'.*components"):
        _ = reducer.not_a_result
    assert isinstance(reducer.reducer, PCA)


def test_registry_lists_every_sklearn_reducer_and_umap() -> None:
    import sklearn.decomposition
    import sklearn.manifold

    expected = {
        name
        for module in (sklearn.decomposition, sklearn.manifold)
        for name, obj in vars(module).items()
        if isinstance(obj, type)
        and issubclass(obj, BaseEstimator)
        and "n_components" in inspect.signature(obj).parameters
    }
    registered = set(opt.plugins.names("reducers"))
    assert expected | {"UMAP"} == registered
    assert opt.plugins.get("reducers", "TSNE") is sklearn.manifold.TSNE
    assert opt.plugins.distribution("reducers", "NMF") == "optim-reducer"


def test_unknown_name_and_bad_types() -> None:
    with pytest.raises(ValueError, match=r"Unknown reduction algorithm 'pca'.*Did you mean: PCA"):
        ChannelReducer(2, "pca")
    with pytest.raises(TypeError, match="not an instance"):
        ChannelReducer(2, PCA())
    with pytest.raises(TypeError, match="no fit_transform"):
        ChannelReducer(2, dict)
    with pytest.raises(ValueError, match="at least 1"):
        ChannelReducer(0, "PCA")
    with pytest.raises(ValueError, match="at least 2 dims"):
        ChannelReducer(2, "PCA").fit_transform(torch.rand(5))


def test_nmf_on_signed_input_points_at_posneg() -> None:
    signed = torch.randn(20, 4, generator=torch.Generator().manual_seed(0))
    with pytest.raises(ValueError, match="posneg"):
        ChannelReducer(2, "NMF").fit_transform(signed)
    reduced = ChannelReducer(2, "NMF", max_iter=500, random_state=0).fit_transform(
        posneg(signed, dim=1)
    )
    assert reduced.shape == (20, 2)


def test_estimator_class_and_third_party_registration() -> None:
    class MeanOfChannels(BaseEstimator):
        """Reduces to the mean of the channels, repeated n_components times."""

        def __init__(self, n_components: int = 1) -> None:
            self.n_components = n_components

        def fit_transform(self, x: np.ndarray) -> np.ndarray:
            self.seen_ = x.shape
            return np.repeat(x.mean(axis=1, keepdims=True), self.n_components, axis=1)

    class Plugin:
        @staticmethod
        @opt.plugins.hookimpl
        def register_reducers(register):
            register("MeanOfChannels", MeanOfChannels, description="test reducer")

    x = torch.arange(12.0).reshape(1, 3, 2, 2)
    direct = ChannelReducer(2, MeanOfChannels).fit_transform(x)
    torch.testing.assert_close(direct, x.mean(dim=1, keepdim=True).expand(1, 2, 2, 2))
    opt.plugins.add_plugin(Plugin, name="test-mean")
    try:
        reducer = ChannelReducer(2, "MeanOfChannels")
        torch.testing.assert_close(reducer.fit_transform(x), direct)
        assert reducer.seen == (4, 3)  # numpy attributes stay as they are when not arrays
    finally:
        opt.plugins.remove_plugin(Plugin)


def test_posneg_matches_hand_computed() -> None:
    x = torch.tensor([[1.5, -2.0], [0.0, 3.0]])
    torch.testing.assert_close(
        posneg(x, dim=1), torch.tensor([[1.5, 0.0, 0.0, 2.0], [0.0, 3.0, 0.0, 0.0]])
    )
    torch.testing.assert_close(
        posneg(x), torch.tensor([[1.5, 0.0], [0.0, 3.0], [0.0, 2.0], [0.0, 0.0]])
    )
    with pytest.raises(ValueError, match="valid dims are -2 to 1"):
        posneg(x, dim=2)


@pytest.mark.gpu
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")
def test_cuda_input_is_reduced_on_cpu_and_returned_on_cuda() -> None:
    x = torch.rand(2, 6, 4, 4, generator=torch.Generator().manual_seed(0))
    reducer = ChannelReducer(2, "PCA", svd_solver="full")
    out = reducer.fit_transform(x.cuda())
    assert out.device.type == "cuda" and reducer.components.device.type == "cuda"
    expected = ChannelReducer(2, "PCA", svd_solver="full").fit_transform(x)
    torch.testing.assert_close(out.cpu(), expected)
