"""Atlas grid helpers against hand-computed grids (boundary points counted exactly once)."""

from __future__ import annotations

import pytest
import torch

import optim as opt
from optim.reducer.atlas import (
    calc_grid_indices,
    compute_avg_cell_samples,
    create_atlas,
    create_atlas_vectors,
    normalize_grid,
)


def _as_lists(cells: list[list[torch.Tensor]]) -> list[list[list[int]]]:
    return [[cell.tolist() for cell in column] for column in cells]


def test_opt_atlas_is_the_reducer_atlas_module() -> None:
    assert opt.atlas.create_atlas is create_atlas


def test_normalize_grid_without_margin_is_min_max_scaling() -> None:
    xy = torch.arange(18, dtype=torch.float32).view(9, 2)
    out = normalize_grid(xy, min_percentile=0.0, max_percentile=1.0, relative_margin=0.0)
    expected = torch.arange(9, dtype=torch.float32) / 8
    torch.testing.assert_close(out, torch.stack([expected, expected], dim=1))


def test_normalize_grid_margin_is_symmetric() -> None:
    # x: quantiles at 25% / 75% of [-10, 0, 1, 2, 3, 4, 14]: 0.5 and 3.5, range 3.
    # Margin 0.1 * 3 = 0.3 on both sides: clamp bounds 0.2 and 3.8 (captum's upper bound,
    # widened from the lowered lower one, was 3.83). Then min-max over the clamped points.
    x = torch.tensor([-10.0, 0.0, 1.0, 2.0, 3.0, 4.0, 14.0], dtype=torch.float64)
    xy = torch.stack([x, x], dim=1)
    out = normalize_grid(xy, min_percentile=0.25, max_percentile=0.75, relative_margin=0.1)
    expected = (torch.tensor([0.2, 0.2, 1.0, 2.0, 3.0, 3.8, 3.8], dtype=torch.float64) - 0.2) / 3.6
    torch.testing.assert_close(out[:, 0], expected)


def test_normalize_grid_scales_the_clamped_points_to_the_unit_interval() -> None:
    # Nothing is clamped (the bounds lie outside 0..8): the points span exactly [0, 1].
    x = torch.arange(9, dtype=torch.float64)
    out = normalize_grid(torch.stack([x, x], dim=1))
    torch.testing.assert_close(out[:, 0], x / 8)


def test_normalize_grid_clamps_outliers_and_handles_flat_axes() -> None:
    xy = torch.tensor([[0.0, 5.0], [1.0, 5.0], [2.0, 5.0], [100.0, 5.0]])
    out = normalize_grid(xy, min_percentile=0.0, max_percentile=0.5, relative_margin=0.0)
    # x bounds: 0 and the median 1.5; 2 and 100 clamp to 1. y is constant: 0.5.
    torch.testing.assert_close(out[:, 0], torch.tensor([0.0, 1 / 1.5, 1.0, 1.0]))
    torch.testing.assert_close(out[:, 1], torch.full((4,), 0.5))


def test_calc_grid_indices_counts_boundary_points_once() -> None:
    # Point 4 sits on the centre of a 2x2 grid (the corner of all four cells); points on the
    # outer edge belong to the last cell of their axis.
    xy = torch.tensor(
        [
            [0.1, 0.1],  # 0 -> (0, 0)
            [0.9, 0.1],  # 1 -> (1, 0)
            [0.1, 0.9],  # 2 -> (0, 1)
            [0.9, 0.9],  # 3 -> (1, 1)
            [0.5, 0.5],  # 4 -> (1, 1): edges belong to the upper cell
            [0.0, 0.0],  # 5 -> (0, 0)
            [1.0, 1.0],  # 6 -> (1, 1): the outer edge belongs to the last cell
            [0.5, 0.2],  # 7 -> (1, 0)
            [1.2, 0.5],  # 8 -> outside the extent: no cell
        ]
    )
    cells = calc_grid_indices(xy, (2, 2))
    assert _as_lists(cells) == [[[0, 5], [2]], [[1, 7], [3, 4, 6]]]
    counted = torch.cat([cell for column in cells for cell in column])
    assert sorted(counted.tolist()) == list(range(8))  # each inside point exactly once


