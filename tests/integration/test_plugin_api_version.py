"""A wheel-installed plugin written for another plugin API is skipped, naming both versions."""

from __future__ import annotations

CLI = ["-m", "optim.cli"]


def test_incompatible_plugin_is_skipped_with_a_warning(install_beside_core):
    run = install_beside_core("optim-plugin-future", "optim-plugin-example")
    result = run(*CLI, "plugins", check=True)
    assert "future_objective" not in result.stdout
    assert "example_mean_activation" in result.stdout  # the compatible plugin still loads
    for part in ("'future'", "optim-plugin-future 2.0.0", "plugin API 2", "provides plugin API 1"):
        assert part in result.stderr, (part, result.stderr)


def test_strict_mode_makes_the_incompatible_plugin_an_error(install_beside_core):
    run = install_beside_core("optim-plugin-future")
    result = run(*CLI, "plugins", env={"OPTIM_STRICT_PLUGINS": "1"})
    assert result.returncode != 0
    assert "PluginError" in result.stderr and "optim-plugin-future 2.0.0" in result.stderr
