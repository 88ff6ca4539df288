"""Dataset exemplars on EfficientNet-Lite0's real weights and real photos (scikit-image,
scikit-learn), and ``optim exemplars`` / ``optim layer --exemplars`` end to end."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
import torch

import optim as opt

EGYPTIAN_CAT = 285


@pytest.fixture(scope="module")
def lite0():
    return opt.models.efficientnet_lite0(pretrained=True).eval()


def test_the_egyptian_cat_logits_top_exemplar_is_the_cat_photo(lite0, photos):
    found = opt.dataset.top_exemplars(lite0, "_fc", photos, channels=[EGYPTIAN_CAT], k=3,
                                      show_progress=False)  # fmt: skip
    assert found[EGYPTIAN_CAT].sources[0].endswith("chelsea.png"), found[EGYPTIAN_CAT].sources
    assert found[EGYPTIAN_CAT].images.shape == (3, 3, 224, 224)  # logits: whole images


def test_exemplar_activations_are_a_direct_forward_of_their_source(lite0, photos):
    found = opt.dataset.top_exemplars(lite0, "_blocks.4", photos, channels=range(8), k=2,
                                      batch_size=4, show_progress=False)  # fmt: skip
    dataset = opt.dataset.ImageFileDataset(photos, size=224)  # the same resizing, one by one
    for channel in range(8):
        exemplars = found[channel]
        for source, value, position in zip(
            exemplars.sources, exemplars.activations, exemplars.positions
        ):
            x = dataset[dataset.files.index(Path(source))][None]
            with torch.no_grad():
                act = opt.hooks.collect_activations(lite0, ["_blocks.4"], x)["_blocks.4"]
            direct = act[0, channel]
            assert abs(direct.max().item() - value) <= 1e-4 * abs(value)
            assert direct[position].item() == direct.max().item()


def test_crops_are_the_measured_receptive_field_which_is_the_textbook_one(lite0, photos):
    # EfficientNet-Lite0 up to _blocks.4: stem 3x3/2, then depthwise 3x3 (stride 1, 2, 1) and
    # 5x5 (stride 2, 1); 1x1 convolutions add nothing. r = 1 + sum((k - 1) * input stride):
    # 1 + 2*1 + 2*2 + 2*2 + 2*4 + 4*4 + 4*8 = 67, and the stride is 8.
    field = opt.dataset.measure_receptive_field(lite0, "_blocks.4", 224)
    assert field.size == (67, 67) and field.stride == (8.0, 8.0)
    found = opt.dataset.top_exemplars(lite0, "_blocks.4", photos, channels=[0], k=2,
                                      show_progress=False)  # fmt: skip
    assert found[0].images.shape == (2, 3, 67, 67)


def _cli(*args: str) -> subprocess.CompletedProcess:
    command = [sys.executable, "-m", "optim.cli", *args, "--no-progress"]
    return subprocess.run(command, capture_output=True, text=True, timeout=600)


def test_exemplars_file_and_layer_gallery_with_ratios(photos, tmp_path):
    out = tmp_path / "blocks4.pt"
    made = _cli("exemplars", "_blocks.4", "--images", str(photos), "--k", "3",
                "--channels", "0-3", "--out", str(out))  # fmt: skip
    assert made.returncode == 0, made.stderr
    assert "receptive field 67x67 px" in made.stdout
    gallery = tmp_path / "g"
    job = ["layer", "_blocks.4", "--channels", "0-3", "--size", "64", "--steps", "8",
           "--seed", "0", "--out", str(gallery)]  # fmt: skip
    shown = _cli(*job, "--exemplars", str(out))
    assert shown.returncode == 0, shown.stderr
    page = (gallery / "index.html").read_text()
    assert page.count('class="ratio"') == 4 and "Far above 1" in page
    assert len(list((gallery / "exemplars").glob("*.png"))) == 4 * 3
    ratios = json.loads((gallery / "manifest.json").read_text())["result"]["exemplar_ratios"]
    assert sorted(ratios) == ["0", "1", "2", "3"] and all(r > 0 for r in ratios.values())
    wrong = _cli(*job, "--exemplars", str(out).replace(".pt", "x.pt"))
    assert wrong.returncode == 2 and "No exemplars file" in wrong.stderr
    other = tmp_path / "fc.pt"
    assert _cli("exemplars", "_fc", "--images", str(photos), "--channels", "1",
                "--out", str(other)).returncode == 0  # fmt: skip
    mismatch = _cli(*job, "--exemplars", str(other))
    assert mismatch.returncode == 2 and "holds exemplars of efficientnet_lite0 _fc" in (
        mismatch.stderr
    )


def test_exemplars_of_an_empty_folder_are_refused(tmp_path):
    empty = tmp_path / "empty"
    empty.mkdir()
    result = _cli("exemplars", "_blocks.4", "--images", str(empty), "--out",
                  str(tmp_path / "e.pt"))  # fmt: skip
    assert result.returncode == 2 and "has no images" in result.stderr
    assert not (tmp_path / "e.pt").exists()
