"""Third-party plugins installed as wheels beside optim-core: discovery, isolation, clashes."""

from __future__ import annotations

import json

CLI = ["-m", "optim.cli"]


def test_custom_objective_is_registered_and_listed_with_its_distribution(install_beside_core):
    run = install_beside_core("optim-plugin-example")
    listing = json.loads(run(*CLI, "plugins", "--json", "--kind", "objectives", check=True).stdout)
    row = {r["name"]: r for r in listing}["example_mean_activation"]
    assert row["distribution"] == "optim-plugin-example"
    assert row["version"] == "0.3.1"

    text = run(*CLI, "plugins", check=True).stdout
    line = next(x for x in text.splitlines() if "example_mean_activation" in x)
    assert "optim-plugin-example 0.3.1" in line


def test_custom_objective_works_in_a_render(install_beside_core):
    run = install_beside_core("optim-plugin-example")
    code = """
import torch
import optim as opt
torch.manual_seed(0)
Objective = opt.plugins.get("objectives", "example_mean_activation")
model = torch.nn.Sequential(torch.nn.Conv2d(3, 4, 3), torch.nn.ReLU()).eval()
loss = Objective(model[0])
image = opt.images.NaturalImage((32, 32))
history = opt.InputOptimization(model, loss, image, torch.nn.Identity()).optimize(
    opt.optimization.n_steps(20, show_progress=False), lr=0.05)
print(float(history[0]), float(history[-1]))
"""
    result = run("-c", code, check=True)
    first, last = map(float, result.stdout.split())
    assert last < first  # history holds the negated objective: it goes down as it improves


def test_broken_plugin_warns_and_core_still_works(install_beside_core):
    run = install_beside_core("optim-plugin-broken", "optim-plugin-example")
    result = run(*CLI, "plugins", check=True)
    assert "channel_activation" in result.stdout
    assert "example_mean_activation" in result.stdout  # other plugins are unaffected
    warning = result.stderr
    for part in (
        "'broken'",
        "optim-plugin-broken",
        "0.0.1",
        "ImportError",
        "needs a package that is not installed",
    ):
        assert part in warning, (part, warning)


def test_strict_mode_makes_the_broken_plugin_an_error(install_beside_core):
    run = install_beside_core("optim-plugin-broken")
    result = run(*CLI, "plugins", env={"OPTIM_STRICT_PLUGINS": "1"})
    assert result.returncode != 0
    assert "PluginError" in result.stderr
    assert "optim-plugin-broken 0.0.1" in result.stderr


def test_name_clash_between_two_distributions_names_both(install_beside_core):
    run = install_beside_core("optim-plugin-example", "optim-plugin-clash")
    kept = run(*CLI, "plugins")  # by default: a warning naming both, the rest keeps working
    assert kept.returncode == 0 and "optim-plugin-clash 1.0.0" in kept.stdout + kept.stderr
    assert "example_mean_activation" in kept.stdout
    result = run(*CLI, "plugins", env={"OPTIM_STRICT_PLUGINS": "1"})
    assert result.returncode != 0
    assert "example_mean_activation" in result.stderr
    assert "optim-plugin-example 0.3.1" in result.stderr
    assert "optim-plugin-clash 1.0.0" in result.stderr


def test_disable_autoload_hides_third_party_plugins(install_beside_core):
    run = install_beside_core("optim-plugin-example")
    result = run(*CLI, "plugins", env={"OPTIM_DISABLE_PLUGIN_AUTOLOAD": "1"}, check=True)
    assert "example_mean_activation" not in result.stdout
    assert "channel_activation" in result.stdout
