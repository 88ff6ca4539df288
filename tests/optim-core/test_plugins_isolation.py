"""One bad plugin cannot take everything down (issue 16).

A plugin that calls ``sys.exit()`` (or raises any ``BaseException`` but ``KeyboardInterrupt``)
at import or in a hook is skipped with a warning; a name registered twice keeps the first
registration and skips the other with a warning naming both sides; ``optim plugins`` keeps
working and shows both; ``OPTIM_STRICT_PLUGINS=1`` makes each an error; a lookup that fails
while ``OPTIM_DISABLE_PLUGIN_AUTOLOAD`` is set says so.
"""

from __future__ import annotations

import json

import pytest

from optim import plugins
from optim.cli import main
from optim.plugins import (
    PluginClashWarning,
    PluginError,
    PluginImportError,
    PluginLoadWarning,
    hookimpl,
)
from optim.rendering.model_source import load_registered_model

EXITS = {
    "sys.exit(3)": ("import sys\nsys.exit(3)\n", "sys.exit(3)"),
    "SystemExit": ("raise SystemExit('plugin says bye')\n", "plugin says bye"),
    "custom BaseException": (
        "class Fatal(BaseException):\n    pass\nraise Fatal('not an Exception')\n",
        "Fatal: not an Exception",
    ),
}


# ---- BaseException at import or in a hook ----------------------------------------------------
@pytest.mark.parametrize("how", sorted(EXITS))
def test_a_plugin_exiting_at_import_is_skipped_with_a_warning(fake_distribution, site, how):
    source, detail = EXITS[how]
    fake_distribution("fakeplug-exit", "1.5", "fakeplug_exit", source)
    plugins.refresh()
    with pytest.warns(PluginLoadWarning) as record:
        names = plugins.names("objectives")
    assert "channel_activation" in names  # core still works
    message = str(record[0].message)
    for part in ("'fakeplug_exit'", "fakeplug-exit 1.5", detail):
        assert part in message, (part, message)
    [(plugin, dist, version, exc)] = plugins.registry.failed
    assert (plugin, dist, version) == ("fakeplug_exit", "fakeplug-exit", "1.5")
    assert isinstance(exc, BaseException) and not isinstance(exc, Exception)


HOOK_EXIT = """
    import sys
    from optim.plugins import hookimpl

    @hookimpl
    def register_objectives(register):
        register("exit_plugin_objective", "fakeplug_hookexit:register_objectives")

    @hookimpl
    def register_transforms(register):
        sys.exit("exit in a hook")
"""


def test_a_plugin_exiting_in_a_hook_is_skipped_whole(fake_distribution, site):
    fake_distribution("fakeplug-hookexit", "2.0", "fakeplug_hookexit", HOOK_EXIT)
    plugins.refresh()
    with pytest.warns(PluginLoadWarning, match=r"fakeplug-hookexit 2\.0.*exit in a hook"):
        names = plugins.names("objectives")
    assert "channel_activation" in names
    assert "exit_plugin_objective" not in names  # nothing of a failed plugin stays registered


def test_keyboard_interrupt_in_a_plugin_still_interrupts(fake_distribution, site):
    fake_distribution("fakeplug-ctrlc", "1.0", "fakeplug_ctrlc", "raise KeyboardInterrupt\n")
    plugins.refresh()
    with pytest.raises(KeyboardInterrupt):
        plugins.names("objectives")


def test_strict_mode_turns_an_exiting_plugin_into_an_error(fake_distribution, site, monkeypatch):
    fake_distribution("fakeplug-exit", "1.5", "fakeplug_exit", EXITS["sys.exit(3)"][0])
    monkeypatch.setenv("OPTIM_STRICT_PLUGINS", "1")
    plugins.refresh()
    with pytest.raises(PluginError, match=r"fakeplug-exit 1\.5.*sys\.exit\(3\)"):
        plugins.names("objectives")


def test_optim_plugins_lists_an_exiting_plugin_under_failed(fake_distribution, site, capsys):
    fake_distribution("fakeplug-exit", "1.5", "fakeplug_exit", EXITS["sys.exit(3)"][0])
    plugins.refresh()
    with pytest.warns(PluginLoadWarning):
        assert main(["plugins"]) == 0
    out = capsys.readouterr().out
    assert "channel_activation" in out
    assert "failed: fakeplug_exit (fakeplug-exit 1.5): SystemExit" in out
    with pytest.warns(PluginLoadWarning):
        plugins.refresh()
        assert main(["plugins", "--json"]) == 0
    rows = json.loads(capsys.readouterr().out)
    [failed] = [row for row in rows if "failed" in row]
    assert (failed["name"], failed["distribution"]) == ("fakeplug_exit", "fakeplug-exit")
    assert "SystemExit" in failed["failed"]


