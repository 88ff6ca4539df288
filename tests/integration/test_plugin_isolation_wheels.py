"""Installed wheels that misbehave cannot take the CLI down (issue 16).

``optim-plugin-exit`` calls ``sys.exit()`` at import (one entry point) and inside a hook
(another); ``optim-plugin-clash`` registers a name ``optim-plugin-example`` also registers.
"""

from __future__ import annotations

import json

CLI = ["-m", "optim.cli"]
STRICT = {"OPTIM_STRICT_PLUGINS": "1"}


def test_a_plugin_calling_sys_exit_is_skipped_and_listed_as_failed(install_beside_core):
    run = install_beside_core("optim-plugin-exit", "optim-plugin-example")
    result = run(*CLI, "plugins", check=True)
    assert "channel_activation" in result.stdout
    assert "example_mean_activation" in result.stdout  # other plugins are unaffected
    assert "exit_plugin_objective" not in result.stdout  # nothing of the failed plugin stays
    failed = [line for line in result.stdout.splitlines() if line.startswith("failed:")]
    assert failed == [
        "failed: exit_at_import (optim-plugin-exit 0.1.0): SystemExit: the plugin called "
        "sys.exit(3)",
        "failed: exit_in_hook (optim-plugin-exit 0.1.0): SystemExit: the plugin called "
        "sys.exit('optim_plugin_exit gives up')",
    ]
    for part in ("'exit_at_import'", "'exit_in_hook'", "optim-plugin-exit 0.1.0", "SystemExit"):
        assert part in result.stderr, (part, result.stderr)  # the PluginLoadWarnings


def test_strict_mode_makes_a_plugin_calling_sys_exit_an_error(install_beside_core):
    run = install_beside_core("optim-plugin-exit")
    result = run(*CLI, "plugins", env=STRICT)
    assert result.returncode not in (0, 3)
    assert "PluginError" in result.stderr and "optim-plugin-exit 0.1.0" in result.stderr


def test_a_clash_keeps_optim_plugins_working_and_is_shown(install_beside_core):
    run = install_beside_core("optim-plugin-example", "optim-plugin-clash")
    result = run(*CLI, "plugins", check=True)
    [line] = [x for x in result.stdout.splitlines() if x.startswith("clash:")]
    for part in ("'example_mean_activation'", "optim-plugin-example 0.3.1",
                 "optim-plugin-clash 1.0.0", "kept", "skipped"):  # fmt: skip
        assert part in line, (part, line)
    for part in (
        "example_mean_activation",
        "optim-plugin-example 0.3.1",
        "optim-plugin-clash 1.0.0",
    ):
        assert part in result.stderr, (part, result.stderr)  # the PluginClashWarning

    rows = json.loads(run(*CLI, "plugins", "--json", "--kind", "objectives", check=True).stdout)
    row = {r["name"]: r for r in rows}["example_mean_activation"]
    kept, skipped = row["distribution"], row["clashes"][0]["distribution"]
    assert {kept, skipped} == {"optim-plugin-example", "optim-plugin-clash"}


def test_strict_mode_makes_a_clash_an_error_naming_both(install_beside_core):
    run = install_beside_core("optim-plugin-example", "optim-plugin-clash")
    result = run(*CLI, "plugins", env=STRICT)
    assert result.returncode != 0
    assert "optim-plugin-example 0.3.1" in result.stderr
    assert "optim-plugin-clash 1.0.0" in result.stderr


def test_disabled_autoload_is_named_when_a_model_is_missing(install_beside_core, tmp_path):
    run = install_beside_core("optim-plugin-example")
    env = {"OPTIM_DISABLE_PLUGIN_AUTOLOAD": "1"}
    out = str(tmp_path / "out" / "x.png")
    result = run(*CLI, "render", "--model", "efficientnet_lite0", "--out", out, env=env)
    assert result.returncode == 2
    [line] = result.stderr.strip().splitlines()
    assert "'efficientnet_lite0'" in line and "OPTIM_DISABLE_PLUGIN_AUTOLOAD is set" in line
    listing = run(*CLI, "plugins", env=env, check=True).stdout
    assert "plugin autoload is disabled" in listing
