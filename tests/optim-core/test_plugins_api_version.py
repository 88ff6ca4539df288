"""Plugins state the plugin API they were written for; core skips an incompatible one."""

from __future__ import annotations

import pytest

from optim import plugins
from optim.plugins import (
    PLUGIN_API_VERSION,
    IncompatiblePluginError,
    PluginError,
    PluginLoadWarning,
    hookimpl,
)

FUTURE = """
    from optim.plugins import hookimpl

    OPTIM_PLUGIN_API = 99

    @hookimpl
    def register_objectives(register):
        register("from_the_future", "{module}:register_objectives")
"""


def _plugin(api: object) -> type:
    def register_objectives(register):
        register(f"api_{api}_objective", "optim.loss:L1")

    attrs = {"register_objectives": staticmethod(hookimpl(register_objectives))}
    if api is not None:
        attrs["OPTIM_PLUGIN_API"] = api
    return type(f"Api{api}Plugin", (), attrs)


def test_an_entry_point_plugin_for_another_api_is_skipped_with_a_warning(fake_distribution, site):
    fake_distribution(
        "fakeplug-future", "3.0", "fakeplug_future", FUTURE.format(module="fakeplug_future")
    )
    plugins.refresh()
    with pytest.warns(PluginLoadWarning) as record:
        names = plugins.names("objectives")
    assert "from_the_future" not in names and "channel_activation" in names
    message = str(record[0].message)
    for part in (
        "fakeplug_future",
        "fakeplug-future 3.0",
        "plugin API 99",
        f"provides plugin API {PLUGIN_API_VERSION}",
        "IncompatiblePluginError",
    ):
        assert part in message, (part, message)
    [(plugin, dist, version, exc)] = plugins.registry.failed
    assert (plugin, dist, version) == ("fakeplug_future", "fakeplug-future", "3.0")
    assert isinstance(exc, IncompatiblePluginError)


def test_strict_mode_makes_an_incompatible_plugin_an_error(fake_distribution, site, monkeypatch):
    fake_distribution(
        "fakeplug-future", "3.0", "fakeplug_future", FUTURE.format(module="fakeplug_future")
    )
    monkeypatch.setenv("OPTIM_STRICT_PLUGINS", "1")
    plugins.refresh()
    with pytest.raises(PluginError, match=r"fakeplug-future 3\.0 .*plugin API 99"):
        plugins.names("objectives")


@pytest.mark.parametrize("api", [PLUGIN_API_VERSION, None])
def test_a_plugin_for_this_api_or_stating_none_loads(site, api):
    plugin = _plugin(api)
    plugins.add_plugin(plugin, name=f"api-{api}")
    try:
        assert f"api_{api}_objective" in plugins.names("objectives")
    finally:
        plugins.remove_plugin(plugin)


@pytest.mark.parametrize("api", [0, 2, "1", True, 1.0])
def test_added_plugins_stating_another_api_are_skipped(site, api):
    plugin = _plugin(api)
    plugins.add_plugin(plugin, name="old-api", distribution="fixture-old")
    try:
        with pytest.warns(PluginLoadWarning, match=rf"fixture-old local .*plugin API {api!r}"):
            assert f"api_{api}_objective" not in plugins.names("objectives")
    finally:
        plugins.remove_plugin(plugin)
