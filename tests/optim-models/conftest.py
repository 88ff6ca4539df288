"""Fixtures for optim-models: an isolated torch hub cache (nothing is ever downloaded)."""

from __future__ import annotations

import urllib.error
from pathlib import Path

import pytest
import torch


@pytest.fixture
def hub_checkpoints(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """``$TORCH_HOME/hub/checkpoints`` in a temporary TORCH_HOME; downloads are forbidden."""
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "torch_home"))
    checkpoints = Path(torch.hub.get_dir()) / "checkpoints"
    checkpoints.mkdir(parents=True)

    def no_download(url, *args, **kwargs):
        raise AssertionError(f"a test tried to download {url}")

    monkeypatch.setattr(torch.hub, "download_url_to_file", no_download)
    return checkpoints


@pytest.fixture
def constant_state_dict():
    """Builds a state dict with the model's shapes, entry i filled with i / 1000, stored cheaply.

    Each tensor is a broadcast view of one element, so the saved file stays tiny even for
    CLIP-sized models.
    """

    def build(model: torch.nn.Module) -> dict[str, torch.Tensor]:
        return {
            key: torch.full((1,), i / 1000, dtype=value.dtype, device="cpu").expand(value.shape)
            if value.dim()
            else torch.tensor(i, dtype=value.dtype, device="cpu")
            for i, (key, value) in enumerate(model.state_dict().items())
        }

    return build


@pytest.fixture
def offline(hub_checkpoints: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """An empty hub cache and no network: every download fails as it does offline."""

    def no_network(url: str, *args: object, **kwargs: object) -> None:
        raise urllib.error.URLError(OSError(-2, "Name or service not known"))

    monkeypatch.setattr(torch.hub, "download_url_to_file", no_network)
    return hub_checkpoints
