"""The ``timm/<name>`` namespace: any timm model through the registry and the CLI, offline.

Weights come only from a local Hugging Face cache (built here in a temporary directory) or a
``model_path`` file; with weights, timm's mean/std becomes the model's input transform. A ViT
takes its one input size (224x224), which ``optim layers`` and ``optim render`` use.
Nothing here downloads: the torch hub cache is a fresh temporary one with downloads forbidden,
and the Hugging Face cache is an empty temporary directory unless a test fills it.
"""

from __future__ import annotations

import json
import re
import sys
from pathlib import Path

import pytest
import torch

import optim as opt
from optim import plugins
from optim.cli import main
from optim.models import WeightsFileError, WeightsUnavailableError, timm_model, timm_models

timm = pytest.importorskip("timm")
hf_constants = pytest.importorskip("huggingface_hub.constants")
huggingface_hub = pytest.importorskip("huggingface_hub")
safetensors_torch = pytest.importorskip("safetensors.torch")

VIT = "vit_tiny_patch16_224"
PIP = "pip install 'optim-models[timm]'"
COMMIT = "0123456789abcdef0123456789abcdef01234567"  # any 40-hex commit hash
# vit_tiny_patch16_224: 224 / 16 = 14 patches a side, 14 * 14 patches + 1 class token = 197
# tokens of 192 features (the ViT-Tiny width).
BLOCK_SHAPE = [1, 197, 192]
BLOCK_LAYOUT = "tokens: 1 prefix + 14x14 patches, 192 features"
# The widest sum in ViT-Tiny is the MLP's hidden width, 4 * 192 = 768 terms. Feeding the same
# normalised input through the same weights can differ at most by rounding in the input
# (1 ulp), amplified by no more than about that many float32 roundings: eps * 768 ~ 9.2e-5,
# relative to the output's scale.
REL_TOL = torch.finfo(torch.float32).eps * 768


def _hf_id(name: str) -> str:
    return timm.models.get_pretrained_cfg(name).hf_hub_id


def _seeded_timm(name: str, seed: int) -> torch.nn.Module:
    """``timm.create_model(name)`` initialised under ``seed``, in eval mode (global RNG kept)."""
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        return timm.create_model(name).eval()


def _put_in_hf_cache(cache: Path, hf_id: str, write) -> Path:
    """The Hugging Face cache layout of ``hf_id`` at ``COMMIT``; ``write(path)`` fills the
    snapshot's model.safetensors. Returns that file."""
    repo = cache / ("models--" + hf_id.replace("/", "--"))
    (repo / "refs").mkdir(parents=True)
    (repo / "refs" / "main").write_text(COMMIT)
    snapshot = repo / "snapshots" / COMMIT
    snapshot.mkdir(parents=True)
    path = snapshot / "model.safetensors"
    write(path)
    return path


def _assert_same_state(model: torch.nn.Module, expected: dict[str, torch.Tensor]) -> None:
    state = model.state_dict()
    assert state.keys() == expected.keys()
    for key, value in expected.items():
        assert torch.equal(state[key], value), key


def _assert_close(got: torch.Tensor, want: torch.Tensor) -> None:
    scale = want.abs().max().item()
    torch.testing.assert_close(got, want, rtol=0, atol=REL_TOL * scale)


def _normalised(model: torch.nn.Module, x: torch.Tensor) -> torch.Tensor:
    """``x`` mapped by timm's own data config for ``model``, computed here by hand."""
    config = timm.data.resolve_data_config({}, model=model)
    mean = torch.tensor(config["mean"], dtype=x.dtype).view(1, 3, 1, 1)
    std = torch.tensor(config["std"], dtype=x.dtype).view(1, 3, 1, 1)
    return (x - mean) / std


def _rand_image(size: int, seed: int = 0) -> torch.Tensor:
    return torch.rand(2, 3, size, size, generator=torch.Generator().manual_seed(seed))


@pytest.fixture(scope="module")
def vit_state() -> dict[str, torch.Tensor]:
    """The state dict of ``timm.create_model(VIT)`` built under ``torch.manual_seed(123)``."""
    return {k: v.clone() for k, v in _seeded_timm(VIT, 123).state_dict().items()}


