"""Activation atlases end to end: samples -> 2D layout -> averaged cells -> renders -> atlas.

Follows "Exploring Neural Networks with Activation Atlases" (Carter et al., Distill 2019):
activation vectors of one layer, collected over many image positions, are laid out in 2D
(UMAP by default), binned on a grid, averaged per cell, and each average is rendered with
:class:`optim.loss.AngledNeuronDirection`.

Example:
    >>> import torch, torch.nn as nn
    >>> from optim.reducer import activation_atlas
    >>> model = nn.Sequential(nn.Conv2d(3, 8, 3, padding=1), nn.ReLU())
    >>> atlas = activation_atlas(model, "1", torch.rand(4, 3, 16, 16), grid_size=(2, 2),
    ...                          cell_size=16, steps=2, min_density=1, layout="PCA",
    ...                          show_progress=False, seed=0)
    >>> atlas.image.shape
    torch.Size([1, 3, 32, 32])
"""

from __future__ import annotations

import contextlib
import inspect
import warnings
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any

import torch
from torch import nn

from optim.checks import is_int
from optim.reducer.algorithms import resolve_reduction_algorithm
from optim.reducer.atlas import create_atlas, create_atlas_vectors, normalize_grid
from optim.reducer.channel_reducer import ChannelReducer
from optim.rendering import RenderSpec, seeded

__all__ = ["ActivationAtlas", "activation_atlas", "collect_atlas_samples"]

_NO_INPUT = "Give images to sample activations from, or precomputed samples=[N, C]."

ImageBatches = torch.Tensor | Iterable[Any]


@dataclass(frozen=True)
class ActivationAtlas:
    """What :func:`activation_atlas` produced.

    Attributes:
        image: The atlas, ``[1, 3, cell_size * grid_h, cell_size * grid_w]``, in [0, 1];
            empty cells are white.
        cells: The rendered cells, ``[n, 3, cell_size, cell_size]``, in ``coords`` order.
        vectors: The averaged activation vector of each rendered cell, ``[n, C]``.
        coords: ``(x, y, count)`` of each rendered cell; ``(0, 0)`` is bottom-left.
        layout: The normalised 2D position of every sample, ``[N, 2]`` in [0, 1].
        samples: The activation samples the atlas was built from, ``[N, C]``.
        seed: The seed every random draw came from (drawn when none was given).
    """

    image: torch.Tensor
    cells: torch.Tensor
    vectors: torch.Tensor
    coords: list[tuple[int, int, int]]
    layout: torch.Tensor
    samples: torch.Tensor
    seed: int = 0


def _iter_image_batches(images: ImageBatches) -> Iterable[torch.Tensor]:
    if isinstance(images, torch.Tensor):
        if images.dim() == 3:
            images = images.unsqueeze(0)
        if images.dim() != 4:
            raise ValueError(
                f"images must be an NCHW (or CHW) tensor, got shape {tuple(images.shape)}."
            )
        yield images
        return
    for index, batch in enumerate(images):
        if isinstance(batch, (tuple, list)) and batch:  # (images, labels) from a DataLoader
            batch = batch[0]
        if not isinstance(batch, torch.Tensor) or batch.dim() not in (3, 4):
            raise TypeError(
                f"Batch {index} of images is not an NCHW/CHW tensor (got "
                f"{type(batch).__name__}); pass a tensor or an iterable of image tensors."
            )
        yield batch.unsqueeze(0) if batch.dim() == 3 else batch


def collect_atlas_samples(
    model: nn.Module,
    layer: nn.Module | str,
    images: ImageBatches,
    samples_per_image: int | None = None,
    generator: torch.Generator | None = None,
) -> torch.Tensor:
    """Collect one activation vector per image position of ``layer``.

    Args:
        model: The model to run.
        layer: The layer (module or dotted name) whose activations to collect.
        images: An NCHW tensor, or an iterable of NCHW tensors or ``(images, labels)``
            batches (a ``DataLoader``).
        samples_per_image: Random spatial positions kept per image; ``None`` keeps every
            position. Positions are drawn without replacement with ``generator``.
        generator: Random source for the positions (torch's global RNG when ``None``).

    Returns:
        Activation vectors, ``[N, C]`` on the CPU.

    Example:
        >>> import torch, torch.nn as nn
        >>> model = nn.Sequential(nn.Conv2d(3, 4, 1))
        >>> collect_atlas_samples(model, "0", torch.rand(2, 3, 5, 5)).shape
        torch.Size([50, 4])
    """
    from optim.hooks import collect_activations

    if samples_per_image is not None and samples_per_image < 1:
        raise ValueError(f"samples_per_image must be >= 1 or None, got {samples_per_image}.")
    collected = []
    for batch in _iter_image_batches(images):
        with torch.no_grad():
            acts = collect_activations(model, [layer], batch)[layer]
        if not isinstance(acts, torch.Tensor) or acts.dim() not in (2, 4):
            raise ValueError(
                f"Layer {layer!r} produced {getattr(acts, 'shape', type(acts).__name__)}; an "
                "atlas needs a [B, C] or [B, C, H, W] tensor output."
            )
        acts = acts.detach().float().cpu()
        if acts.dim() == 2:
            collected.append(acts)
            continue
        per_position = acts.permute(0, 2, 3, 1).reshape(acts.shape[0], -1, acts.shape[1])
        positions = per_position.shape[1]
        if samples_per_image is None or samples_per_image >= positions:
            collected.append(per_position.reshape(-1, acts.shape[1]))
            continue
        for item in per_position:
            picks = torch.randperm(positions, generator=generator)[:samples_per_image]
            collected.append(item[picks])
    if not collected:
        raise ValueError("images is empty: no activations were collected.")
    return torch.cat(collected)


