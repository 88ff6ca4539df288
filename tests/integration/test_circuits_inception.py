"""optim-circuits on InceptionV1 (optim-models): expanded-weight shapes and the overview's
circuits example, run against a seeded torch hub cache (random weights, no download).

Expanded weights cost one backward pass through the path per output channel (480 and 512
here, at full 224 px resolution), hence the ``slow`` marks.
"""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest
import torch

import optim as opt
from optim.circuits import connection_heatmap, extract_expanded_weights
from optim.transforms import center_crop

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "circuits.py"


@pytest.mark.slow
def test_mixed3a_to_mixed3b_full_and_cropped_shapes() -> None:
    torch.manual_seed(0)
    linear_googlenet = opt.models.googlenet(use_linear_modules_only=True).eval()
    uncropped = []

    def crop_and_record(weights: torch.Tensor, size: int) -> torch.Tensor:
        uncropped.append(weights)
        return center_crop(weights, size)

    cropped = extract_expanded_weights(
        linear_googlenet, "mixed3a", "mixed3b", crop_shape=5, crop_func=crop_and_record
    )
    (full,) = uncropped
    assert full.shape == (480, 256, 28, 28)
    assert cropped.shape == (480, 256, 5, 5)
    # mixed3b's widest kernel is 5x5 (after a 1x1 reduce): everything outside the 5x5 window
    # centred on position (13, 13), the centre crop, is zero.
    outside = full.clone()
    outside[..., 11:16, 11:16] = 0
    assert outside.abs().max().item() == 0.0
    assert cropped.abs().max().item() > 0.0


def test_pool3_to_mixed4a_cropped_shape() -> None:
    # SPEC §2.7's reference: pool3 -> mixed4a with crop 5 gives [508, 480, 5, 5]. At 80 px the
    # channel counts are the same (only the uncropped spatial size scales) for a fraction of
    # the cost of 224 px.
    model = opt.models.googlenet(use_linear_modules_only=True).eval()
    weights = extract_expanded_weights(
        model, model.pool3, model.mixed4a, 5, torch.zeros(1, 3, 80, 80), check_linearity=False
    )
    assert weights.shape == (508, 480, 5, 5)


@pytest.fixture
def seeded_hub(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A TORCH_HOME whose hub cache holds random InceptionV1 weights; downloads fail."""
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "torch_home"))
    checkpoints = Path(torch.hub.get_dir()) / "checkpoints"
    checkpoints.mkdir(parents=True)
    torch.manual_seed(1)
    torch.save(opt.models.googlenet().state_dict(), checkpoints / "inception5h.pth")

    def no_download(url, *args, **kwargs):
        raise AssertionError(f"the example tried to download {url}")

    monkeypatch.setattr(torch.hub, "download_url_to_file", no_download)
    return checkpoints


@pytest.mark.slow
def test_overview_circuits_example_runs(seeded_hub: Path, tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setenv("MPLBACKEND", "Agg")
    spec = importlib.util.spec_from_file_location("circuits_example", EXAMPLE)
    example = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(example)

    torch.manual_seed(0)
    output = tmp_path / "circuits.png"
    img_set, w_4a_4b = example.main(steps=2, output=output, show=False)
    assert w_4a_4b.shape == (512, 508, 5, 5)
    assert img_set.shape == (3, 3, 224, 224)
    assert output.is_file() and output.stat().st_size > 0
    # The overview's heatmap formula and the circuits helper agree (positive maximum).
    assert w_4a_4b[443].max() > 0
    torch.testing.assert_close(img_set[1:2], connection_heatmap(w_4a_4b, 443, 308, size=224))
