"""Activation-atlas grid helpers (``opt.atlas``): lay 2D points on a grid, average each cell,
and paste rendered cells onto one canvas.

Example:
    >>> import torch
    >>> import optim as opt
    >>> xy = torch.tensor([[0.1, 0.1], [0.2, 0.15], [0.9, 0.8]])
    >>> acts = torch.tensor([[1.0, 0.0], [3.0, 0.0], [0.0, 5.0]])
    >>> vecs, coords = opt.atlas.create_atlas_vectors(xy, acts, (2, 2), min_density=1,
    ...                                               normalize=False)
    >>> vecs
    tensor([[2., 0.],
            [0., 5.]])
    >>> coords
    [(0, 0, 2), (1, 1, 1)]
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import torch

from optim.checks import is_int

__all__ = [
    "normalize_grid",
    "calc_grid_indices",
    "compute_avg_cell_samples",
    "create_atlas_vectors",
    "create_atlas",
]


def _check_xy_grid(xy_grid: torch.Tensor) -> None:
    if not isinstance(xy_grid, torch.Tensor):
        raise TypeError(f"xy_grid must be a torch.Tensor, got {type(xy_grid).__name__}.")
    if xy_grid.dim() != 2 or xy_grid.shape[1] != 2:
        raise ValueError(
            f"xy_grid must have shape [N, 2] (one x, y pair per point), got "
            f"{tuple(xy_grid.shape)}. Reduce activations to 2D first, e.g. with "
            "ChannelReducer(2, 'UMAP')."
        )
    if not xy_grid.is_floating_point():
        raise TypeError(f"xy_grid must be a floating tensor, got {xy_grid.dtype}.")


def _check_grid_size(grid_size: Sequence[int]) -> tuple[int, int]:
    if (
        not isinstance(grid_size, Sequence)
        or len(grid_size) != 2
        or not all(is_int(v) and v >= 1 for v in grid_size)
    ):
        raise ValueError(f"grid_size must be two positive ints (width, height), got {grid_size!r}.")
    return int(grid_size[0]), int(grid_size[1])


def _check_extent(extent: Sequence[float], name: str) -> tuple[float, float]:
    if not isinstance(extent, Sequence) or len(extent) != 2 or not extent[0] < extent[1]:
        raise ValueError(f"{name} must be (low, high) with low < high, got {extent!r}.")
    return float(extent[0]), float(extent[1])


def normalize_grid(
    xy_grid: torch.Tensor,
    min_percentile: float = 0.01,
    max_percentile: float = 0.99,
    relative_margin: float = 0.1,
) -> torch.Tensor:
    """Scale 2D points to [0, 1] per axis, clipping outliers.

    Per axis, the bounds are the ``min_percentile`` and ``max_percentile`` quantiles,
    each widened by ``relative_margin`` times the quantile range (the same margin on both
    sides). Points are clamped to the bounds, then min-max scaled to [0, 1] (the smallest
    clamped point maps to 0, the largest to 1), as Lucid's ``normalize_layout`` does. An
    axis whose points all coincide maps to 0.5.

    Args:
        xy_grid: Points, shape ``[N, 2]``.
        min_percentile: Lower quantile in [0, 1).
        max_percentile: Upper quantile in (min_percentile, 1].
        relative_margin: Margin added on each side, as a fraction of the quantile range.

    Returns:
        Normalised points, shape ``[N, 2]``, values in [0, 1].

    Example:
        >>> import torch
        >>> normalize_grid(torch.tensor([[0.0, 10.0], [2.0, 30.0], [4.0, 50.0]]), 0.0, 1.0, 0.0)
        tensor([[0.0000, 0.0000],
                [0.5000, 0.5000],
                [1.0000, 1.0000]])
    """
    _check_xy_grid(xy_grid)
    if not 0.0 <= min_percentile < max_percentile <= 1.0:
        raise ValueError(
            "Percentiles must satisfy 0 <= min_percentile < max_percentile <= 1, got "
            f"min_percentile={min_percentile}, max_percentile={max_percentile}."
        )
    if relative_margin < 0:
        raise ValueError(f"relative_margin must be >= 0, got {relative_margin}.")
    if xy_grid.shape[0] == 0:
        raise ValueError("xy_grid has no points to normalise.")

    quantiles = torch.tensor(
        [min_percentile, max_percentile], dtype=xy_grid.dtype, device=xy_grid.device
    )
    bounds = torch.quantile(xy_grid, quantiles, dim=0)  # [2, 2]: (low, high) x (x, y)
    margin = relative_margin * (bounds[1] - bounds[0])
    clamped = torch.maximum(torch.minimum(xy_grid, bounds[1] + margin), bounds[0] - margin)
    low = clamped.amin(dim=0)
    extent = clamped.amax(dim=0) - low
    safe_extent = torch.where(extent > 0, extent, torch.ones_like(extent))
    scaled = (clamped - low) / safe_extent
    return torch.where(extent > 0, scaled, torch.full_like(scaled, 0.5))


def calc_grid_indices(
    xy_grid: torch.Tensor,
    grid_size: Sequence[int],
    x_extent: Sequence[float] = (0.0, 1.0),
    y_extent: Sequence[float] = (0.0, 1.0),
) -> list[list[torch.Tensor]]:
    """Bin 2D points into a ``grid_size[0]`` x ``grid_size[1]`` grid of cells.

    Cells are half-open, ``[low, high)``, except the last one of each axis, which also
    takes the upper extent; so every point inside the extents lands in exactly one cell.
    Points outside the extents land in none. Cell edges are ``torch.linspace`` over the
    extents.

    Args:
        xy_grid: Points, shape ``[N, 2]``.
        grid_size: Number of cells ``(width, height)`` along x and y.
        x_extent: ``(low, high)`` range of x covered by the grid.
        y_extent: ``(low, high)`` range of y covered by the grid.

    Returns:
        Nested lists indexed ``[x][y]``, each a 1D tensor of the indices of the points in
        that cell (sorted).

    Example:
        >>> import torch
        >>> cells = calc_grid_indices(torch.tensor([[0.2, 0.2], [0.5, 0.5], [1.0, 1.0]]), (2, 2))
        >>> [[c.tolist() for c in column] for column in cells]
        [[[0], []], [[], [1, 2]]]
    """
    _check_xy_grid(xy_grid)
    width, height = _check_grid_size(grid_size)
    x_low, x_high = _check_extent(x_extent, "x_extent")
    y_low, y_high = _check_extent(y_extent, "y_extent")

    def bin_axis(values: torch.Tensor, low: float, high: float, n: int) -> torch.Tensor:
        inner_edges = torch.linspace(low, high, n + 1, dtype=values.dtype, device=values.device)[
            1:-1
        ]
        # right=True: edges[i-1] <= v < edges[i] -> bin i; v == high falls into bin n - 1.
        return torch.bucketize(values.contiguous(), inner_edges, right=True)

    x, y = xy_grid[:, 0], xy_grid[:, 1]
    inside = (x >= x_low) & (x <= x_high) & (y >= y_low) & (y <= y_high)
    x_bin = bin_axis(x, x_low, x_high, width)
    y_bin = bin_axis(y, y_low, y_high, height)
    cell_id = torch.where(inside, x_bin * height + y_bin, torch.full_like(x_bin, -1))
    return [
        [torch.nonzero(cell_id == xi * height + yi).flatten() for yi in range(height)]
        for xi in range(width)
    ]


def compute_avg_cell_samples(
    grid_indices: list[list[torch.Tensor]],
    raw_samples: torch.Tensor,
    grid_size: Sequence[int],
    min_density: int = 8,
) -> tuple[torch.Tensor, list[tuple[int, int, int]]]:
    """Average the samples of every cell holding at least ``min_density`` points.

    Args:
        grid_indices: Output of :func:`calc_grid_indices` (indexed ``[x][y]``).
        raw_samples: The samples the indices refer to, shape ``[N, C]``.
        grid_size: ``(width, height)`` of the grid.
        min_density: Minimum number of points for a cell to be kept.

    Returns:
        ``(vectors, coords)``: the mean sample of each kept cell, shape ``[n, C]``, and
        one ``(x, y, count)`` per kept cell, in the same order (x-major).

    Raises:
        ValueError: If no cell reaches ``min_density`` (lower it, or use a coarser grid).

    Example:
        >>> import torch
        >>> cells = [[torch.tensor([0, 1]), torch.tensor([], dtype=torch.long)]]
        >>> compute_avg_cell_samples(cells, torch.tensor([[1.0], [3.0]]), (1, 2), 2)
        (tensor([[2.]]), [(0, 0, 2)])
    """
    width, height = _check_grid_size(grid_size)
    if not isinstance(raw_samples, torch.Tensor) or raw_samples.dim() != 2:
        raise ValueError(
            "raw_samples must be a 2D tensor [N, C] (one activation vector per point), got "
            f"{getattr(raw_samples, 'shape', type(raw_samples).__name__)}."
        )
    if len(grid_indices) != width or any(len(column) != height for column in grid_indices):
        raise ValueError(
            f"grid_indices does not match grid_size {(width, height)}: expected {width} "
            f"columns of {height} cells, as returned by calc_grid_indices."
        )
    if min_density < 1:
        raise ValueError(f"min_density must be at least 1, got {min_density}.")

    vectors, coords = [], []
    for x in range(width):
        for y in range(height):
            indices = grid_indices[x][y]
            if indices.numel() >= min_density:
                vectors.append(raw_samples[indices.to(raw_samples.device)].mean(dim=0))
                coords.append((x, y, int(indices.numel())))
    if not vectors:
        densest = max((c.numel() for column in grid_indices for c in column), default=0)
        raise ValueError(
            f"No grid cell holds min_density={min_density} points (the densest holds "
            f"{densest}). Lower min_density, use a smaller grid_size, or add samples."
        )
    return torch.stack(vectors), coords


def create_atlas_vectors(
    xy_grid: torch.Tensor,
    raw_activations: torch.Tensor,
    grid_size: Sequence[int],
    min_density: int = 8,
    normalize: bool = True,
    x_extent: Sequence[float] = (0.0, 1.0),
    y_extent: Sequence[float] = (0.0, 1.0),
) -> tuple[torch.Tensor, list[tuple[int, int, int]]]:
    """The averaged activation vector of every dense enough cell of a 2D layout.

    Runs :func:`normalize_grid` (if ``normalize``), :func:`calc_grid_indices` and
    :func:`compute_avg_cell_samples`.

    Args:
        xy_grid: 2D layout of the samples, shape ``[N, 2]``.
        raw_activations: The samples, shape ``[N, C]``, in the same order.
        grid_size: ``(width, height)`` of the grid.
        min_density: Minimum number of points for a cell to be kept.
        normalize: Whether to normalise ``xy_grid`` to [0, 1] first.
        x_extent: x range of the grid.
        y_extent: y range of the grid.

    Returns:
        ``(vectors [n, C], coords [(x, y, count), ...])``.

    Example:
        >>> import torch
        >>> vecs, coords = create_atlas_vectors(torch.rand(64, 2), torch.rand(64, 5), (2, 2), 1)
        >>> vecs.shape[1], len(coords) == vecs.shape[0]
        (5, True)
    """
    _check_xy_grid(xy_grid)
    if not isinstance(raw_activations, torch.Tensor) or raw_activations.dim() != 2:
        raise ValueError(
            "raw_activations must be a 2D tensor [N, C], got "
            f"{getattr(raw_activations, 'shape', type(raw_activations).__name__)}."
        )
    if raw_activations.shape[0] != xy_grid.shape[0]:
        raise ValueError(
            f"xy_grid has {xy_grid.shape[0]} points but raw_activations has "
            f"{raw_activations.shape[0]} samples; they must correspond one to one."
        )
    if normalize:
        xy_grid = normalize_grid(xy_grid)
    indices = calc_grid_indices(xy_grid, grid_size, x_extent, y_extent)
    return compute_avg_cell_samples(indices, raw_activations, grid_size, min_density)


def create_atlas(
    cells: Sequence[torch.Tensor] | torch.Tensor,
    coords: Sequence[Sequence[int]],
    grid_size: Sequence[int],
    base_tensor: Callable[..., torch.Tensor] = torch.ones,
) -> torch.Tensor:
    """Paste rendered cell images onto one atlas canvas.

    Cell ``(0, 0)`` is the bottom-left one and ``y`` grows upward, as in a plot of the 2D
    layout.

    Args:
        cells: One NCHW image per cell (all the same shape), or a stacked ``[n, C, h, w]``
            tensor holding one image per cell.
        coords: One ``(x, y, ...)`` per cell (extra entries such as counts are ignored).
        grid_size: ``(width, height)`` of the grid, in cells.
        base_tensor: Builds the background from a shape, like ``torch.ones`` (white) or
            ``torch.zeros`` (black).

    Returns:
        The atlas, shape ``[B, C, h * height, w * width]``.

    Example:
        >>> import torch
        >>> atlas = create_atlas(torch.zeros(2, 3, 4, 4), [(0, 0), (1, 1)], (2, 2))
        >>> atlas.shape
        torch.Size([1, 3, 8, 8])
        >>> atlas[0, 0, :, 0].tolist()  # left column: empty top cell, filled bottom cell
        [1.0, 1.0, 1.0, 1.0, 0.0, 0.0, 0.0, 0.0]
    """
    width, height = _check_grid_size(grid_size)
    if isinstance(cells, torch.Tensor):
        if cells.dim() != 4:
            raise ValueError(
                f"A stacked cells tensor must be [n, C, h, w], got {tuple(cells.shape)}."
            )
        cell_list = [cell.unsqueeze(0) for cell in cells]
    else:
        cell_list = list(cells)
    if not cell_list:
        raise ValueError("cells is empty: there is nothing to paste.")
    if len(cell_list) != len(coords):
        raise ValueError(
            f"Got {len(cell_list)} cells but {len(coords)} coords; pass one (x, y) per cell."
        )
    first = cell_list[0]
    if not isinstance(first, torch.Tensor) or first.dim() != 4:
        raise ValueError(
            f"Each cell must be an NCHW tensor, got {getattr(first, 'shape', type(first))}."
        )
    batch, channels, cell_h, cell_w = first.shape
    canvas = base_tensor(batch, channels, cell_h * height, cell_w * width)
    canvas = canvas.to(device=first.device, dtype=first.dtype)
    for i, (cell, coord) in enumerate(zip(cell_list, coords)):
        if not isinstance(cell, torch.Tensor) or cell.shape != first.shape:
            raise ValueError(
                f"Cell {i} has shape {tuple(getattr(cell, 'shape', ()))}; every cell must "
                f"have the shape of the first, {tuple(first.shape)}."
            )
        x, y = int(coord[0]), int(coord[1])
        if not (0 <= x < width and 0 <= y < height):
            raise ValueError(
                f"Cell {i} has coords ({x}, {y}), outside the {width}x{height} grid; valid x "
                f"is 0..{width - 1} and valid y 0..{height - 1}."
            )
        top = (height - 1 - y) * cell_h
        canvas[..., top : top + cell_h, x * cell_w : (x + 1) * cell_w] = cell.to(canvas)
    return canvas
