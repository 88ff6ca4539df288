"""Dataset exemplars and receptive fields on small models with hand-computable answers.

Real-photo oracles on EfficientNet-Lite0 are in tests/integration/test_exemplars_real.py.
"""

from __future__ import annotations

import warnings

import numpy as np
import pytest
import torch
from PIL import Image
from torch import nn

import optim as opt
from optim.dataset import load_exemplars, measure_receptive_field, top_exemplars


def _convs(*layers: tuple[int, int, int]) -> nn.Sequential:
    """Linear convolutions (kernel, stride, dilation): every weight non-zero, so the
    gradient box is exactly the receptive field."""
    torch.manual_seed(0)
    modules, channels = [], 3
    for kernel, stride, dilation in layers:
        conv = nn.Conv2d(channels, 4, kernel, stride=stride, dilation=dilation)
        nn.init.uniform_(conv.weight, 0.1, 1.0)
        modules.append(conv)
        channels = 4
    return nn.Sequential(*modules).eval()


@pytest.mark.parametrize(
    ("layers", "field", "stride"),
    [
        ([(3, 1, 1)], 3, 1),
        ([(3, 1, 1), (3, 2, 1), (5, 1, 1)], 1 + 2 + 2 + 4 * 2, 2),
        ([(3, 2, 1), (3, 2, 1), (3, 1, 2)], 1 + 2 + 2 * 2 + 2 * 2 * 4, 4),
    ],
)
def test_receptive_field_matches_the_textbook_formula(layers, field, stride):
    # r = 1 + sum((k - 1) * d * product of earlier strides); the stride is the strides' product.
    model = _convs(*layers)
    measured = measure_receptive_field(model, str(len(layers) - 1), 64)
    assert measured.size == (field, field)
    assert measured.stride == (float(stride), float(stride))


def test_a_layer_without_spatial_dimensions_sees_the_whole_image():
    model = nn.Sequential(
        nn.Conv2d(3, 4, 3), nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(4, 5)
    )
    field = measure_receptive_field(model.eval(), "3", 32)
    assert not field.spatial and field.size == (32, 32) and field.box((0, 0)) == (0, 0, 32, 32)


def _brute_force(model, layer, images, k):
    """Every activation at once, sorted: the oracle for the streaming top-k."""
    with torch.no_grad():
        output = opt.hooks.collect_activations(model, [layer], images)[layer]
    maps = output.flatten(2)
    best, where = maps.max(dim=2)  # [N, C]
    order = torch.sort(best.T, dim=1, descending=True, stable=True).indices[:, :k]
    width = output.shape[-1]
    return best.T.gather(1, order), order, where.T.gather(1, order), width


def test_streaming_top_k_equals_sorting_everything_and_crops_the_field():
    model = _convs((3, 1, 1), (3, 2, 1))
    images = torch.rand(37, 3, 32, 32, generator=torch.Generator().manual_seed(1))
    found = top_exemplars(model, "1", images, k=5, size=32, batch_size=8, show_progress=False)
    values, order, where, width = _brute_force(model, "1", images, 5)
    assert found.images_seen == 37 and found.channels == [0, 1, 2, 3]
    for channel in range(4):
        got = found[channel]
        assert got.sources == order[channel].tolist()
        torch.testing.assert_close(torch.tensor(got.activations), values[channel])
        assert got.activations == sorted(got.activations, reverse=True)
        for slot, (image, flat) in enumerate(zip(order[channel], where[channel])):
            row, col = divmod(int(flat), width)
            assert got.positions[slot] == (row, col)
            top, left, bottom, right = found.field.box((row, col))
            assert (bottom - top, right - left) == found.field.size == (5, 5)
            expected = (images[image, :, top:bottom, left:right] * 255).round() / 255
            torch.testing.assert_close(got.images[slot], expected, rtol=0, atol=1e-6)