LAZY_EXIT = """
    from optim.plugins import hookimpl

    @hookimpl
    def register_objectives(register):
        register("exits_when_used", "fakeplug_lazy_target:Thing")

    @hookimpl
    def register_namespaces(register):
        def resolve(name):
            raise SystemExit(f"resolver exits on {name}")

        register("exiting", resolve, kind="models")
"""


def test_a_lazy_target_or_resolver_that_exits_is_an_error_naming_the_plugin(
    fake_distribution, site
):
    (site / "fakeplug_lazy_target.py").write_text("import sys\nsys.exit(4)\n")
    fake_distribution("fakeplug-lazy", "0.2", "fakeplug_lazy", LAZY_EXIT)
    plugins.refresh()
    with pytest.raises(PluginImportError) as info:
        plugins.get("objectives", "exits_when_used")
    assert isinstance(info.value, ImportError)  # the CLI reports it as one line
    for part in ("'exits_when_used'", "fakeplug-lazy 0.2", "sys.exit(4)"):
        assert part in str(info.value)
    with pytest.raises(PluginError, match=r"fakeplug-lazy 0\.2.*resolver exits on anything"):
        plugins.get("models", "exiting/anything")


# ---- clashes -----------------------------------------------------------------------------------
GOOD = """
    from optim.plugins import hookimpl

    class Brightness:
        '''Mean brightness of the input.'''

    @hookimpl
    def register_objectives(register):
        register("brightness", Brightness)
        register("{module}_own", Brightness)
"""

STEAL = """
    from optim.plugins import hookimpl

    class Mine:
        '''Not the built-in.'''

    @hookimpl
    def register_objectives(register):
        register("channel_activation", Mine)
        register("steal_keeps_this", Mine)
"""


def _two_clashing_distributions(fake_distribution) -> None:
    for dist, version, module in (("fakeplug-one", "1.0", "fakeplug_one"),
                                  ("fakeplug-two", "2.0", "fakeplug_two")):  # fmt: skip
        fake_distribution(dist, version, module, GOOD.format(module=module))
    plugins.refresh()


def test_a_clash_keeps_the_first_registration_and_warns_naming_both(fake_distribution, site):
    _two_clashing_distributions(fake_distribution)
    with pytest.warns(PluginClashWarning) as record:
        names = plugins.names("objectives")
    assert {"channel_activation", "fakeplug_one_own", "fakeplug_two_own"} <= set(names)
    assert plugins.info("objectives", "brightness").distribution == "fakeplug-one"
    message = str(record[0].message)
    for part in ("'brightness'", "fakeplug-one 1.0", "'fakeplug_one'", "fakeplug-two 2.0",
                 "'fakeplug_two'", "OPTIM_STRICT_PLUGINS"):  # fmt: skip
        assert part in message, (part, message)
    [clash] = plugins.registry.clashes
    assert (clash.kind, clash.name, clash.kept.distribution, clash.skipped_distribution) == (
        "objectives", "brightness", "fakeplug-one", "fakeplug-two"
    )  # fmt: skip


def test_a_clash_with_a_builtin_keeps_the_builtin(fake_distribution, site):
    fake_distribution("fakeplug-steal", "1.0", "fakeplug_steal", STEAL)
    plugins.refresh()
    with pytest.warns(PluginClashWarning, match=r"optim-core .* fakeplug-steal 1\.0"):
        entry = plugins.info("objectives", "channel_activation")
    assert entry.distribution == "optim-core"
    assert plugins.get("objectives", "channel_activation").__name__ == "ChannelActivation"
    assert plugins.info("objectives", "steal_keeps_this").distribution == "fakeplug-steal"


