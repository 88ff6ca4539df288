"""Manifests, PNG writing and the static gallery, on fabricated render results."""

from __future__ import annotations

import hashlib
import json
from html.parser import HTMLParser
from pathlib import Path

import pytest
import torch
from PIL import Image

from optim.rendering import (
    LayerRenderResult,
    ModelSource,
    RenderResult,
    RenderSpec,
    read_manifest,
    render_manifest,
    write_gallery,
    write_manifest,
)
from optim.rendering.result import write_png

SOURCE = ModelSource(
    name="tiny_net",
    pretrained=True,
    distribution="tests",
    version="1",
    weights_file="/weights/tiny.pth",
    weights_sha256="ab" * 32,
    state_dict_sha256="cd" * 32,
)


def _render_result() -> RenderResult:
    images = torch.rand(1, 3, 16, 16, generator=torch.Generator().manual_seed(0))
    settings = {"target": "conv2:3", "size": [16, 16], "steps": 4, "lr": 0.05, "batch": 1,
                "seed": 7, "parameterization": "fft_image", "transforms": "none",
                "transforms_keep_size": False, "device": "cpu"}  # fmt: skip
    return RenderResult(images, torch.tensor([0.5, 1.0, 1.5, 2.0]), 2.25, 7, settings, 2.0)


def _layer_result(channels: list[int]) -> LayerRenderResult:
    count = len(channels)
    images = torch.rand(count, 3, 8, 8, generator=torch.Generator().manual_seed(1))
    history = torch.arange(3 * count, dtype=torch.float32).reshape(3, count)
    batches = [channels[i : i + 2] for i in range(0, count, 2)]
    settings = {
        **{"layer": "conv2", "channels": channels, "batch_size": 2, "size": [8, 8]},
        **{"steps": 3, "lr": 0.05, "seed": 3, "parameterization": "fft_image"},
        **{"transforms": "none", "objective": "channel_activation", "device": "cpu"},
    }
    finals = [float(c) + 0.125 for c in channels]
    spec = RenderSpec(
        model="tiny_net", target="conv2", channels=tuple(channels), batch_size=2, size=8,
        steps=3, seed=3, transforms="none", objective="channel_activation", device="cpu",
    )  # fmt: skip
    times = [1.5 / len(batches)] * len(batches)
    return LayerRenderResult(
        "conv2", channels, images, history, finals, batches, 3, settings, 1.5, times, spec
    )


def _sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_png_bytes_depend_only_on_pixels(tmp_path):
    images = torch.rand(4, 3, 8, 8, generator=torch.Generator().manual_seed(2))
    first, second = write_png(images, tmp_path / "a.png"), write_png(images, tmp_path / "b.png")
    assert first.read_bytes() == second.read_bytes()
    with Image.open(first) as grid:  # 2x2 grid of 8 px tiles with 2 px padding
        assert grid.size == (2 * (8 + 2) + 2, 2 * (8 + 2) + 2)


def test_render_manifest_round_trip(tmp_path):
    result = _render_result()
    image = result.save(tmp_path / "unit.png")
    path = tmp_path / "unit.json"
    write_manifest(path, render_manifest(result, SOURCE, image, path))
    manifest = read_manifest(path)
    assert manifest["kind"] == "render" and manifest["target"] == "conv2:3"
    assert manifest["model"]["weights_sha256"] == "ab" * 32
    assert manifest["settings"]["seed"] == 7 and manifest["settings"]["steps"] == 4
    assert manifest["environment"]["torch"] == torch.__version__
    assert "optim-core" in manifest["environment"]["packages"]
    assert manifest["result"]["final_objective"] == 2.25
    assert manifest["result"]["objective_first_step"] == 0.5
    assert manifest["result"]["steps_per_s"] == 2.0  # 4 steps in 2 s
    assert manifest["outputs"] == {"image": "unit.png", "image_sha256": _sha(image)}


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("{not json", "is not valid JSON"),
        ('{"format": "something-else"}', "is not an optim manifest"),
        ('{"format": "optim-manifest", "format_version": 99}', "Upgrade optim-core"),
        ('{"format": "optim-manifest", "format_version": 1, "kind": "render"}', "lacks the"),
    ],
)
def test_read_manifest_explains_bad_files(tmp_path, content, message):
    path = tmp_path / "bad.json"
    path.write_text(content)
    with pytest.raises(ValueError, match=message):
        read_manifest(path)


def test_read_manifest_of_missing_file(tmp_path):
    with pytest.raises(ValueError, match="Cannot read manifest"):
        read_manifest(tmp_path / "nope.json")


class _Page(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.figures: list[str] = []
        self.images: list[str] = []
        self.links: list[str] = []

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if tag == "figure" and attrs.get("class") == "channel":
            self.figures.append(attrs["data-channel"])
        if tag == "img":
            self.images.append(attrs["src"])
        if tag == "a":
            self.links.append(attrs["href"])


def test_gallery_is_a_self_contained_folder(tmp_path):
    channels = [0, 3, 5, 12, 40]
    result = _layer_result(channels)
    paths = write_gallery(result, tmp_path / "gallery", model=SOURCE)
    page = _Page()
    html = paths.index.read_text(encoding="utf-8")
    page.feed(html)
    assert page.figures == [str(c) for c in channels]
    for src in page.images:  # thumbnails and enlarged views point at the channel PNGs
        assert (paths.index.parent / src).is_file()
    manifests = [link for link in page.links if link.endswith(".json")]
    assert "manifest.json" in manifests
    for link in manifests:
        assert read_manifest(paths.index.parent / link)["model"]["name"] == "tiny_net"
    assert "http://" not in html and "https://" not in html and "<script" not in html
    assert "channel 12" in html and "objective 12.1" in html  # id and final objective (3 s.f.)
    assert 'id="channel-40"' in html and 'href="#channel-40"' in html  # click to enlarge


def test_gallery_manifests_record_batches_and_hashes(tmp_path):
    result = _layer_result([1, 2, 3])
    paths = write_gallery(result, tmp_path / "g")
    layer = json.loads(paths.manifest.read_text())
    assert layer["kind"] == "layer" and layer["model"] is None
    assert layer["result"]["batches"] == [[1, 2], [3]]
    assert layer["result"]["final_objectives"] == {"1": 1.125, "2": 2.125, "3": 3.125}
    assert layer["outputs"]["grid_sha256"] == _sha(paths.grid)
    channel = read_manifest(paths.channel_manifests[3])
    assert channel["kind"] == "layer_channel" and channel["channel"] == 3
    assert channel["settings"]["channels"] == [3]  # the batch it was optimised in
    assert channel["outputs"]["image_sha256"] == _sha(paths.channel_images[3])
    with Image.open(paths.channel_images[3]) as image:
        assert image.size == (8, 8)
