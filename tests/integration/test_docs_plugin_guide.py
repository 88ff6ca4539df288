"""The plugin author's guide (docs/plugins.md), run as written.

The page's code blocks are the files of a package, ``my_package``: every Python block whose
first line names a file (``# my_package/transforms.py``; ``..., continued`` appends to it)
becomes that file, including the README section the page includes (optim-core's objective and
the start of the plugin module). The package is put on ``sys.path``, its weights file written,
and its plugin module registered in this process with ``optim.plugins.add_plugin`` under the
distribution name of the guide's ``pyproject.toml`` (what the entry point does once the
distribution is installed). Then the guide's own test file runs, function by function, and so
do the guide's ``optim`` commands, so that the guide cannot drift from the code.
"""

from __future__ import annotations

import importlib
import importlib.util
import re
import shlex
import sys
import tomllib
from pathlib import Path

import pytest
import torch

from optim import plugins
from optim.cli import main

pytest.importorskip("optim.reducer")

ROOT = Path(__file__).resolve().parents[2]
GUIDE = ROOT / "docs" / "plugins.md"
SNIPPET = re.compile(r'^--8<-- "(?P<path>[^":]+)(?::(?P<section>[\w-]+))?"\s*$', re.MULTILINE)
FILE_HEADER = re.compile(
    r"#\s*(?P<path>(?:my_package|tests)/[\w/]+\.py)(?P<continued>, continued)?"
)
CODE_BLOCK = re.compile(r"```(\w*)\n(.*?)```", re.DOTALL)
GUIDE_MODULES = ("my_package", "test_my_package")


def _section(path: str, name: str | None) -> str:
    """The text of ``path`` (relative to the repository), or of its snippet section ``name``."""
    text = (ROOT / path).read_text(encoding="utf-8")
    if name is None:
        return text
    start = text.index(f"--8<-- [start:{name}]")
    start = text.index("\n", start) + 1
    end = text.rindex("\n", 0, text.index(f"--8<-- [end:{name}]")) + 1
    return text[start:end]


def guide_text() -> str:
    """docs/plugins.md with its ``--8<--`` includes expanded, as the site shows it."""
    guide = GUIDE.read_text(encoding="utf-8")
    return SNIPPET.sub(lambda match: _section(match["path"], match["section"]), guide)


def guide_files() -> dict[str, str]:
    """``{relative path: source}`` of every file the guide's code blocks spell out."""
    files: dict[str, str] = {}
    for language, code in CODE_BLOCK.findall(guide_text()):
        header = FILE_HEADER.match(code) if language == "python" else None
        if header is None:
            continue
        path = header["path"]
        if header["continued"]:
            assert path in files, f"{path} is continued before it is started"
            files[path] += "\n\n" + code.split("\n", 1)[1]
        else:
            assert path not in files, f"{path} is spelled out twice"
            files[path] = code
    return files


def guide_pyproject() -> dict:
    tables = [
        tomllib.loads(code)
        for language, code in CODE_BLOCK.findall(guide_text())
        if language == "toml" and code.startswith("# pyproject.toml")
    ]
    assert len(tables) == 1, "the guide's Publishing section shows one pyproject.toml"
    return tables[0]


def guide_commands() -> list[list[str]]:
    """The ``optim`` command lines of the page's own sections (continuations joined,
    environment prefixes and comments dropped); the README's are run by optim-core's
    ``test_plugin_guide_example.py``."""
    commands = []
    for language, code in CODE_BLOCK.findall(GUIDE.read_text(encoding="utf-8")):
        if language != "bash":
            continue
        for line in code.replace("\\\n", " ").splitlines():
            words = shlex.split(line, comments=True)
            while words and "=" in words[0]:
                words.pop(0)  # VAR=value prefixes
            if words[:1] == ["optim"]:
                commands.append(words[1:])
    return commands


GUIDE_TESTS = sorted(
    re.findall(r"^def (test_\w+)\(\):", guide_files()["tests/test_my_package.py"], re.MULTILINE)
)


@pytest.fixture
def my_package(tmp_path, monkeypatch):
    """The guide's package on sys.path with its weights file, its plugin module registered."""
    files = guide_files()
    expected = {"losses", "transforms", "images", "zoo", "reducers", "optim_plugin"}
    assert {f"my_package/{name}.py" for name in expected} <= set(files), sorted(files)
    for relative, code in files.items():
        path = tmp_path / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(code, encoding="utf-8")
    (tmp_path / "my_package" / "__init__.py").write_text("", encoding="utf-8")
    monkeypatch.syspath_prepend(str(tmp_path))

    zoo = importlib.import_module("my_package.zoo")
    torch.manual_seed(0)
    torch.save(zoo.TinyCNN().state_dict(), zoo.WEIGHTS)  # the "shipped" weights file
    project = guide_pyproject()["project"]
    ((entry_name, module_name),) = project["entry-points"]["optim.plugins"].items()
    module = importlib.import_module(module_name)
    plugins.add_plugin(module, name=entry_name, distribution=project["name"])
    try:
        yield tmp_path
    finally:
        plugins.remove_plugin(module)
        for name in [
            m for m in sys.modules if m.split(".")[0] in ("my_package", "test_my_package")
        ]:
            del sys.modules[name]


def test_the_guide_spells_out_a_test_for_each_kind():
    assert len(GUIDE_TESTS) >= 6, GUIDE_TESTS


@pytest.mark.parametrize("name", GUIDE_TESTS)
def test_the_guides_own_checks_pass(my_package, name):
    spec = importlib.util.spec_from_file_location(
        "test_my_package", my_package / "tests" / "test_my_package.py"
    )
    guide_tests = importlib.util.module_from_spec(spec)
    sys.modules["test_my_package"] = guide_tests
    spec.loader.exec_module(guide_tests)
    getattr(guide_tests, name)()


def test_the_plugin_module_states_the_plugin_api(my_package):
    module = importlib.import_module("my_package.optim_plugin")
    assert module.OPTIM_PLUGIN_API == plugins.PLUGIN_API_VERSION


def test_the_guides_commands_run_with_every_name_of_the_plugin(my_package, capsys):
    commands = guide_commands()
    assert [command[0] for command in commands] == ["plugins", "layers", "render"]
    for args in commands:
        if args[0] == "render":
            args += ["--steps", "2", "--size", "32", "--seed", "0", "--no-progress"]
            args += ["--out", str(my_package / "render.png")]
        assert main(args) == 0, capsys.readouterr().err
    out = capsys.readouterr().out
    for name in ("random_contrast", "low_res_image", "tiny_cnn", "TopVarianceChannels"):
        assert name in out
    assert "conv2" in out  # optim layers tiny_cnn
    assert (my_package / "render.png").exists()
