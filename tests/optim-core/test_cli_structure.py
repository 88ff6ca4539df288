"""The CLI's shape: its modules import each other without cycles, and none of them builds
objectives (the spec goes to the library, which parses targets and picks objectives)."""

from __future__ import annotations

import ast
from pathlib import Path

import optim.cli

CLI_DIR = Path(optim.cli.__file__).parent


def _imports(path: Path) -> set[str]:
    """Every module ``path`` imports, at the top or inside functions."""
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.ImportFrom) and node.module:
            names.add(node.module)
            names.update(f"{node.module}.{alias.name}" for alias in node.names)
        elif isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
    return names


def _cli_graph() -> dict[str, set[str]]:
    modules = {f"optim.cli.{p.stem}": p for p in CLI_DIR.glob("*.py") if p.stem != "__init__"}
    modules["optim.cli"] = CLI_DIR / "__init__.py"
    return {name: {m for m in _imports(path) if m in modules and m != name}
            for name, path in modules.items()}  # fmt: skip


def _cycle(graph: dict[str, set[str]]) -> list[str] | None:
    state: dict[str, int] = {}

    def visit(node: str, path: list[str]) -> list[str] | None:
        state[node] = 1
        for nxt in sorted(graph[node]):
            if state.get(nxt) == 1:
                return [*path, node, nxt]
            if nxt not in state and (found := visit(nxt, [*path, node])):
                return found
        state[node] = 2
        return None

    for start in sorted(graph):
        if start not in state and (found := visit(start, [])):
            return found
    return None


def test_cli_modules_import_each_other_without_cycles():
    graph = _cli_graph()
    assert "optim.cli.jobs" in graph["optim.cli.render_cmd"]  # the graph is really read
    assert _cycle(graph) is None, " -> ".join(_cycle(graph) or [])


def test_cycle_finder_finds_a_cycle():
    assert _cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == ["a", "b", "c", "a"]


def test_cli_builds_no_objective_and_edits_no_result():
    for path in CLI_DIR.glob("*.py"):
        imported = _imports(path)
        assert not any(m == "optim.loss" or m.startswith("optim.loss.") for m in imported), path
        assert not any(m.startswith("optim.rendering.objective") for m in imported), path
        assert "optim.rendering.parse_target" not in imported, path
        assert ".settings[" not in path.read_text(encoding="utf-8"), path


def test_the_parser_starts_without_importing_torch():
    """`optim --version` and `optim plugins` stay instant: torch loads only for a job."""
    import subprocess
    import sys

    probe = "import sys, optim.cli; optim.cli.build_parser(); print('torch' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"