def _default_layout_kwargs(algorithm: type, n_samples: int, seed: int | None) -> dict[str, Any]:
    """Settings of the Activation Atlas paper, clipped to small sample counts."""
    kwargs: dict[str, Any] = {}
    if algorithm.__name__ == "UMAP":
        kwargs = {
            "n_neighbors": max(2, min(20, n_samples - 1)),
            "min_dist": 0.01,
            "metric": "cosine",
        }
    elif algorithm.__name__ == "TSNE":
        kwargs = {"perplexity": float(max(1, min(30, n_samples - 1))), "metric": "cosine"}
    if seed is not None and "random_state" in inspect.signature(algorithm).parameters:
        kwargs["random_state"] = seed
    return kwargs


def _layout_2d(
    samples: torch.Tensor, layout: ChannelReducer | str | type, seed: int | None
) -> torch.Tensor:
    if isinstance(layout, ChannelReducer):
        reducer = layout
    else:
        algorithm = resolve_reduction_algorithm(layout)
        kwargs = _default_layout_kwargs(algorithm, samples.shape[0], seed)
        reducer = ChannelReducer(2, algorithm, **kwargs)
    with warnings.catch_warnings():
        # umap-learn notes that a random_state disables its parallelism: that is the point.
        warnings.filterwarnings("ignore", message="n_jobs value", category=UserWarning)
        xy = reducer.fit_transform(samples, swap_2nd_and_last_dims=False)
    if xy.shape != (samples.shape[0], 2):
        raise ValueError(
            f"The layout reducer returned shape {tuple(xy.shape)}; it must reduce to 2 "
            "components (ChannelReducer(n_components=2, ...))."
        )
    return xy.float()


def _render_cells(
    model: nn.Module,
    layer: nn.Module | str,
    vectors: torch.Tensor,
    cell_size: int,
    steps: int,
    lr: float,
    cossim_pow: float,
    batch_size: int,
    transforms: nn.Module | None,
    seed: int,
    show_progress: bool,
) -> torch.Tensor:
    import optim as opt
    from optim.rendering import optimize_image, progress_bar

    device = opt.hooks.model_device(model) or torch.device("cpu")
    target = opt.hooks.resolve_target(model, layer)
    batches = range(0, vectors.shape[0], batch_size)
    rendered = []
    progress = progress_bar(steps * len(batches), "atlas cells", show_progress)
    try:
        for start in batches:
            chunk = vectors[start : start + batch_size].to(device)
            loss = opt.loss.sum_loss_list(
                [
                    opt.loss.AngledNeuronDirection(
                        target, vec, cossim_pow=cossim_pow, batch_index=i
                    )
                    for i, vec in enumerate(chunk)
                ]
            )

            def build(count: int = chunk.shape[0]) -> tuple[nn.Module, nn.Module]:
                image = opt.images.NaturalImage((cell_size, cell_size), batch=count)
                robustness = (
                    transforms
                    if transforms is not None
                    else opt.transforms.TransformationRobustness()
                )
                return image, robustness

            run = optimize_image(
                model, loss, build, seed=seed, steps=steps, lr=lr, device=device, progress=progress
            )
            rendered.append(run.images.as_subclass(torch.Tensor).detach().float().cpu())
    finally:
        progress.close()
    return torch.cat(rendered)