def test_a_namespace_clash_keeps_the_first_namespace(site):
    class First:
        @staticmethod
        @hookimpl
        def register_namespaces(register):
            register("zoo", lambda name: f"{name} from first", kind="models")

    class Second:
        @staticmethod
        @hookimpl
        def register_namespaces(register):
            register("zoo", lambda name: f"{name} from second", kind="models")

    plugins.add_plugin(First, name="first", distribution="fixture-first")
    plugins.add_plugin(Second, name="second", distribution="fixture-second")
    try:
        with pytest.warns(PluginClashWarning, match="fixture-first local.*fixture-second local"):
            [space] = [ns for ns in plugins.namespaces("models") if ns.namespace == "zoo"]
        assert space.distribution == "fixture-first"
        assert plugins.registry.clashes[0].is_namespace
    finally:
        plugins.remove_plugin(First)
        plugins.remove_plugin(Second)


def test_strict_mode_makes_a_clash_an_error_naming_both(fake_distribution, site, monkeypatch):
    monkeypatch.setenv("OPTIM_STRICT_PLUGINS", "1")
    _two_clashing_distributions(fake_distribution)
    with pytest.raises(PluginError) as info:
        plugins.names("objectives")
    for part in ("'brightness'", "fakeplug-one 1.0", "fakeplug-two 2.0", "OPTIM_STRICT_PLUGINS"):
        assert part in str(info.value)


def test_optim_plugins_works_and_shows_a_clash(fake_distribution, site, capsys):
    _two_clashing_distributions(fake_distribution)
    with pytest.warns(PluginClashWarning):
        assert main(["plugins", "--kind", "objectives"]) == 0
    out = capsys.readouterr().out
    assert "fakeplug_two_own" in out  # the rest of the clashing plugin is there
    [line] = [x for x in out.splitlines() if x.startswith("clash:")]
    for part in ("'brightness'", "fakeplug-one 1.0", "kept", "fakeplug-two 2.0", "skipped"):
        assert part in line, (part, line)

    plugins.refresh()
    with pytest.warns(PluginClashWarning):
        assert main(["plugins", "--json", "--kind", "objectives"]) == 0
    rows = {row["name"]: row for row in json.loads(capsys.readouterr().out)}
    assert rows["brightness"]["distribution"] == "fakeplug-one"
    [skipped] = rows["brightness"]["clashes"]
    assert (skipped["distribution"], skipped["version"], skipped["plugin"]) == (
        "fakeplug-two", "2.0", "fakeplug_two"
    )  # fmt: skip
    assert "clashes" not in rows["channel_activation"]


# ---- OPTIM_DISABLE_PLUGIN_AUTOLOAD -------------------------------------------------------------
SWITCH = "OPTIM_DISABLE_PLUGIN_AUTOLOAD is set"


def test_lookup_errors_say_that_autoload_is_disabled(site, monkeypatch):
    monkeypatch.setenv("OPTIM_DISABLE_PLUGIN_AUTOLOAD", "1")
    plugins.refresh()
    for kind, name in (("objectives", "no_such_objective"), ("models", "efficientnet_lite0"),
                       ("models", "torchvision/resnet18")):  # fmt: skip
        with pytest.raises(KeyError) as info:
            plugins.get(kind, name)
        message = str(info.value.args[0])
        assert SWITCH in message and "optim-core's built-ins" in message, message
        assert "added in-process" in message
    with pytest.raises(LookupError, match=SWITCH):
        load_registered_model("efficientnet_lite0", pretrained=False)


def test_lookup_errors_do_not_mention_the_switch_when_autoload_is_on(site):
    with pytest.raises(KeyError) as info:
        plugins.get("objectives", "no_such_objective")
    assert "OPTIM_DISABLE_PLUGIN_AUTOLOAD" not in str(info.value)


def test_the_cli_reports_the_switch(site, monkeypatch, capsys, tmp_path):
    monkeypatch.setenv("OPTIM_DISABLE_PLUGIN_AUTOLOAD", "1")
    plugins.refresh()
    out = tmp_path / "x.png"
    assert main(["render", "--model", "efficientnet_lite0", "--out", str(out)]) == 2
    [line] = capsys.readouterr().err.strip().splitlines()
    assert "'efficientnet_lite0'" in line and SWITCH in line
    assert main(["plugins"]) == 0
    assert "plugin autoload is disabled" in capsys.readouterr().out
    assert main(["plugins", "--json"]) == 0
    captured = capsys.readouterr()
    json.loads(captured.out)  # stdout stays machine-readable; the note goes to stderr
    assert SWITCH in captured.err
