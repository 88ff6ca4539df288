"""The activation-atlas and neuron-groups examples on EfficientNet-Lite0 (real weights, real
photos) at a tiny size: grid 3x3, 32 px cells, a few steps."""

from __future__ import annotations

import importlib.util
from pathlib import Path
from types import ModuleType

import torch

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"


def _load(name: str) -> ModuleType:
    spec = importlib.util.spec_from_file_location(f"{name}_example", EXAMPLES / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_activation_atlas_example_tiny(tmp_path: Path) -> None:
    example = _load("activation_atlas")
    output = tmp_path / "atlas.png"
    atlas = example.main(
        grid=3, cell_size=32, steps=3, image_size=64, crops_per_photo=2, min_density=2,
        layout="PCA", seed=0, output=output, show_progress=False,
    )  # fmt: skip
    assert atlas.image.shape == (1, 3, 96, 96)
    # 6 photos x 2 crops x (64 px / 16 = 4 x 4 positions of _blocks.10), 112 channels.
    assert atlas.samples.shape == (6 * 2 * 16, 112)
    assert 1 <= len(atlas.coords) <= 9
    assert all(0 <= x < 3 and 0 <= y < 3 and count >= 2 for x, y, count in atlas.coords)
    assert atlas.image.min() >= 0 and atlas.image.max() <= 1
    assert output.is_file() and output.stat().st_size > 0


def test_activation_atlas_example_crops_are_seeded() -> None:
    example = _load("activation_atlas")
    photos = example.sample_photos()[:2]
    first = example.random_crops(photos, 2, 32, torch.Generator().manual_seed(3))
    second = example.random_crops(photos, 2, 32, torch.Generator().manual_seed(3))
    assert first.shape == (4, 3, 32, 32) and torch.equal(first, second)


def test_neuron_groups_example_tiny(tmp_path: Path) -> None:
    example = _load("neuron_groups")
    output = tmp_path / "groups.png"
    groups = example.main(groups=3, image_size=96, render_size=32, steps=3, seed=0, output=output)
    assert groups.spatial.shape == (3, 6, 6) and (groups.spatial >= 0).all()
    assert groups.directions.shape == (3, 672)
    assert groups.renders.shape == (3, 3, 32, 32)
    assert groups.figure.shape == (1, 3, 32 + 4, 5 * (32 + 2) + 2)
    assert output.is_file()
    # The groups factorise the layer: their reconstruction explains most of it.
    import optim as opt

    model = opt.models.efficientnet_lite0(pretrained=True).eval()
    with torch.no_grad():
        acts = opt.collect_activations(model, "_blocks.10._expand_relu", groups.photo)
    acts = acts["_blocks.10._expand_relu"][0].flatten(1)  # [C, h*w]
    rebuilt = groups.directions.T @ groups.spatial.flatten(1)
    relative_error = (torch.linalg.norm(rebuilt - acts) / torch.linalg.norm(acts)).item()
    assert relative_error < 0.8