def _tiny_vit() -> nn.Module:
    from torchvision.models import VisionTransformer

    torch.manual_seed(0)
    return VisionTransformer(
        image_size=32, patch_size=8, num_layers=2, num_heads=2, hidden_dim=16, mlp_dim=32
    ).eval()


def test_token_layer_exemplars_read_the_patch_grid():
    """[B, 1 + 16, F] tokens: features are channels, the 4x4 patch grid the positions (the
    class token is not a position). Oracle: the tokens reshaped by hand, sorted whole."""
    model, layer = _tiny_vit(), "encoder.layers.encoder_layer_1"
    images = torch.rand(13, 3, 32, 32, generator=torch.Generator().manual_seed(4))
    found = top_exemplars(model, layer, images, channels=[0, 5], k=3, size=32, batch_size=5,
                          show_progress=False)  # fmt: skip
    with torch.no_grad():
        tokens = opt.hooks.collect_activations(model, [layer], images)[layer]
    assert tokens.shape == (13, 17, 16)
    patches = tokens[:, 1:].reshape(13, 4, 4, 16)  # row-major patches, x to the right
    for channel in (0, 5):
        best, where = patches[..., channel].flatten(1).max(dim=1)  # [13]
        order = torch.sort(best, descending=True, stable=True).indices[:3]
        got = found[channel]
        assert got.sources == order.tolist()
        torch.testing.assert_close(torch.tensor(got.activations), best[order])
        assert got.positions == [divmod(int(where[i]), 4) for i in order]
    assert found.field.size == (32, 32)  # attention: every patch sees the whole image


def test_patch_tokens_before_attention_have_the_patch_as_field():
    # After the patch embedding (+ position embedding, class token) each patch token depends on
    # its own 8x8 patch only.
    field = measure_receptive_field(_tiny_vit(), "encoder.dropout", 32)
    assert field.size == (8, 8) and field.stride == (8.0, 8.0) and field.box((1, 2)) == (
        8, 16, 16, 24,
    )  # fmt: skip


def test_a_channels_last_map_gives_the_exemplars_of_its_channels_first_twin():
    class ChannelsLast(nn.Module):
        def forward(self, x):
            return x.permute(0, 2, 3, 1)

    convs = _convs((3, 2, 1))
    model = nn.Sequential(convs[0], ChannelsLast()).eval()  # 4 channels on an 11x11 map
    images = torch.rand(9, 3, 24, 24, generator=torch.Generator().manual_seed(5))
    settings = dict(k=3, size=24, show_progress=False)
    first = top_exemplars(convs, "0", images, **settings)
    last = top_exemplars(model, "1", images, **settings)
    assert first.channels == last.channels == [0, 1, 2, 3]
    assert torch.equal(first.indices, last.indices) and torch.equal(first.values, last.values)
    assert torch.equal(first.positions, last.positions) and first.field == last.field


def test_batch_size_and_one_shot_generators_give_the_same_exemplars():
    model = _convs((3, 2, 1))
    images = torch.rand(20, 3, 24, 24, generator=torch.Generator().manual_seed(2))
    settings = dict(k=4, size=24, show_progress=False)
    whole = top_exemplars(model, "0", images, batch_size=20, **settings)
    batches = (images[i : i + 3] for i in range(0, 20, 3))  # one pass only, no len()
    streamed = top_exemplars(model, "0", batches, **settings)
    assert torch.equal(whole.indices, streamed.indices)
    assert torch.equal(whole.crops, streamed.crops)


def test_ties_keep_the_earlier_image_and_few_images_leave_slots_empty():
    model = _convs((3, 1, 1))
    image = torch.rand(1, 3, 16, 16, generator=torch.Generator().manual_seed(3))
    found = top_exemplars(model, "0", image.repeat(3, 1, 1, 1), k=5, size=16, show_progress=False)
    assert found[0].sources == [0, 1, 2] and len(found[0].images) == 3