@pytest.fixture
def hf_cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, hub_checkpoints: Path) -> Path:
    """An empty Hugging Face hub cache (and an empty torch hub cache, downloads forbidden)."""
    cache = tmp_path / "hf_hub"
    cache.mkdir()
    monkeypatch.setattr(hf_constants, "HF_HUB_CACHE", str(cache))
    return cache


@pytest.fixture
def without_timm(monkeypatch: pytest.MonkeyPatch):
    """``import timm`` fails (as when it is not installed); the registry forgets resolved names."""
    monkeypatch.setitem(sys.modules, "timm", None)
    plugins.refresh()  # resolved ``timm/<name>`` entries are cached per registry state
    yield
    monkeypatch.undo()
    plugins.refresh()


# ---- 1. optim layers ----------------------------------------------------------------------


def test_optim_layers_lists_vit_blocks_with_their_token_layout(capsys):
    assert main(["layers", f"timm/{VIT}", "--random-weights"]) == 0
    out = capsys.readouterr().out
    [line] = [row for row in out.splitlines() if row.split()[:1] == ["blocks.11"]]
    assert line.split()[1:3] == ["Block", "x".join(map(str, BLOCK_SHAPE))]
    assert line.endswith(BLOCK_LAYOUT)

    assert main(["layers", f"timm/{VIT}", "--random-weights", "--json"]) == 0
    rows = {row["name"]: row for row in json.loads(capsys.readouterr().out)}
    assert rows["blocks.11"] == {
        "name": "blocks.11",
        "type": "Block",
        "output_shape": BLOCK_SHAPE,
        "layout": BLOCK_LAYOUT,
    }
    # the text listing and the JSON name the same layers
    listed = [row.split()[0] for row in out.splitlines() if row.strip()]
    assert listed == list(rows)


# ---- 2. unknown names ---------------------------------------------------------------------


def _closest_names(message: str) -> list[str]:
    match = re.search(r"Closest names: ([\w, ]+)\.", message)
    assert match, message
    return match.group(1).split(", ")


def test_unknown_timm_name_lists_the_closest_names():
    with pytest.raises(ValueError) as info:
        opt.models.get_model("timm/vit_tiny_patch16_22")
    message = str(info.value)
    assert "vit_tiny_patch16_22'" in message  # the name asked for
    closest = _closest_names(message)
    assert closest[0] == VIT  # one character short of it
    assert all(timm.is_model(name) for name in closest)


def test_cli_reports_an_unknown_timm_name_on_one_line(capsys):
    assert main(["layers", "timm/vit_tiny_patch16_22"]) != 0
    captured = capsys.readouterr()
    err = captured.err.strip()
    assert "Traceback" not in err and len(err.splitlines()) == 1
    assert VIT in _closest_names(err)
    assert captured.out == ""


# ---- 3. timm not installed ----------------------------------------------------------------


def test_without_timm_every_entry_point_names_the_pip_command(without_timm, capsys):
    with pytest.raises(ImportError):  # the premise: timm cannot be imported
        import timm as _  # noqa: F401

    with pytest.raises(ImportError) as info:
        timm_model("resnet18")
    assert PIP in str(info.value)

    with pytest.raises(ValueError) as info:
        opt.models.get_model("timm/resnet18")
    assert PIP in str(info.value)

    assert timm_models.names() == []

    assert main(["layers", "timm/resnet18"]) != 0
    err = capsys.readouterr().err.strip()
    assert PIP in err and "Traceback" not in err and len(err.splitlines()) == 1


# ---- 4. weights: Hugging Face cache, model_path, random -----------------------------------


