"""The import graph: light entry points and no cycles.

``import core.config`` (the CLI's options, the add-on's properties) and enabling the add-on run
in Blender's own process or before any video is read, so they must not import PyAV, OpenCV or
matplotlib; each check runs in a fresh interpreter with those packages blocked.
"""

from __future__ import annotations

import ast
import importlib.util
import json
import subprocess
import sys
import textwrap
from collections.abc import Iterator
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
HEAVY = ("av", "cv2", "matplotlib")

#: Prepended to each probe: a meta-path finder that refuses the heavy packages, so importing
#: one fails loudly instead of passing unnoticed.
BLOCKER = textwrap.dedent(
    f"""
    import sys

    class Blocked:
        def find_spec(self, name, path=None, target=None):
            if name.split(".")[0] in {HEAVY!r}:
                raise ImportError(f"blocked by the test: {{name}}")
            return None

    sys.meta_path.insert(0, Blocked())
    """
)


def run_blocked(code: str) -> dict[str, object]:
    """Run ``code`` (which prints one JSON line last) with the heavy packages blocked."""
    result = subprocess.run(
        [sys.executable, "-c", BLOCKER + textwrap.dedent(code)],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout.strip().splitlines()[-1])


@pytest.mark.parametrize("module", ["core.config", "core.cli", "core.pipeline", "core.timeline"])
def test_light_modules_import_with_av_cv2_and_matplotlib_blocked(module: str) -> None:
    loaded = run_blocked(
        f"""
        import importlib, json, sys
        importlib.import_module({module!r})
        print(json.dumps({{"heavy": [m for m in {HEAVY!r} if m in sys.modules]}}))
        """
    )
    assert loaded == {"heavy": []}


@pytest.mark.skipif(importlib.util.find_spec("bpy") is None, reason="needs the bpy module")
def test_enabling_the_addon_imports_no_heavy_package_and_reports_them_missing() -> None:
    loaded = run_blocked(
        """
        import json, os, sys
        import bpy, addon_utils
        addon_utils.enable("blender_addon", default_set=True)
        from blender_addon import engine
        print(json.dumps({
            "enabled": "blender_addon" in bpy.context.preferences.addons,
            "missing": engine.missing_dependencies(),
        }), flush=True)
        os._exit(0)  # leave bpy's exit handlers out of the measurement
        """
    )
    assert loaded == {"enabled": True, "missing": ["cv2", "av"]}


# --- no import cycles in core/ ---------------------------------------------------------------

CORE = REPO / "core"
#: Import cycles still being broken elsewhere; each entry names its issue. Remove an entry as
#: soon as its cycle is gone (the test fails on a listed pair that no longer cycles too).
KNOWN_CYCLES: set[frozenset[str]] = set()


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(REPO).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _is_type_checking(test: ast.expr) -> bool:
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"
    )


def _module_level(body: list[ast.stmt]) -> Iterator[ast.Import | ast.ImportFrom]:
    """Imports that run when the module is imported: not in functions, classes or
    ``if TYPE_CHECKING:`` blocks."""
    for node in body:
        if isinstance(node, ast.Import | ast.ImportFrom):
            yield node
        elif isinstance(node, ast.If):
            if not _is_type_checking(node.test):
                yield from _module_level(node.body)
            yield from _module_level(node.orelse)
        elif isinstance(node, ast.Try):
            for block in (node.body, node.orelse, node.finalbody, *(h.body for h in node.handlers)):
                yield from _module_level(block)
        elif isinstance(node, ast.With):
            yield from _module_level(node.body)


def core_import_graph() -> dict[str, set[str]]:
    """Module -> the ``core`` modules (and their packages) it imports at module level."""
    paths = {_module_name(p): p for p in CORE.rglob("*.py")}
    graph: dict[str, set[str]] = {}
    for name, path in paths.items():
        package = name if path.name == "__init__.py" else name.rpartition(".")[0]
        targets: set[str] = set()
        for node in _module_level(ast.parse(path.read_text(encoding="utf-8")).body):
            if isinstance(node, ast.Import):
                bases = [alias.name for alias in node.names]
                names: list[str] = []
            else:
                if node.level:
                    anchor = package.split(".")[: len(package.split(".")) - node.level + 1]
                    base = ".".join([*anchor, *([node.module] if node.module else [])])
                else:
                    base = node.module or ""
                bases, names = [base], [alias.name for alias in node.names]
            for base in bases:
                for candidate in (base, *(f"{base}.{n}" for n in names)):
                    if candidate in paths:
                        parts = candidate.split(".")
                        # Importing a.b.c runs a/__init__ and a/b/__init__ first.
                        targets.update(".".join(parts[:i]) for i in range(1, len(parts) + 1))
        targets &= paths.keys()
        targets.discard(name)
        graph[name] = targets
    return graph


def import_cycles(graph: dict[str, set[str]]) -> list[set[str]]:
    """Strongly connected components with more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    cycles: list[set[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for target in sorted(graph.get(node, ())):
            if target not in index:
                visit(target)
                low[node] = min(low[node], low[target])
            elif target in on_stack:
                low[node] = min(low[node], index[target])
        if low[node] == index[node]:
            component = set()
            while True:
                member = stack.pop()
                on_stack.discard(member)
                component.add(member)
                if member == node:
                    break
            if len(component) > 1:
                cycles.append(component)

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return cycles


def test_the_cycle_finder_sees_a_cycle() -> None:
    graph = {"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}
    assert import_cycles(graph) == [{"a", "b", "c"}]


def test_core_has_no_import_cycle_at_module_level() -> None:
    graph = core_import_graph()
    assert "core.config" in graph["core.cli_options"]  # the graph is read, not empty
    cycles = [frozenset(c) for c in import_cycles(graph)]
    assert [set(c) for c in cycles if c not in KNOWN_CYCLES] == []
    gone = KNOWN_CYCLES - set(cycles)
    assert not gone, f"these cycles are gone; remove them from KNOWN_CYCLES: {gone}"


# --- test modules share helpers, never each other ---------------------------------------------

#: Test modules that still import another test module, in files other sessions were editing when
#: this check came (issue 21): move the shared helper (e.g. ``write_synthetic_folder``,
#: ``random_model``, ``TINY``) into a ``tests/`` helper module, then drop the entry.
KNOWN_TEST_IMPORTS = {
    ("test_rbm_blender", "test_rbm"),
    ("test_rbm_compose", "test_rbm"),
    ("test_rbm_train", "test_rbm"),
    ("test_reliability_training", "test_rbm"),
    ("test_reliability_training", "test_rbm_train"),
}


def imports_between_test_modules() -> list[tuple[str, str]]:
    """(importer, imported) for every test module that imports another test module."""
    found = []
    for path in sorted((REPO / "tests").glob("test_*.py")):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.ImportFrom) and node.module:
                names = [node.module, *(f"{node.module}.{a.name}" for a in node.names)]
            elif isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            else:
                continue
            for name in names:
                last = name.rpartition(".")[2]
                if name.startswith("tests.") and last.startswith("test_") and last != path.stem:
                    found.append((path.stem, last))
    return sorted(set(found))


def test_no_test_module_imports_another() -> None:
    # Known entries may go at any time (their owners are moving the helpers): only new ones fail.
    assert set(imports_between_test_modules()) - KNOWN_TEST_IMPORTS == set()
