"""SPEC §2.6 (reducer) and §2.10 (atlas), row by row.

Oracles: numpy transposes, means and binning written out here, scikit-learn run directly on
numpy arrays, and the values printed in the SPEC. Deliberate differences (the package README's
"Differences from captum.optim") are asserted as our behaviour, with the reason.
"""

from __future__ import annotations

import inspect

import numpy as np
import pytest
import sklearn.decomposition
import sklearn.manifold
import torch

import optim as opt
from optim.reducer import ChannelReducer, posneg

SPEC_ROWS: list[str] = [
    "optim.reducer.ChannelReducer",
    "optim.reducer.ChannelReducer.fit_transform",
    "optim.reducer.ChannelReducer.__getattr__",
    "optim.reducer.ChannelReducer.__dir__",
    "optim.reducer.posneg",
    "optim.atlas.normalize_grid",
    "optim.atlas.calc_grid_indices",
    "optim.atlas.compute_avg_cell_samples",
    "optim.atlas.create_atlas_vectors",
    "optim.atlas.create_atlas",
]

F64_EPS = np.finfo(np.float64).eps
F32_EPS = np.finfo(np.float32).eps


def _rand(*shape: int, seed: int = 0) -> torch.Tensor:
    return torch.rand(*shape, generator=torch.Generator().manual_seed(seed), dtype=torch.float64)


class _FirstFeatures:
    """A scikit-learn style estimator that records what it is given and returns its first
    ``n_components`` features doubled, so the reshaping around it can be checked exactly."""

    def __init__(self, n_components: int, **kwargs: object) -> None:
        self.n_components = n_components
        self.kwargs = kwargs

    def fit_transform(self, x: np.ndarray) -> np.ndarray:
        self.seen_ = x.copy()
        return 2.0 * x[:, : self.n_components]


# ---- signatures --------------------------------------------------------------------------

_DEFAULTS = [
    ("optim.reducer.ChannelReducer", ChannelReducer, {"n_components": 3, "reduction_alg": "NMF"}),
    (
        "optim.reducer.ChannelReducer.fit_transform",
        ChannelReducer.fit_transform,
        {"swap_2nd_and_last_dims": True},
    ),
    ("optim.reducer.posneg", posneg, {"dim": 0}),
    (
        "optim.atlas.normalize_grid",
        opt.atlas.normalize_grid,
        {"min_percentile": 0.01, "max_percentile": 0.99, "relative_margin": 0.1},
    ),
    (
        "optim.atlas.calc_grid_indices",
        opt.atlas.calc_grid_indices,
        {"x_extent": (0.0, 1.0), "y_extent": (0.0, 1.0)},
    ),
    (
        "optim.atlas.compute_avg_cell_samples",
        opt.atlas.compute_avg_cell_samples,
        {"min_density": 8},
    ),
    (
        "optim.atlas.create_atlas_vectors",
        opt.atlas.create_atlas_vectors,
        {"min_density": 8, "normalize": True, "x_extent": (0.0, 1.0), "y_extent": (0.0, 1.0)},
    ),
    ("optim.atlas.create_atlas", opt.atlas.create_atlas, {"base_tensor": torch.ones}),
]


@pytest.mark.spec_row(*{row for row, _, _ in _DEFAULTS})
@pytest.mark.parametrize(
    ("row", "function", "defaults"), _DEFAULTS, ids=[r for r, _, _ in _DEFAULTS]
)
def test_signature_defaults(row, function, defaults):
    parameters = inspect.signature(function).parameters
    assert {name: parameters[name].default for name in defaults} == defaults, row


# ---- §2.6 ChannelReducer -----------------------------------------------------------------


@pytest.mark.spec_row("optim.reducer.ChannelReducer")
def test_channel_reducer_builds_the_algorithm_with_n_components_and_kwargs():
    # row: builds reduction_alg(n_components=..., **kwargs); the default is NMF with 3
    default = ChannelReducer()
    assert type(default.reducer) is sklearn.decomposition.NMF
    assert default.reducer.n_components == 3
    custom = ChannelReducer(2, _FirstFeatures, alpha=0.5)
    assert type(custom.reducer) is _FirstFeatures
    assert (custom.reducer.n_components, custom.reducer.kwargs) == (2, {"alpha": 0.5})