def test_calc_grid_indices_uneven_grid_and_extents() -> None:
    # 3 columns over x in [0, 3) and 1 row over y in [-1, 1].
    xy = torch.tensor([[0.0, 0.0], [1.0, -1.0], [2.999, 1.0], [3.0, 0.5], [1.5, 1.01]])
    cells = calc_grid_indices(xy, (3, 1), x_extent=(0.0, 3.0), y_extent=(-1.0, 1.0))
    assert _as_lists(cells) == [[[0]], [[1]], [[2, 3]]]  # point 4 is above the y extent


def test_compute_avg_cell_samples_respects_min_density() -> None:
    cells = [
        [torch.tensor([0, 1, 2]), torch.tensor([3])],
        [torch.tensor([], dtype=torch.long), torch.tensor([4, 5])],
    ]
    samples = torch.tensor([[1.0, 0.0], [2.0, 0.0], [3.0, 3.0], [9.0, 9.0], [0.0, 4.0], [2.0, 6.0]])
    vectors, coords = compute_avg_cell_samples(cells, samples, (2, 2), min_density=2)
    torch.testing.assert_close(vectors, torch.tensor([[2.0, 1.0], [1.0, 5.0]]))
    assert coords == [(0, 0, 3), (1, 1, 2)]
    with pytest.raises(ValueError, match="densest holds 3"):
        compute_avg_cell_samples(cells, samples, (2, 2), min_density=4)


def test_create_atlas_vectors_end_to_end_with_hand_computed_cells() -> None:
    xy = torch.tensor([[0.0, 0.0], [0.2, 0.3], [10.0, 10.0], [8.0, 9.0], [10.0, 0.0]])
    acts = torch.tensor([[1.0], [3.0], [10.0], [20.0], [7.0]])
    vectors, coords = create_atlas_vectors(xy, acts, (2, 2), min_density=1, normalize=True)
    # After normalisation the low corner points share cell (0, 0), the high ones (1, 1), and
    # (10, 0) is alone in (1, 0).
    assert coords == [(0, 0, 2), (1, 0, 1), (1, 1, 2)]
    torch.testing.assert_close(vectors, torch.tensor([[2.0], [7.0], [15.0]]))
    with pytest.raises(ValueError, match="5 points but raw_activations has 4"):
        create_atlas_vectors(xy, acts[:4], (2, 2))


def test_create_atlas_places_origin_bottom_left() -> None:
    cells = torch.stack([torch.full((3, 2, 2), float(v)) for v in (0.1, 0.2, 0.3)])
    atlas = create_atlas(cells, [(0, 0, 5), (2, 0, 1), (1, 1, 9)], (3, 2), base_tensor=torch.zeros)
    assert atlas.shape == (1, 3, 4, 6)
    expected = torch.tensor(
        [
            [0.0, 0.0, 0.3, 0.3, 0.0, 0.0],
            [0.0, 0.0, 0.3, 0.3, 0.0, 0.0],
            [0.1, 0.1, 0.0, 0.0, 0.2, 0.2],
            [0.1, 0.1, 0.0, 0.0, 0.2, 0.2],
        ]
    )
    for channel in range(3):
        torch.testing.assert_close(atlas[0, channel], expected)


def test_create_atlas_list_of_batched_cells_and_white_background() -> None:
    cells = [torch.zeros(2, 1, 3, 3), torch.full((2, 1, 3, 3), 0.5)]
    atlas = create_atlas(cells, [(0, 1), (1, 0)], (2, 2))
    assert atlas.shape == (2, 1, 6, 6)
    assert atlas[:, :, :3, :3].eq(0).all() and atlas[:, :, 3:, 3:].eq(0.5).all()
    assert atlas[:, :, :3, 3:].eq(1).all() and atlas[:, :, 3:, :3].eq(1).all()


def test_atlas_input_errors() -> None:
    with pytest.raises(ValueError, match=r"shape \[N, 2\]"):
        normalize_grid(torch.rand(4, 3))
    with pytest.raises(ValueError, match="two positive ints"):
        calc_grid_indices(torch.rand(4, 2), (0, 2))
    with pytest.raises(ValueError, match="outside the 2x2 grid"):
        create_atlas(torch.zeros(1, 3, 2, 2), [(2, 0)], (2, 2))
    with pytest.raises(ValueError, match="2 cells but 1 coords"):
        create_atlas(torch.zeros(2, 3, 2, 2), [(0, 0)], (2, 2))
