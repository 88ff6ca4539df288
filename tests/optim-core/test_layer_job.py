"""Resumable layer jobs and whole-model sites (`optim layer`, `optim model`) on a tiny model.

The torchrun tests (several processes, EfficientNet-Lite0) are in tests/integration.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest
import torch

import optim as opt
from optim.cli import main
from optim.rendering.ranks import Ranks

FAST = ["--size", "32", "--steps", "3", "--transforms", "none", "--no-progress"]
JOB = ["layer", "conv2", "--model", "tiny_net", "--channels", "0-5", "--batch-size", "2"]
CONFTEST = Path(__file__).parent / "conftest.py"


@pytest.fixture(scope="module", autouse=True)
def registered(tiny_zoo):
    return tiny_zoo


def _error_line(capsys) -> str:
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1, err
    assert "Traceback" not in err[0]
    return err[0]


def _files(folder: Path) -> dict[str, tuple[bytes, int]]:
    """Every channel file and the grid: bytes and mtime (ns)."""
    paths = [*sorted((folder / "channels").iterdir()), folder / "grid.png"]
    return {p.name: (p.read_bytes(), p.stat().st_mtime_ns) for p in paths}


def test_rerun_renders_only_the_batch_of_a_deleted_channel(tmp_path, capsys):
    out = tmp_path / "g"
    assert main([*JOB, *FAST, "--seed", "5", "--out", str(out)]) == 0
    before = _files(out)
    time.sleep(0.01)  # distinct mtimes for files written again
    for suffix in ("png", "json"):
        (out / "channels" / f"channel_0003.{suffix}").unlink()
    capsys.readouterr()
    assert main([*JOB, *FAST, "--out", str(out)]) == 0  # no --seed: the folder's is reused
    assert "1 batches rendered, 2 kept" in capsys.readouterr().out
    after = _files(out)
    assert after.keys() == before.keys()
    again = {"channel_0002.png", "channel_0002.json", "channel_0003.png", "channel_0003.json"}
    for name, (data, mtime) in after.items():
        if name.endswith(".png"):
            assert data == before[name][0], name  # the re-rendered PNG equals the original
        if name in again or name == "grid.png":
            assert mtime > before[name][1], name
        else:
            assert mtime == before[name][1], f"{name} was written again"
    layer = json.loads((out / "manifest.json").read_text())
    assert layer["result"]["rendered_batches"] == [[2, 3]] and layer["result"]["complete"]


def test_changed_settings_render_again_and_where_it_ran_does_not(tmp_path, capsys):
    out = tmp_path / "g"
    assert main([*JOB, *FAST, "--seed", "5", "--out", str(out)]) == 0
    capsys.readouterr()
    assert main([*JOB, *FAST, "--cuda-graph", "off", "--device", "cpu", "--out", str(out)]) == 0
    assert "0 batches rendered, 3 kept" in capsys.readouterr().out
    assert main([*JOB, *FAST, "--lr", "0.1", "--out", str(out)]) == 0
    assert "3 batches rendered" in capsys.readouterr().out
    assert main([*JOB, *FAST, "--lr", "0.1", "--force", "--out", str(out)]) == 0
    assert "3 batches rendered" in capsys.readouterr().out


def test_a_damaged_channel_file_is_rendered_again(tmp_path, capsys):
    out = tmp_path / "g"
    assert main([*JOB, *FAST, "--seed", "5", "--out", str(out)]) == 0
    original = (out / "channels" / "channel_0004.png").read_bytes()
    (out / "channels" / "channel_0004.png").write_bytes(original[:20])  # a torn write
    capsys.readouterr()
    assert main([*JOB, *FAST, "--out", str(out)]) == 0
    assert "1 batches rendered, 2 kept" in capsys.readouterr().out
    assert (out / "channels" / "channel_0004.png").read_bytes() == original


def test_a_folder_holding_another_job_is_refused_and_left_alone(tmp_path, capsys):
    out = tmp_path / "g"
    assert main([*JOB, *FAST, "--seed", "5", "--out", str(out)]) == 0
    before = _files(out)
    other = ["layer", "conv1", "--model", "tiny_net", "--channels", "0-1", *FAST]
    assert main([*other, "--out", str(out)]) == 2
    line = _error_line(capsys)
    assert "holds the gallery of tiny_net conv2" in line and "--force" in line
    manifest = json.loads((out / "manifest.json").read_text())
    manifest["model"]["name"] = "other_net"  # as if another model had written it
    (out / "manifest.json").write_text(json.dumps(manifest))
    assert main([*JOB, *FAST, "--out", str(out)]) == 2
    assert "holds the gallery of other_net conv2" in _error_line(capsys)
    assert {k: v[0] for k, v in _files(out).items()} == {k: v[0] for k, v in before.items()}


def _cli_subprocess(zoo, args: list[str]) -> subprocess.Popen:
    """``optim`` in a new process with ``tiny_net`` registered as the tests register it."""
    script = textwrap.dedent(
        f"""
        import importlib.util, sys
        from pathlib import Path
        spec = importlib.util.spec_from_file_location("zoo_conftest", {str(CONFTEST)!r})
        zoo_module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(zoo_module)
        import optim.plugins
        optim.plugins.add_plugin(zoo_module.TinyZoo(Path({str(zoo.weights)!r})), name="tiny")
        from optim.cli import main
        sys.exit(main({args!r}))
        """
    )
    return subprocess.Popen([sys.executable, "-c", script], stderr=subprocess.PIPE, text=True)


def test_a_job_killed_mid_run_resumes_to_the_uninterrupted_gallery(tmp_path, registered):
    slow = ["layer", "conv2", "--model", "tiny_net", "--channels", "0-7", "--batch-size", "2",
            "--size", "32", "--steps", "200", "--seed", "2", "--no-progress"]  # fmt: skip
    killed = tmp_path / "killed"
    process = _cli_subprocess(registered, [*slow, "--out", str(killed)])
    deadline = time.monotonic() + 120
    while not list((killed / "channels").glob("*.json")) and time.monotonic() < deadline:
        assert process.poll() is None, process.stderr.read()
        time.sleep(0.01)
    os.kill(process.pid, signal.SIGKILL)
    process.wait()
    finished = sorted(p.name for p in (killed / "channels").glob("*.png"))
    assert 0 < len(finished) < 8, "the job was not killed mid-run; make it slower"
    assert not (killed / "index.html").exists()  # never presented as finished
    assert main([*slow, "--out", str(killed)]) == 0
    whole = tmp_path / "whole"
    assert main([*slow, "--out", str(whole)]) == 0
    resumed, reference = _files(killed), _files(whole)
    assert resumed.keys() == reference.keys()
    for name in resumed:
        if name.endswith(".png"):
            assert resumed[name][0] == reference[name][0], name
    assert not list(killed.rglob(".*"))  # no temp files left behind by the kill


def test_more_ranks_than_batches_is_explained():
    with pytest.raises(ValueError, match="launch at most 2 processes"):
        Ranks(rank=1, world_size=3).check_enough(2)
    assert Ranks(rank=2, world_size=3).shard(list(range(7))) == [2, 5]


MODEL = ["model", "tiny_net", *FAST]


def test_model_site_links_every_layer_gallery_and_resumes(tmp_path, capsys):
    out = tmp_path / "site"
    assert main([*MODEL, "--layers", "conv1,conv2", "--channels", "0-9", "--out", str(out)]) == 0
    page = (out / "index.html").read_text()
    assert 'href="conv1/index.html"' in page and 'href="conv2/index.html"' in page
    assert "8 of 8 channels" in page and "10 of 16 channels" in page  # conv1 has only 8
    assert 'src="conv1/grid.png"' in page and "<script" not in page and "http" not in page
    layer_page = (out / "conv2" / "index.html").read_text()
    assert 'href="../index.html"' in layer_page
    assert json.loads((out / "site.json").read_text())["model"] == "tiny_net"
    capsys.readouterr()
    assert main([*MODEL, "--layers", "conv1,conv2", "--channels", "0-9", "--out", str(out)]) == 0
    assert "0 batches rendered, 3 kept" in capsys.readouterr().out


def test_model_all_renders_every_block(tmp_path, capsys):
    out = tmp_path / "site"
    assert main([*MODEL, "--all", "--channels", "0", "--out", str(out)]) == 0
    names = sorted(p.name for p in out.iterdir() if p.is_dir())
    assert names == ["conv1", "conv2", "fc", "flatten", "pool", "relu1", "relu2"]


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (
            ["--layers", "conv1,conv3"],
            "no submodule named 'conv3'. Closest valid names: 'conv2', 'conv1'",
        ),
        ([], "say which layers to render: --layers"),
        (["--layers", "conv1,conv1"], "listed more than once"),
        (["--layers", "conv1", "--channels", "12-15"], "has 8 channels, none of those"),
    ],
)
def test_model_user_errors_write_nothing(tmp_path, capsys, args, message):
    out = tmp_path / "site"
    assert main([*MODEL, *args, "--out", str(out)]) == 2
    assert message in _error_line(capsys)
    assert not out.exists() or not any(out.iterdir())


def test_model_refuses_another_models_site(tmp_path, capsys):
    out = tmp_path / "site"
    out.mkdir()
    (out / "site.json").write_text(json.dumps({"format": "optim-site", "model": "resnet"}))
    assert main([*MODEL, "--layers", "conv1", "--out", str(out)]) == 2
    assert "holds the site of resnet, not of tiny_net" in _error_line(capsys)
    assert sorted(p.name for p in out.iterdir()) == ["site.json"]


_TORCHRUN_SCRIPT = """
import importlib.util, sys
from pathlib import Path
import torch
spec = importlib.util.spec_from_file_location("zoo_conftest", {conftest!r})
zoo_module = importlib.util.module_from_spec(spec)
spec.loader.exec_module(zoo_module)