@pytest.mark.spec_row("optim.reducer.ChannelReducer")
def test_channel_reducer_names_come_from_decomposition_and_manifold():
    # row: a str is looked up in sklearn.decomposition, then sklearn.manifold
    assert type(ChannelReducer(2, "PCA").reducer) is sklearn.decomposition.PCA
    assert type(ChannelReducer(2, "TSNE").reducer) is sklearn.manifold.TSNE
    # row: unknown names raise ValueError. deliberate: names come from the plugin registry
    # only (third parties can add reducers), and the message lists the closest valid names.
    with pytest.raises(ValueError, match="Did you mean: PCA"):
        ChannelReducer(2, "PCAA")


_LAYOUTS = {  # shape, swap, the numpy channels-last view the estimator must see (row's order)
    "CHW permute(2, 1, 0)": ((4, 3, 5), True, lambda a: a.transpose(2, 1, 0)),
    "NC": ((6, 4), True, lambda a: a),
    "NCHW": ((2, 4, 3, 5), True, lambda a: a.transpose(0, 2, 3, 1)),
    "NCDHW": ((2, 4, 3, 2, 2), True, lambda a: a.transpose(0, 2, 3, 4, 1)),
    "NHWC no swap": ((2, 3, 5, 4), False, lambda a: a),
}


@pytest.mark.spec_row("optim.reducer.ChannelReducer.fit_transform")
@pytest.mark.parametrize("layout", list(_LAYOUTS))
def test_fit_transform_moves_channels_last_flattens_and_restores_the_order(layout):
    shape, swap, channels_last = _LAYOUTS[layout]
    x = _rand(*shape)
    reducer = ChannelReducer(2, _FirstFeatures)
    out = reducer.fit_transform(x, swap_2nd_and_last_dims=swap)
    last = channels_last(x.numpy())
    np.testing.assert_array_equal(reducer.reducer.seen_, last.reshape(-1, last.shape[-1]))
    # The first 2 channels doubled, back in the input's layout (channels at dim 0 for CHW).
    channel_dim = {"CHW permute(2, 1, 0)": 0, "NHWC no swap": -1}.get(layout, 1)
    expected = 2.0 * np.take(x.numpy(), [0, 1], axis=channel_dim)
    assert isinstance(out, torch.Tensor) and out.device == x.device
    np.testing.assert_array_equal(out.numpy(), expected)


@pytest.mark.spec_row("optim.reducer.ChannelReducer.fit_transform")
def test_fit_transform_equals_sklearn_on_the_flattened_positions():
    x = _rand(2, 6, 3, 4, seed=1)
    ours = ChannelReducer(3, "PCA", svd_solver="full").fit_transform(x)
    flat = x.numpy().transpose(0, 2, 3, 1).reshape(-1, 6)
    theirs = sklearn.decomposition.PCA(3, svd_solver="full").fit_transform(flat)
    expected = theirs.reshape(2, 3, 4, 3).transpose(0, 3, 1, 2)
    np.testing.assert_allclose(ours.numpy(), expected, rtol=0, atol=1e3 * F64_EPS)


@pytest.mark.spec_row(
    "optim.reducer.ChannelReducer.__getattr__", "optim.reducer.ChannelReducer.__dir__"
)
def test_fitted_attributes_are_tensors_without_the_underscore():
    reducer = ChannelReducer(2, "PCA", svd_solver="full")
    # deliberate: unknown attributes raise AttributeError, not captum's UnboundLocalError
    # (which broke hasattr); before fitting the message says to call fit_transform.
    with pytest.raises(AttributeError, match="Call fit_transform first"):
        reducer.components  # noqa: B018
    assert not hasattr(reducer, "no_such_result")
    reducer.fit_transform(_rand(1, 5, 4, 4))
    components = reducer.components  # row: reducer.components -> _reducer.components_
    assert isinstance(components, torch.Tensor)
    np.testing.assert_array_equal(components.numpy(), reducer.reducer.components_)
    assert reducer.n_components == 2  # plain attributes still win over the estimator's
    assert {"components", "explained_variance_ratio", "mean"} <= set(dir(reducer))
    with pytest.raises(AttributeError, match=r"Available after fitting: .*components"):
        reducer.no_such_result  # noqa: B018


