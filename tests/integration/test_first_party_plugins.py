"""The first-party plugin distributions, installed together: their `optim.modules` and
`optim.plugins` entry points, the plugin API they state, and the versions manifests record.
(tests/optim-core runs with optim-core alone, so these live here.)"""

from __future__ import annotations

from importlib import metadata

import optim
import optim as opt
from optim import plugins
from optim.plugins import PLUGIN_API_VERSION

FIRST_PARTY = ("optim-models", "optim-reducer", "optim-dataset")


def test_first_party_modules_come_from_entry_points():
    declared = opt._plugin_modules()
    assert declared["models"] == ("optim.models", "optim-models")
    assert declared["reducer"] == ("optim.reducer", "optim-reducer")
    assert declared["atlas"] == ("optim.reducer.atlas", "optim-reducer")
    assert declared["circuits"] == ("optim.circuits", "optim-circuits")
    assert declared["dataset"] == ("optim.dataset", "optim-dataset")
    assert opt.atlas.__name__ == "optim.reducer.atlas"
    assert opt._MODULES_GROUP == plugins.MODULES_GROUP
    assert set(declared) <= set(opt.__all__) and set(declared) <= set(dir(opt))


def test_manifest_environment_lists_core_plugins_and_third_party(fake_module_dist):
    from optim.rendering.manifest import environment

    packages = environment("cpu")["packages"]
    expected = {"optim-core", "optim-models", "optim-reducer", "optim-circuits", "optim-dataset"}
    assert expected <= set(packages)
    assert packages["fakeshapes"] == "2.5"
    assert {"torch", "numpy", "pillow"} <= set(packages)
    assert next(iter(packages)) == "optim-core"


def test_every_first_party_plugin_states_the_current_api():
    from optim.plugins import builtin

    assert builtin.OPTIM_PLUGIN_API == PLUGIN_API_VERSION == 1
    modules = {
        ep.dist.name: ep.load()
        for ep in metadata.entry_points(group=plugins.ENTRY_POINT_GROUP)
        if ep.dist is not None and ep.dist.name in FIRST_PARTY
    }
    assert set(modules) == set(FIRST_PARTY)
    for dist, module in modules.items():
        assert module.OPTIM_PLUGIN_API == PLUGIN_API_VERSION, dist


def test_optim_circuits_registers_no_plugin_but_still_adds_its_module():
    dists = {
        ep.dist.name
        for ep in metadata.entry_points(group=plugins.ENTRY_POINT_GROUP)
        if ep.dist is not None
    }
    assert "optim-circuits" not in dists
    assert optim._plugin_modules()["circuits"] == ("optim.circuits", "optim-circuits")