class BreaksOnRankOne(zoo_module.TinyZoo):
    def tiny_net(self, pretrained=False):
        model = super().tiny_net(pretrained)

        def boom(module, inputs):
            if torch.is_grad_enabled() and torch.distributed.get_rank() == 1:
                raise RuntimeError("rank one broke")

        model.conv1.register_forward_pre_hook(boom)
        return model


import optim.plugins
optim.plugins.add_plugin(BreaksOnRankOne(Path({weights!r})), name="tiny")
from optim.cli import main
sys.exit(main(sys.argv[1:]))
"""


def test_a_failing_rank_fails_the_job_with_its_error_and_no_index(tmp_path, registered):
    script = tmp_path / "job.py"
    script.write_text(
        _TORCHRUN_SCRIPT.format(conftest=str(CONFTEST), weights=str(registered.weights))
    )
    out = tmp_path / "g"
    command = [sys.executable, "-m", "torch.distributed.run", "--standalone",
               "--nproc-per-node", "2", str(script), *JOB, *FAST, "--out", str(out)]  # fmt: skip
    process = subprocess.run(command, capture_output=True, text=True, timeout=300)
    assert process.returncode != 0
    assert "rank 1 of 2 failed: RuntimeError: rank one broke" in process.stderr
    assert not (out / "index.html").exists() and not (out / "manifest.json").exists()


_PYTHON_API_SCRIPT = """
import importlib.util, sys
from pathlib import Path
import torch
import torch.distributed as dist
spec = importlib.util.spec_from_file_location("zoo_conftest", {conftest!r})
zoo_module = importlib.util.module_from_spec(spec)
spec.loader.exec_module(zoo_module)
import optim as opt
dist.init_process_group("gloo")
model = zoo_module.TinyZoo(Path({weights!r})).tiny_net(pretrained=True)
result = opt.render_layer(model, "conv2", range(6), batch_size=2, size=32, steps=3,
                          transforms="none", show_progress=False)