def activation_atlas(
    model: nn.Module,
    layer: nn.Module | str,
    images: ImageBatches | None = None,
    grid_size: Sequence[int] = (8, 8),
    cell_size: int = 80,
    steps: int = 128,
    *,
    samples: torch.Tensor | None = None,
    samples_per_image: int | None = None,
    min_density: int = 8,
    layout: ChannelReducer | str | type = "UMAP",
    cossim_pow: float = 4.0,
    lr: float = 0.05,
    batch_size: int = 16,
    transforms: nn.Module | None = None,
    seed: int | None = None,
    show_progress: bool = True,
) -> ActivationAtlas:
    """Build an activation atlas of ``layer``.

    Steps: collect activation vectors of ``layer`` over every position of ``images`` (or
    use precomputed ``samples``), lay them out in 2D with ``layout`` (UMAP, cosine metric,
    as in the paper), average the samples of each grid cell holding at least
    ``min_density`` of them, render each average with ``AngledNeuronDirection`` on a
    ``NaturalImage`` under ``TransformationRobustness``, and paste the renders with
    :func:`optim.atlas.create_atlas`.

    Args:
        model: The model; it runs in eval mode (its mode is restored afterwards).
        layer: The layer to map (module or dotted name), e.g. ``"blocks.5"``.
        images: Images to sample: an NCHW tensor or an iterable of batches. Not needed when
            ``samples`` is given.
        grid_size: ``(width, height)`` of the grid, in cells.
        cell_size: Side of each rendered cell, in pixels.
        steps: Optimisation steps per render.
        samples: Precomputed activation vectors ``[N, C]`` (e.g. collected over a dataset
            with optim-dataset); replaces ``images``.
        samples_per_image: Random positions kept per image (``None``: all of them).
        min_density: Minimum number of samples for a cell to be rendered.
        layout: The 2D reducer: a name (``"UMAP"``, ``"TSNE"``, ``"PCA"``, ...), an
            estimator class or a configured ``ChannelReducer(2, ...)``.
        cossim_pow: Cosine-similarity exponent of ``AngledNeuronDirection``.
        lr: Adam learning rate of the renders.
        batch_size: Cells rendered together in one batch.
        transforms: Transforms applied during rendering (default
            ``TransformationRobustness()``).
        seed: The seed of every random draw (sampling positions, the layout reducer, render
            initialisation and transforms): the same seed gives the same atlas, bitwise on
            CPU. When ``None`` it is drawn from torch's global RNG (``torch.manual_seed`` controls
            it) and recorded in the result; otherwise the caller's RNG is left alone.
        show_progress: Show a progress bar per render batch.

    Returns:
        An :class:`ActivationAtlas` with the image and the intermediate results.

    Example:
        >>> import torch, torch.nn as nn
        >>> model = nn.Sequential(nn.Conv2d(3, 8, 3, padding=1), nn.ReLU())
        >>> result = activation_atlas(model, "1", torch.rand(2, 3, 8, 8), (2, 1), cell_size=8,
        ...                           steps=1, min_density=1, layout="PCA", seed=0,
        ...                           show_progress=False)
        >>> result.cells.shape[1:]
        torch.Size([3, 8, 8])
    """
    if not isinstance(model, nn.Module):
        raise TypeError(f"model must be an nn.Module, got {type(model).__name__}.")
    for name, value in (("cell_size", cell_size), ("steps", steps), ("batch_size", batch_size)):
        if not is_int(value) or value < 1:
            raise ValueError(f"{name} must be a positive int, got {value!r}.")
    seed = RenderSpec(seed=seed).with_seed().fixed_seed  # validated, or drawn

    if samples is None and images is None:
        raise ValueError(_NO_INPUT)
    if samples is not None and (not isinstance(samples, torch.Tensor) or samples.dim() != 2):
        raise ValueError(
            "samples must be a [N, C] tensor of activation vectors, got "
            f"{getattr(samples, 'shape', type(samples).__name__)}."
        )
    with _eval_mode(model):
        return _build_atlas(
            model, layer, images, grid_size, cell_size, steps, samples, samples_per_image,
            min_density, layout, cossim_pow, lr, batch_size, transforms, seed, show_progress,
        )  # fmt: skip


@contextlib.contextmanager
def _eval_mode(model: nn.Module) -> Iterator[None]:
    """Run in eval mode (no batch-norm statistics updates, no dropout), then restore."""
    was_training = model.training
    model.eval()
    try:
        yield
    finally:
        model.train(was_training)


def _build_atlas(
    model: nn.Module,
    layer: nn.Module | str,
    images: ImageBatches | None,
    grid_size: Sequence[int],
    cell_size: int,
    steps: int,
    samples: torch.Tensor | None,
    samples_per_image: int | None,
    min_density: int,
    layout: ChannelReducer | str | type,
    cossim_pow: float,
    lr: float,
    batch_size: int,
    transforms: nn.Module | None,
    seed: int,
    show_progress: bool,
) -> ActivationAtlas:
    if samples is None:
        if images is None:
            raise ValueError(_NO_INPUT)
        with seeded(seed):  # the random sample positions (drawn on the CPU)
            samples = collect_atlas_samples(model, layer, images, samples_per_image)
    samples = samples.detach().float().cpu()
    minimum_samples = 4
    if samples.shape[0] < minimum_samples:
        raise ValueError(
            f"Only {samples.shape[0]} activation samples; an atlas needs at least "
            f"{minimum_samples}. Add images, or raise samples_per_image."
        )

    xy = _layout_2d(samples, layout, seed)
    normalized = normalize_grid(xy)
    vectors, coords = create_atlas_vectors(
        normalized, samples, grid_size, min_density=min_density, normalize=False
    )
    cells = _render_cells(
        model, layer, vectors, cell_size, steps, lr, cossim_pow, batch_size, transforms, seed,
        show_progress,
    )  # fmt: skip
    image = create_atlas(cells, coords, grid_size)
    return ActivationAtlas(
        image=image,
        cells=cells,
        vectors=vectors,
        coords=coords,
        layout=normalized,
        samples=samples,
        seed=seed,
    )