def test_pretrained_weights_come_from_the_local_hf_cache(hf_cache, vit_state):
    hf_id = _hf_id(VIT)
    cached = _put_in_hf_cache(hf_cache, hf_id, lambda p: safetensors_torch.save_file(vit_state, p))
    found = huggingface_hub.try_to_load_from_cache(hf_id, "model.safetensors")
    assert isinstance(found, str) and Path(found) == cached

    model = timm_model(VIT, pretrained=True)
    _assert_same_state(model, vit_state)
    assert not model.training and not any(m.training for m in model.modules())
    assert model.required_input_size == (224, 224)
    assert Path(model.weights_file).resolve() == cached.resolve()

    plain = timm.create_model(VIT).eval()
    plain.load_state_dict(vit_state)
    x = _rand_image(224)
    with torch.no_grad():
        got, want, raw = model(x), plain(_normalised(plain, x)), plain(x)
    _assert_close(got, want)
    # the check can tell: on the raw input the same weights give another output
    assert (raw - want).abs().max() > 100 * REL_TOL * want.abs().max()

    # the registry builds the same thing
    via_registry = opt.models.get_model(f"timm/{VIT}", pretrained=True)
    _assert_same_state(via_registry, vit_state)
    with torch.no_grad():
        assert torch.equal(via_registry(x), got)


def test_model_path_loads_a_torch_save_file_and_normalises(hf_cache, tmp_path, vit_state):
    path = tmp_path / "vit.pth"
    torch.save(vit_state, path)
    model = timm_model(VIT, model_path=path)  # pretrained=False: model_path alone loads
    _assert_same_state(model, vit_state)
    assert not model.training and model.required_input_size == (224, 224)
    assert Path(model.weights_file) == path.resolve()

    plain = timm.create_model(VIT).eval()
    plain.load_state_dict(vit_state)
    x = _rand_image(224, seed=1)
    with torch.no_grad():
        _assert_close(model(x), plain(_normalised(plain, x)))


def test_normalisation_uses_mean_and_std_each_in_its_place(tmp_path):
    """ViT's mean and std are both 0.5; test_efficientnet's ImageNet mean/std tell them apart."""
    name = "test_efficientnet"
    config = timm.data.resolve_data_config({}, model=timm.create_model(name))
    assert config["mean"] != config["std"]  # the premise of this test
    plain = _seeded_timm(name, 5)
    path = tmp_path / "effnet.pth"
    torch.save(plain.state_dict(), path)
    model = timm_model(name, model_path=path)
    assert getattr(model, "required_input_size", None) is None  # a CNN takes any size
    x = _rand_image(64, seed=2)
    with torch.no_grad():
        got, want = model(x), plain(_normalised(plain, x))
        mean, std = (torch.tensor(config[k]).view(1, 3, 1, 1) for k in ("mean", "std"))
        swapped = plain((x - std) / mean)
    _assert_close(got, want)
    assert not torch.allclose(got, swapped)


def test_random_weights_get_no_input_normalisation(hf_cache):
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(7)
        model = timm_model(VIT, pretrained=False)
    plain = _seeded_timm(VIT, 7)  # same seed, same initialisation
    _assert_same_state(model, plain.state_dict())
    assert not model.training and model.required_input_size == (224, 224)
    assert getattr(model, "weights_file", None) is None
    x = _rand_image(224, seed=3)
    with torch.no_grad():
        assert torch.equal(model(x), plain(x))


# ---- 5. missing or damaged weights --------------------------------------------------------


def test_missing_weights_say_where_to_put_them(hf_cache):
    with pytest.raises(WeightsUnavailableError) as info:
        timm_model(VIT, pretrained=True)
    message = str(info.value)
    assert str(hf_cache) in message
    assert f"hf download {_hf_id(VIT)}" in message
    assert "model_path=" in message


def test_a_corrupt_safetensors_file_in_the_cache_is_named(hf_cache, vit_state):
    def corrupt(path: Path) -> None:  # a real file cut short: its header promises more bytes
        safetensors_torch.save_file({"w": torch.zeros(64)}, path)
        path.write_bytes(path.read_bytes()[:-100])

    cached = _put_in_hf_cache(hf_cache, _hf_id(VIT), corrupt)
    with pytest.raises(WeightsFileError) as info:
        timm_model(VIT, pretrained=True)
    assert str(cached) in str(info.value)

    cached.write_bytes(b"not a safetensors file at all")
    with pytest.raises(WeightsFileError) as info:
        timm_model(VIT, pretrained=True)
    assert str(cached) in str(info.value)


