"""The plugin host: entry-point discovery, isolation, clashes, lookup errors.

Fake distributions are written as real ``*.dist-info`` folders on ``sys.path`` so that
``importlib.metadata`` discovers them exactly as it discovers installed wheels.
"""

from __future__ import annotations

import pytest

from optim import plugins
from optim.plugins import PluginError, PluginLoadWarning, hookimpl

GOOD = """
    from optim.plugins import hookimpl

    class Brightness:
        '''Mean brightness of the input.'''

    @hookimpl
    def register_objectives(register):
        register("brightness", Brightness)
        register("brightness_alias", "{module}:Brightness", description="same, by name")
"""


def test_core_builtins_registered_by_optim_core():
    assert "fft_image" in plugins.names("parameterizations")
    assert "transformation_robustness" in plugins.names("transforms")
    assert "channel_activation" in plugins.names("objectives")
    entry = plugins.info("objectives", "channel_activation")
    assert entry.distribution == "optim-core"
    assert entry.description


def test_every_core_builtin_resolves_to_its_named_object():
    for entry in plugins.entries():
        if entry.distribution != "optim-core":
            continue
        obj = entry.load()
        assert obj.__name__ == entry.target.split(":")[1].split(".")[-1], entry


def test_unknown_name_lists_valid_names_and_closest_match():
    with pytest.raises(KeyError) as info:
        plugins.get("objectives", "channel_activaton")
    message = str(info.value)
    assert "Did you mean: channel_activation" in message
    assert "neuron_activation" in message  # the valid names are listed


def test_unknown_kind_is_a_value_error_naming_valid_kinds():
    with pytest.raises(ValueError, match="Valid kinds: parameterizations, transforms"):
        plugins.names("objective")


def test_entry_point_plugin_is_discovered_with_distribution_and_version(fake_distribution, site):
    fake_distribution(
        "fakeplug-good", "1.2.3", "fakeplug_good", GOOD.format(module="fakeplug_good")
    )
    plugins.refresh()
    entry = plugins.info("objectives", "brightness")
    assert (entry.distribution, entry.version, entry.plugin) == (
        "fakeplug-good",
        "1.2.3",
        "fakeplug_good",
    )
    assert entry.description == "Mean brightness of the input."
    assert plugins.get("objectives", "brightness_alias") is plugins.get("objectives", "brightness")


def test_discovery_is_cached_until_refresh(fake_distribution, site):
    plugins.names("objectives")  # discover now, before the distribution exists
    fake_distribution("fakeplug-late", "0.1", "fakeplug_late", GOOD.format(module="fakeplug_late"))
    assert "brightness" not in plugins.names("objectives")
    plugins.refresh()
    assert "brightness" in plugins.names("objectives")


def test_broken_plugin_warns_with_entry_point_distribution_version_and_error(
    fake_distribution, site
):
    fake_distribution(
        "fakeplug-broken", "0.9", "fakeplug_broken", "raise RuntimeError('boom at import')\n"
    )
    plugins.refresh()
    with pytest.warns(PluginLoadWarning) as record:
        names = plugins.names("objectives")
    assert "channel_activation" in names  # core still works
    message = str(record[0].message)
    for part in ("fakeplug_broken", "fakeplug-broken", "0.9", "RuntimeError", "boom at import"):
        assert part in message


def test_strict_mode_turns_a_broken_plugin_into_an_error(fake_distribution, site, monkeypatch):
    fake_distribution(
        "fakeplug-broken", "0.9", "fakeplug_broken", "raise RuntimeError('boom at import')\n"
    )
    monkeypatch.setenv("OPTIM_STRICT_PLUGINS", "1")
    plugins.refresh()
    with pytest.raises(PluginError, match=r"fakeplug-broken 0\.9"):
        plugins.names("objectives")


def test_a_hook_that_raises_is_isolated_too(fake_distribution, site):
    fake_distribution(
        "fakeplug-hookfail",
        "2.0",
        "fakeplug_hookfail",
        """
        from optim.plugins import hookimpl

        @hookimpl
        def register_transforms(register):
            raise ValueError("bad registration")
    """,
    )
    plugins.refresh()
    with pytest.warns(PluginLoadWarning, match="bad registration"):
        assert "to_rgb" in plugins.names("transforms")


def test_autoload_can_be_disabled(fake_distribution, site, monkeypatch):
    fake_distribution(
        "fakeplug-good", "1.2.3", "fakeplug_good", GOOD.format(module="fakeplug_good")
    )
    monkeypatch.setenv("OPTIM_DISABLE_PLUGIN_AUTOLOAD", "1")
    plugins.refresh()
    names = plugins.names("objectives")
    assert "brightness" not in names
    assert "channel_activation" in names  # core's built-ins do not need entry points


def test_same_name_from_two_distributions_is_an_error_naming_both_in_strict_mode(
    fake_distribution, site, monkeypatch
):
    # By default a clash is a warning and the first name is kept (test_plugins_isolation.py).
    monkeypatch.setenv("OPTIM_STRICT_PLUGINS", "1")
    fake_distribution("fakeplug-one", "1.0", "fakeplug_one", GOOD.format(module="fakeplug_one"))
    fake_distribution("fakeplug-two", "2.0", "fakeplug_two", GOOD.format(module="fakeplug_two"))
    plugins.refresh()
    with pytest.raises(PluginError) as info:
        plugins.names("objectives")
    assert "fakeplug-one 1.0" in str(info.value)
    assert "fakeplug-two 2.0" in str(info.value)


def test_clash_with_a_core_name_is_an_error_in_strict_mode(fake_distribution, site, monkeypatch):
    monkeypatch.setenv("OPTIM_STRICT_PLUGINS", "1")
    fake_distribution(
        "fakeplug-steal",
        "1.0",
        "fakeplug_steal",
        """
        from optim.plugins import hookimpl

        @hookimpl
        def register_objectives(register):
            register("channel_activation", "fakeplug_steal:register_objectives")
    """,
    )
    plugins.refresh()
    with pytest.raises(PluginError, match=r"optim-core .* fakeplug-steal"):
        plugins.names("objectives")


def test_same_object_registered_twice_is_ignored(site):
    class Thing:
        """A thing."""

    def register_twice(register):
        register("thing", Thing)
        register("thing", Thing)

    plugin = type("TwicePlugin", (), {"register_models": staticmethod(hookimpl(register_twice))})
    plugins.add_plugin(plugin, name="twice")
    try:
        assert plugins.get("models", "thing") is Thing
        assert plugins.info("models", "thing").distribution == "__main__"
    finally:
        plugins.remove_plugin(plugin)
    assert "thing" not in plugins.names("models")


def test_registrar_rejects_malformed_targets(site):
    def register_bad(register):
        register("bad", "no_colon_here")

    plugin = type("BadPlugin", (), {"register_models": staticmethod(hookimpl(register_bad))})
    plugins.add_plugin(plugin, name="malformed")
    try:
        with pytest.warns(PluginLoadWarning, match="module:attr"):
            assert "bad" not in plugins.names("models")
    finally:
        plugins.remove_plugin(plugin)