torch.save({{"channels": result.channels, "batches": result.batches, "images": result.images,
            "finals": result.final_objectives, "seed": result.seed}},
           {out!r} + f"/rank{{dist.get_rank()}}.pt")
dist.barrier()
dist.destroy_process_group()
"""


def test_render_layer_under_torchrun_shards_and_returns_the_whole_layer_on_every_rank(
    tmp_path, registered
):
    script = tmp_path / "api.py"
    script.write_text(
        _PYTHON_API_SCRIPT.format(
            conftest=str(CONFTEST), weights=str(registered.weights), out=str(tmp_path)
        )
    )
    command = [sys.executable, "-m", "torch.distributed.run", "--standalone",
               "--nproc-per-node", "2", str(script)]  # fmt: skip
    process = subprocess.run(command, capture_output=True, text=True, timeout=300)
    assert process.returncode == 0, process.stderr
    ranks = [torch.load(tmp_path / f"rank{r}.pt") for r in (0, 1)]
    for rank in ranks:
        assert rank["channels"] == list(range(6))
        assert rank["batches"] == [[0, 1], [2, 3], [4, 5]]
    assert torch.equal(ranks[0]["images"], ranks[1]["images"])
    model = registered.tiny_net(pretrained=True)
    settings = dict(batch_size=2, size=32, steps=3, transforms="none", show_progress=False)
    alone = opt.render_layer(model, "conv2", range(6), seed=ranks[0]["seed"], **settings)
    gap = (alone.images - ranks[0]["images"]).abs().max().item()
    assert gap < 1 / 255, f"max pixel difference {gap:.2e} to one process"
    for mine, theirs in zip(alone.final_objectives, ranks[0]["finals"]):
        assert abs(mine - theirs) <= 1e-4 * abs(mine), (mine, theirs)


def test_layer_job_runs_with_the_precision_and_cuda_graph_it_was_given(tmp_path, monkeypatch):
    import optim.rendering.layer_render as layer_render

    seen, real = [], layer_render.optimize_image

    def spy(*args, **kwargs):
        seen.append(kwargs["fast_path"])
        return real(*args, **kwargs)

    monkeypatch.setattr(layer_render, "optimize_image", spy)
    args = [*JOB, *FAST, "--precision", "bf16", "--cuda-graph", "off"]
    assert main([*args, "--out", str(tmp_path / "g")]) == 0
    assert len(seen) == 3
    assert all(f.autocast == "bf16" and f.cuda_graph is False for f in seen)


def test_exemplars_without_optim_dataset_say_what_to_install(tmp_path, monkeypatch, capsys):
    import optim

    monkeypatch.setattr(optim, "_plugin_modules", dict)  # as if optim-dataset were missing
    assert main(["exemplars", "tiny_net", "conv1", "--images", str(tmp_path)]) == 2
    assert "pip install optim-dataset" in _error_line(capsys)
    layer = [*JOB, *FAST, "--exemplars", str(tmp_path), "--out", str(tmp_path / "g")]
    assert main(layer) == 2
    assert "pip install optim-dataset" in _error_line(capsys)
    assert not (tmp_path / "g" / "channels").exists()  # refused before rendering