@pytest.mark.spec_row("optim.reducer.ChannelReducer.fit_transform")
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")
def test_cuda_input_is_reduced_and_returned_on_its_device():
    # deliberate: captum re-raised numpy's TypeError with "Try placing the input on CPU
    # first"; here any device works (reduced on the CPU, returned on the input's device).
    x = _rand(1, 5, 4, 4).cuda()
    reducer = ChannelReducer(2, "PCA", svd_solver="full")
    out = reducer.fit_transform(x)
    assert out.device == x.device and reducer.components.device == x.device


@pytest.mark.spec_row("optim.reducer.posneg")
@pytest.mark.parametrize("dim", [0, 1, -1])
def test_posneg_concatenates_positive_and_negative_parts(dim):
    x = torch.randn(3, 4, generator=torch.Generator().manual_seed(2), dtype=torch.float64)
    a = x.numpy()
    expected = np.concatenate([np.maximum(a, 0), np.maximum(-a, 0)], axis=dim)
    np.testing.assert_array_equal(posneg(x, dim).numpy(), expected)


# ---- §2.10 atlas -------------------------------------------------------------------------


@pytest.mark.spec_row("optim.atlas.normalize_grid")
def test_normalize_grid_spec_reference():
    # row: arange(18).view(9, 2) -> 0, .125, ..., 1 on both axes
    out = opt.atlas.normalize_grid(torch.arange(18, dtype=torch.float32).view(9, 2))
    expected = np.repeat(np.arange(9)[:, None] / 8, 2, axis=1)
    np.testing.assert_allclose(out.numpy(), expected, rtol=0, atol=16 * F32_EPS)


@pytest.mark.spec_row("optim.atlas.normalize_grid")
def test_normalize_grid_margin_is_the_same_on_both_sides():
    # deliberate (SPEC §6, "normalize_grid's margin is asymmetric"): both clamp bounds move
    # by relative_margin x (quantile range). x's 25%/75% quantiles are 0.5 and 3.5, so the
    # bounds are 0.2 and 3.8; captum widened the upper one from the lowered lower bound, 3.83.
    x = np.array([-10.0, 0.0, 1.0, 2.0, 3.0, 4.0, 14.0])
    xy = torch.from_numpy(np.stack([x, x], axis=1))
    out = opt.atlas.normalize_grid(xy, 0.25, 0.75, 0.1).numpy()
    clamped = np.clip(x, 0.2, 3.8)
    expected = (clamped - clamped.min()) / (clamped.max() - clamped.min())
    np.testing.assert_allclose(out[:, 0], expected, rtol=0, atol=16 * F64_EPS)


def _numpy_cells(xy: np.ndarray, size: tuple[int, int], x_ext, y_ext) -> list[list[list[int]]]:
    """Cells [x][y] of half-open bins (the last one closed), by floor division."""
    cells: list[list[list[int]]] = [[[] for _ in range(size[1])] for _ in range(size[0])]
    for i, (x, y) in enumerate(xy):
        if x_ext[0] <= x <= x_ext[1] and y_ext[0] <= y <= y_ext[1]:
            bx = min(int((x - x_ext[0]) / (x_ext[1] - x_ext[0]) * size[0]), size[0] - 1)
            by = min(int((y - y_ext[0]) / (y_ext[1] - y_ext[0]) * size[1]), size[1] - 1)
            cells[bx][by].append(i)
    return cells


@pytest.mark.spec_row("optim.atlas.calc_grid_indices")
@pytest.mark.parametrize(
    ("size", "x_extent", "y_extent"),
    [((3, 2), (0.0, 1.0), (0.0, 1.0)), ((4, 5), (-1.0, 2.0), (0.5, 1.5))],
)
def test_calc_grid_indices_bins_points_indexed_x_then_y(size, x_extent, y_extent):
    xy = _rand(200, 2, seed=3) * 4 - 1.5  # some points fall outside the extents
    cells = opt.atlas.calc_grid_indices(xy, size, x_extent, y_extent)
    got = [[cell.tolist() for cell in column] for column in cells]
    assert got == _numpy_cells(xy.numpy(), size, x_extent, y_extent)


@pytest.mark.spec_row("optim.atlas.calc_grid_indices")
def test_calc_grid_indices_counts_a_boundary_point_once():
    # deliberate (SPEC §6, "calc_grid_indices double-counts boundary points"): the SPEC's
    # point 4, at the shared corner of a 2x2 grid, was in all 4 cells; cells are [low, high)
    # here, so it is in the upper-right one only.
    xy = torch.tensor([[0.1, 0.1], [0.9, 0.1], [0.1, 0.9], [0.9, 0.9], [0.5, 0.5]])
    cells = opt.atlas.calc_grid_indices(xy, (2, 2))
    assert [[c.tolist() for c in column] for column in cells] == [[[0], [2]], [[1], [3, 4]]]


