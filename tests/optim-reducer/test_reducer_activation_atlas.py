"""activation_atlas end to end on a tiny model defined here (only optim-core + optim-reducer)."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from optim.reducer import ActivationAtlas, ChannelReducer, activation_atlas
from optim.reducer.activation_atlas import collect_atlas_samples


def _tiny_model() -> nn.Module:
    torch.manual_seed(0)
    return nn.Sequential(
        nn.Conv2d(3, 6, 3, padding=1), nn.ReLU(), nn.Conv2d(6, 5, 3, padding=1), nn.ReLU()
    ).eval()


def _images() -> torch.Tensor:
    generator = torch.Generator().manual_seed(1)
    return torch.rand(3, 3, 8, 8, generator=generator)


def test_collect_atlas_samples_takes_every_position_or_a_seeded_subset() -> None:
    model = _tiny_model()
    images = _images()
    every = collect_atlas_samples(model, "3", images)
    assert every.shape == (3 * 8 * 8, 5)
    with torch.no_grad():
        expected = model(images).permute(0, 2, 3, 1).reshape(-1, 5)
    torch.testing.assert_close(every, expected)
    subset = collect_atlas_samples(
        model,
        model[3],
        [(images[:2], None), images[2]],
        samples_per_image=4,
        generator=torch.Generator().manual_seed(0),
    )
    assert subset.shape == (12, 5)
    # Each sampled vector is one of the image's own position vectors. The samples came from
    # batches of 2 and 1 images, `expected` from a batch of 3: other kernels may sum in
    # another order. Each conv output sums k products (27, then 54) and a bias, so it is off
    # by at most (k + 1) u times the same network run with |weights| on |x| (u = eps / 2;
    # ReLU only shrinks errors), over 5 channels in L2: the tolerance, doubled (eps).
    eps = torch.finfo(torch.float32).eps
    with torch.no_grad():
        hidden = torch.nn.functional.conv2d(
            images.abs(), model[0].weight.abs(), model[0].bias.abs(), padding=1
        )
        magnitude = torch.nn.functional.conv2d(
            hidden, model[2].weight.abs(), model[2].bias.abs(), padding=1
        )
    tolerance = (28 + 55) * eps * magnitude.norm(dim=1).max().item()
    per_image = expected.reshape(3, 64, 5)
    for i in range(3):
        rows = subset[4 * i : 4 * (i + 1)]
        # Exact differences: the matrix-product shortcut is off by ~sqrt(eps * |x|^2) ~ 1e-5.
        distances = torch.cdist(rows, per_image[i], compute_mode="donot_use_mm_for_euclid_dist")
        assert (distances.min(dim=1).values <= tolerance).all()


def test_activation_atlas_end_to_end_is_reproducible() -> None:
    model = _tiny_model()
    kwargs = dict(
        grid_size=(3, 2),
        cell_size=12,
        steps=3,
        min_density=2,
        layout="PCA",
        seed=0,
        show_progress=False,
        batch_size=2,
    )
    atlas = activation_atlas(model, "3", _images(), **kwargs)
    assert isinstance(atlas, ActivationAtlas)
    assert atlas.image.shape == (1, 3, 2 * 12, 3 * 12)
    n_cells = len(atlas.coords)
    assert atlas.cells.shape == (n_cells, 3, 12, 12) and atlas.vectors.shape == (n_cells, 5)
    assert sum(count for _, _, count in atlas.coords) <= atlas.samples.shape[0] == 3 * 64
    assert atlas.layout.min() >= 0 and atlas.layout.max() <= 1
    # Each cell is pasted where create_atlas puts (x, y): origin bottom-left.
    for cell, (x, y, _) in zip(atlas.cells, atlas.coords):
        top = (2 - 1 - y) * 12
        torch.testing.assert_close(atlas.image[0, :, top : top + 12, x * 12 : (x + 1) * 12], cell)
    # Cells that were not rendered stay white.
    rendered = {(x, y) for x, y, _ in atlas.coords}
    for x in range(3):
        for y in range(2):
            if (x, y) not in rendered:
                top = (2 - 1 - y) * 12
                assert atlas.image[0, :, top : top + 12, x * 12 : (x + 1) * 12].eq(1).all()
    again = activation_atlas(model, "3", _images(), **kwargs)
    assert torch.equal(atlas.image, again.image)


def test_activation_atlas_renders_move_toward_their_cell_direction() -> None:
    model = _tiny_model()
    samples = torch.relu(torch.randn(64, 5, generator=torch.Generator().manual_seed(2)))

    def centre_cosines(steps: int, layout) -> torch.Tensor:
        atlas = activation_atlas(
            model,
            model[3],
            samples=samples,
            grid_size=(2, 2),
            cell_size=16,
            steps=steps,
            min_density=1,
            layout=layout,
            seed=0,
            show_progress=False,
            transforms=nn.Identity(),
        )
        with torch.no_grad():
            centre = model(atlas.cells)[:, :, 8, 8]  # AngledNeuronDirection's (H // 2, W // 2)
        return torch.nn.functional.cosine_similarity(centre, atlas.vectors, dim=1)

    reducer = ChannelReducer(2, "PCA")
    before = centre_cosines(1, "PCA")  # same seed: the same initial images
    after = centre_cosines(12, reducer)
    assert reducer.components.shape == (2, 5)  # the configured reducer made the layout
    assert (after > before).all()
    assert after.mean() > before.mean() + 0.2


def test_activation_atlas_input_errors() -> None:
    model = _tiny_model()
    with pytest.raises(ValueError, match="Give images"):
        activation_atlas(model, "3")
    with pytest.raises(ValueError, match="samples must be a"):
        activation_atlas(model, "3", samples=torch.rand(5))
    with pytest.raises(ValueError, match="cell_size must be a positive int"):
        activation_atlas(model, "3", _images(), cell_size=0)
    with pytest.raises(ValueError, match="No grid cell holds min_density=500"):
        activation_atlas(model, "3", _images(), layout="PCA", min_density=500, show_progress=False)


def test_activation_atlas_runs_in_eval_mode_and_restores_training_mode() -> None:
    model = nn.Sequential(nn.Conv2d(3, 4, 3, padding=1), nn.BatchNorm2d(4), nn.ReLU()).train()
    running_mean = model[1].running_mean.clone()
    activation_atlas(
        model, "2", _images(), grid_size=(2, 2), cell_size=8, steps=1, min_density=1,
        layout="PCA", seed=0, show_progress=False,
    )  # fmt: skip
    assert model.training and model[1].training
    assert torch.equal(model[1].running_mean, running_mean)  # no statistics were updated


def test_activation_atlas_seed_covers_sampling_and_renders_and_leaves_the_rng_alone() -> None:
    model = _tiny_model()
    kwargs = dict(grid_size=(2, 2), cell_size=10, steps=2, min_density=1, layout="PCA",
                  samples_per_image=16, show_progress=False, batch_size=3)  # fmt: skip
    torch.manual_seed(5)
    before = torch.rand(2)
    torch.manual_seed(5)
    first = activation_atlas(model, "3", _images(), seed=21, **kwargs)
    assert torch.equal(torch.rand(2), before)  # the caller's RNG is untouched
    second = activation_atlas(model, "3", _images(), seed=21, **kwargs)
    assert first.seed == second.seed == 21
    assert torch.equal(first.samples, second.samples)  # the random positions
    assert torch.equal(first.image, second.image)
    other = activation_atlas(model, "3", _images(), seed=22, **kwargs)
    assert not torch.equal(first.samples, other.samples)
    drawn = activation_atlas(model, "3", _images(), **kwargs)
    assert isinstance(drawn.seed, int)
    assert torch.equal(activation_atlas(model, "3", _images(), seed=drawn.seed, **kwargs).image,
                       drawn.image)  # fmt: skip
