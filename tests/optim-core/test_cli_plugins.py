"""`optim --version` and `optim plugins` (text and --json)."""

from __future__ import annotations

import json
import subprocess
import sys

import optim
from optim.cli import main


def test_version_flag(capsys):
    try:
        main(["--version"])
    except SystemExit as exc:
        assert exc.code == 0
    assert capsys.readouterr().out.strip() == f"optim {optim.__version__}"


def test_plugins_lists_core_builtins_per_kind(capsys):
    assert main(["plugins"]) == 0
    out = capsys.readouterr().out
    assert out.splitlines()[0].startswith("parameterizations (")
    assert "fft_image" in out and "optim-core" in out
    assert "transforms (" in out and "objectives (" in out


def test_plugins_json_is_machine_readable(capsys):
    assert main(["plugins", "--json", "--kind", "objectives"]) == 0
    rows = json.loads(capsys.readouterr().out)
    names = {row["name"]: row for row in rows}
    assert names["channel_activation"]["distribution"] == "optim-core"
    assert names["channel_activation"]["version"] == optim.__version__
    assert {row["kind"] for row in rows} == {"objectives"}


def test_console_script_runs_as_a_module():
    out = subprocess.run(
        [sys.executable, "-m", "optim.cli", "plugins"], capture_output=True, text=True, check=True
    ).stdout
    assert "channel_activation" in out