@pytest.mark.spec_row("optim.atlas.compute_avg_cell_samples")
def test_compute_avg_cell_samples_means_of_dense_cells():
    samples = _rand(7, 3, seed=4)
    idx = [torch.tensor(i, dtype=torch.long) for i in ([0, 1, 2], [3], [4, 5, 6], [])]
    grid = [[idx[0], idx[1]], [idx[2], idx[3]]]  # [x][y]
    vecs, coords = opt.atlas.compute_avg_cell_samples(grid, samples, (2, 2), min_density=2)
    s = samples.numpy()
    np.testing.assert_allclose(
        vecs.numpy(), [s[:3].mean(0), s[4:].mean(0)], rtol=0, atol=4 * F64_EPS
    )
    assert coords == [(0, 0, 3), (1, 0, 3)]
    # deliberate: no dense cell is a ValueError naming the densest count (captum asserted)
    with pytest.raises(ValueError, match="the densest holds 3"):
        opt.atlas.compute_avg_cell_samples(grid, samples, (2, 2), min_density=4)


@pytest.mark.spec_row("optim.atlas.create_atlas_vectors")
def test_create_atlas_vectors_hand_computed_without_normalizing():
    xy = torch.tensor([[0.1, 0.1], [0.2, 0.3], [0.9, 0.8], [0.6, 0.1]], dtype=torch.float64)
    acts = torch.tensor([[1.0, 0.0], [3.0, 2.0], [0.0, 5.0], [7.0, 7.0]], dtype=torch.float64)
    vecs, coords = opt.atlas.create_atlas_vectors(xy, acts, (2, 2), 1, normalize=False)
    np.testing.assert_array_equal(vecs.numpy(), [[2.0, 1.0], [7.0, 7.0], [0.0, 5.0]])
    assert coords == [(0, 0, 2), (1, 0, 1), (1, 1, 1)]


@pytest.mark.spec_row("optim.atlas.create_atlas_vectors")
def test_create_atlas_vectors_is_normalize_then_bin_then_average():
    xy, acts = _rand(60, 2, seed=5) * 10, _rand(60, 4, seed=6)
    vecs, coords = opt.atlas.create_atlas_vectors(xy, acts, (3, 3), min_density=3)
    normalized = opt.atlas.normalize_grid(xy)
    cells = opt.atlas.calc_grid_indices(normalized, (3, 3))
    expected = opt.atlas.compute_avg_cell_samples(cells, acts, (3, 3), 3)
    torch.testing.assert_close(vecs, expected[0], rtol=0, atol=0)
    assert coords == expected[1]


@pytest.mark.spec_row("optim.atlas.create_atlas")
@pytest.mark.parametrize("stacked", [False, True])
def test_create_atlas_pastes_cells_bottom_left_first(stacked):
    # row: (0, 0) is the bottom-left cell and y grows upward; canvas [B, C, h * H, w * W]
    values = (2.0, 3.0, 4.0)
    coords = [(0, 0, 9), (2, 0, 9), (1, 1, 9)]  # extra entries (counts) are ignored
    cells = [torch.full((1, 2, 3, 4), v) for v in values]
    atlas = opt.atlas.create_atlas(torch.cat(cells) if stacked else cells, coords, (3, 2))
    expected = np.ones((1, 2, 3 * 2, 4 * 3))  # base_tensor=torch.ones
    for value, (x, y, _) in zip(values, coords):
        row = 1 - y  # numpy rows count from the top
        expected[..., row * 3 : row * 3 + 3, x * 4 : x * 4 + 4] = value
    np.testing.assert_array_equal(atlas.numpy(), expected)
    zeros = opt.atlas.create_atlas(cells, coords, (3, 2), base_tensor=torch.zeros)
    assert zeros[..., :3, :4].abs().max().item() == 0.0  # the empty top-left cell


def test_every_spec_row_has_a_conformance_test(spec_row_report):
    untested, unresolvable = spec_row_report
    assert untested == [], f"SPEC rows without a conformance test: {untested}"
    assert unresolvable == [], f"SPEC rows that do not import: {unresolvable}"
