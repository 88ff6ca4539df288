"""The namespace hook: `<namespace>/<name>` resolved by a resolver a plugin registers."""

from __future__ import annotations

import json

import pytest

from optim import plugins
from optim.cli import main
from optim.plugins import NamespaceRegistrar, PluginError, PluginLoadWarning, hookimpl

SHAPES = {"square": 4, "triangle": 3, "pentagon": 5}


class Shape:
    """A fixture model: a polygon."""

    def __init__(self, sides: int) -> None:
        self.sides = sides


def shape_names() -> list[str]:
    return list(SHAPES)


def resolve_shape(name: str) -> object:
    if name not in SHAPES:
        raise KeyError(name)
    return Shape(SHAPES[name])


def resolve_without_listing(name: str) -> object:
    if not name.startswith("n"):
        raise LookupError(f"names here start with 'n', not {name[:1]!r}")
    return Shape(len(name))


class ShapesPlugin:
    OPTIM_PLUGIN_API = 1

    @staticmethod
    @hookimpl
    def register_namespaces(register: NamespaceRegistrar) -> None:
        register("shapes", resolve_shape, kind="models", names=shape_names, description="polygons")
        register("free", resolve_without_listing, kind="objectives")
        register(
            "lazy",
            "optim.plugins.builtin:OBJECTIVES.get",
            kind="objectives",
            description="core's objective table, by string target",
        )


@pytest.fixture
def shapes():
    plugins.add_plugin(ShapesPlugin, name="shapes", distribution="fixture-shapes")
    yield
    plugins.remove_plugin(ShapesPlugin)


def test_namespaced_names_resolve_through_the_registered_resolver(shapes):
    assert plugins.get("models", "shapes/square").sides == 4
    entry = plugins.info("models", "shapes/triangle")
    assert (entry.kind, entry.name, entry.distribution, entry.plugin) == (
        "models",
        "shapes/triangle",
        "fixture-shapes",
        "shapes",
    )
    assert entry.description == "polygons"
    assert plugins.info("models", "shapes/triangle") is entry  # cached until refresh
    assert "shapes/square" not in plugins.names("models")  # resolved, not listed
    assert plugins.get("objectives", "free/nine").sides == 4
    assert plugins.get("objectives", "lazy/l1") == ("optim.loss:L1", "L1 distance to a constant")


def test_unknown_sub_names_and_namespaces_list_close_matches(shapes):
    with pytest.raises(KeyError) as info:
        plugins.get("models", "shapes/sqaure")
    message = str(info.value)
    assert "the shapes namespace (fixture-shapes local) has no 'sqaure'" in message
    assert "Did you mean: square?" in message and "pentagon" in message
    with pytest.raises(KeyError, match="says: names here start with 'n'"):
        plugins.get("objectives", "free/seven")
    with pytest.raises(KeyError, match=r"no namespace 'shape' is registered.*Did you mean: shapes"):
        plugins.get("models", "shape/square")
    with pytest.raises(KeyError, match="no namespace 'shapes' is registered for transforms"):
        plugins.get("transforms", "shapes/square")


def test_namespaces_are_listed_by_kind(shapes, capsys):
    spaces = {ns.namespace: ns for ns in plugins.namespaces("models")}
    assert spaces["shapes"].names() == sorted(SHAPES)
    assert spaces["shapes"].pattern == "shapes/<name>"
    assert {ns.namespace for ns in plugins.namespaces("objectives")} >= {"free", "lazy"}
    assert main(["plugins", "--kind", "models"]) == 0
    line = next(x for x in capsys.readouterr().out.splitlines() if "shapes/<name>" in x)
    assert "fixture-shapes local" in line and "polygons" in line
    assert main(["plugins", "--json", "--kind", "objectives"]) == 0
    rows = json.loads(capsys.readouterr().out)
    assert {r["namespace"] for r in rows if "namespace" in r} >= {"free", "lazy"}
    assert {r["kind"] for r in rows} == {"objectives"}


def test_registered_names_take_precedence_over_namespaces(shapes):
    class Explicit:
        """Registered under a namespaced-looking name."""

    def register_explicit(register):
        register("shapes/square", Explicit)

    plugin = type(
        "ExplicitPlugin", (), {"register_models": staticmethod(hookimpl(register_explicit))}
    )
    plugins.add_plugin(plugin, name="explicit")
    try:
        assert plugins.get("models", "shapes/square") is Explicit
        assert plugins.get("models", "shapes/triangle").sides == 3
    finally:
        plugins.remove_plugin(plugin)


def test_same_namespace_from_two_distributions_is_an_error_naming_both_in_strict_mode(
    shapes, monkeypatch
):
    monkeypatch.setenv("OPTIM_STRICT_PLUGINS", "1")

    class Other:
        @staticmethod
        @hookimpl
        def register_namespaces(register):
            register("shapes", lambda name: name, kind="models")

    plugins.add_plugin(Other, name="other", distribution="fixture-other")
    try:
        with pytest.raises(PluginError) as info:
            plugins.names("models")
        assert "fixture-shapes local" in str(info.value)
        assert "fixture-other local" in str(info.value)
    finally:
        plugins.remove_plugin(Other)


@pytest.mark.parametrize(
    ("args", "kwargs", "message"),
    [
        (("a/b", "m:f"), {"kind": "models"}, "without '/'"),
        (("ok", "m:f"), {"kind": "model"}, "Unknown plugin kind 'model'"),
        (("ok", "no_colon"), {"kind": "models"}, "module:attr"),
        (("ok", 42), {"kind": "models"}, "must be callable"),
    ],
)
def test_malformed_namespace_registrations_are_isolated(args, kwargs, message):
    def register_bad(register):
        register(*args, **kwargs)

    plugin = type("Bad", (), {"register_namespaces": staticmethod(hookimpl(register_bad))})
    plugins.add_plugin(plugin, name="bad-namespace")
    try:
        with pytest.warns(PluginLoadWarning, match=message):
            assert "channel_activation" in plugins.names("objectives")
    finally:
        plugins.remove_plugin(plugin)


def test_registrar_protocols_are_public():
    from optim.plugins import Registrar
    from optim.plugins.hookspecs import Registrar as SpecRegistrar

    assert Registrar is SpecRegistrar
    assert "register_namespaces" in dir(plugins.hookspecs)