# ---- 6, 7. optim render -------------------------------------------------------------------


def _render(tmp_path: Path, target: str, *extra: str) -> tuple[int, Path]:
    out = tmp_path / "r.png"
    code = main(
        [
            "render",
            "--model", f"timm/{VIT}",
            "--random-weights",
            "--target", target,
            "--steps", "2",
            "--seed", "0",
            "--no-progress",
            "--out", str(out),
            *extra,
        ]
    )  # fmt: skip
    return code, out


def _manifest(png: Path) -> dict:
    return json.loads(png.with_suffix(".json").read_text())


def test_render_uses_the_vits_own_input_size(hf_cache, tmp_path, capsys):
    from PIL import Image

    code, out = _render(tmp_path, "blocks.11:3")
    assert code == 0, capsys.readouterr().err
    manifest = _manifest(out)
    assert manifest["settings"]["size"] == [224, 224]
    assert manifest["settings"]["token"] == "patches"  # the default
    assert manifest["model"]["name"] == f"timm/{VIT}" and manifest["model"]["pretrained"] is False
    assert manifest["outputs"]["image"] == out.name
    with Image.open(out) as image:
        assert image.size == (224, 224)


def test_render_at_another_size_fails_saying_the_vits_size(hf_cache, tmp_path, capsys):
    code, out = _render(tmp_path, "blocks.11:3", "--size", "160")
    assert code != 0
    err = capsys.readouterr().err.strip()
    assert "takes 224x224 px input only" in err and "got 160x160" in err
    assert "Traceback" not in err and len(err.splitlines()) == 1
    assert not out.exists() and not out.with_suffix(".json").exists()


def test_render_the_class_token(hf_cache, tmp_path, capsys):
    code, out = _render(tmp_path, "blocks.11:3", "--token", "class")
    assert code == 0, capsys.readouterr().err
    assert _manifest(out)["settings"]["token"] == "class"


def test_class_token_has_no_position(hf_cache, tmp_path, capsys):
    code, out = _render(tmp_path, "blocks.11:3:1:1", "--token", "class")
    assert code != 0
    err = capsys.readouterr().err.strip()
    assert "class token" in err and "has no position" in err
    assert "Traceback" not in err and len(err.splitlines()) == 1
    assert not out.exists()


def test_a_pretrained_tag_is_checked(capsys):
    with pytest.raises(ValueError, match=r"no pretrained tag 'bogus'.*augreg_in21k_ft_in1k"):
        opt.models.get_model(f"timm/{VIT}.bogus")
    assert main(["layers", f"timm/{VIT}.augreg_in21k"]) == 0  # a real tag resolves
    assert "blocks.11 " in capsys.readouterr().out


def test_another_num_classes_gets_a_new_classifier_like_timm(hf_cache, vit_state):
    _put_in_hf_cache(hf_cache, _hf_id(VIT), lambda p: safetensors_torch.save_file(vit_state, p))
    model = timm_model(VIT, pretrained=True, num_classes=10)
    assert model.head.out_features == 10
    kept = {k: v for k, v in vit_state.items() if not k.startswith("head.")}
    state = model.state_dict()
    assert all(torch.equal(state[k], v) for k, v in kept.items())


def test_weights_of_another_architecture_are_a_mismatch(tmp_path, vit_state):
    path = tmp_path / "other.pth"
    torch.save({k: v for k, v in vit_state.items() if k != "blocks.0.attn.qkv.weight"}, path)
    with pytest.raises(opt.models.WeightsMismatchError, match=r"blocks\.0\.attn\.qkv\.weight"):
        timm_model(VIT, model_path=path)


def test_patch_embedding_before_the_class_token_is_a_plain_grid(capsys):
    assert main(["layers", f"timm/{VIT}"]) == 0
    rows = {line.split()[0]: line for line in capsys.readouterr().out.splitlines()}
    assert rows["patch_embed"].endswith("tokens: 0 prefix + 14x14 patches, 192 features")