def test_save_and_load_round_trip_safely(tmp_path):
    model = _convs((3, 1, 1))
    images = torch.rand(6, 3, 16, 16, generator=torch.Generator().manual_seed(4))
    found = top_exemplars(model, "0", images, channels=[1, 3], k=2, size=16, show_progress=False)
    path = found.save(tmp_path / "ex.pt")
    loaded = load_exemplars(path)
    assert loaded.channels == [1, 3] and loaded.field == found.field and loaded.k == 2
    assert loaded[3].sources == found[3].sources
    assert torch.equal(loaded[3].images, found[3].images)
    with pytest.raises(KeyError, match=r"computed for channels 1\.\.3"):
        loaded[2]
    torch.save({"format": "something else"}, tmp_path / "other.pt")
    with pytest.raises(ValueError, match="not an exemplars file"):
        load_exemplars(tmp_path / "other.pt")
    torch.save({"format": "optim-exemplars", "evil": nn.Conv2d(1, 1, 1)}, tmp_path / "evil.pt")
    with pytest.raises(ValueError, match="not an exemplars file"):  # weights_only refuses it
        load_exemplars(tmp_path / "evil.pt")


def _write(path, array, mode=None):
    Image.fromarray(array, mode).save(path)


def test_a_folder_of_mixed_files_skips_converts_and_explains(tmp_path):
    model = _convs((3, 1, 1))
    rng = np.random.default_rng(0)
    _write(tmp_path / "a_rgb.png", rng.integers(0, 255, (20, 30, 3), dtype=np.uint8))
    _write(tmp_path / "b_grey.png", rng.integers(0, 255, (20, 20), dtype=np.uint8))
    _write(tmp_path / "c_rgba.png", rng.integers(0, 255, (20, 20, 4), dtype=np.uint8))
    (tmp_path / "d_corrupt.jpg").write_bytes(b"\xff\xd8 not really a jpeg")
    (tmp_path / "notes.txt").write_text("not an image")
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        found = top_exemplars(model, "0", tmp_path, k=5, size=16, show_progress=False)
    messages = " ".join(str(w.message) for w in caught)
    assert "d_corrupt.jpg" in messages and "notes.txt" in messages
    assert found.images_seen == 3
    names = ("a_rgb.png", "b_grey.png", "c_rgba.png")
    assert sorted(found[0].sources) == [str(tmp_path / name) for name in names]


def test_empty_folders_and_bad_inputs_are_explained(tmp_path):
    model = _convs((3, 1, 1))
    with pytest.raises(ValueError, match="has no images"):
        top_exemplars(model, "0", tmp_path, show_progress=False)
    with pytest.raises(ValueError, match="does not exist"):
        top_exemplars(model, "0", tmp_path / "missing", show_progress=False)
    with pytest.raises(ValueError, match=r"has 4 channels: use 0\.\.3"):
        top_exemplars(model, "0", torch.rand(2, 3, 16, 16), channels=[4], size=16,
                      show_progress=False)  # fmt: skip
    with pytest.raises(ValueError, match="Closest valid names"):
        top_exemplars(model, "00", torch.rand(2, 3, 16, 16), size=16, show_progress=False)
    with pytest.raises(TypeError, match="folder path, a tensor"):
        top_exemplars(model, "0", 3, show_progress=False)
    grouped = nn.Sequential(nn.Conv2d(3, 4, 3), nn.Unflatten(1, (2, 2))).eval()  # 5-D
    with pytest.raises(ValueError, match=r"outputs \[2, 2, 2, 14, 14\]; exemplars need"):
        top_exemplars(grouped, "1", torch.rand(2, 3, 16, 16), size=16, show_progress=False)


def test_memory_holds_k_exemplars_per_channel_whatever_the_number_of_images():
    model = _convs((3, 2, 1))
    sizes = []
    for count in (10, 200):
        batches = (torch.rand(10, 3, 24, 24) for _ in range(count // 10))
        found = top_exemplars(model, "0", batches, k=3, size=24, show_progress=False)
        assert found.images_seen == count
        sizes.append([t.numel() for t in (found.values, found.indices, found.crops)])
    assert sizes[0] == sizes[1]
