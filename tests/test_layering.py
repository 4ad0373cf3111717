"""The house rules, checked: layers import downward only, and nothing imports in a circle.

core → storage → runtime → web / cli → app.py. ``helpers/config.py`` (deploy-time settings) may be read by any
layer; ``core/`` reads nothing but itself. The edge node (``helpers/edge/``) is a program of its own: it uses
core's line and formats parts only — no database, no torch.
"""
from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
HELPERS = ROOT / "helpers"

# Each layer, and the imports (prefixes) it must never make.
FORBIDDEN = {
    "helpers.core": ("flask", "sqlalchemy", "flask_sqlalchemy", "helpers.storage", "helpers.runtime",
                     "helpers.web", "helpers.cli", "helpers.edge", "helpers.config"),
    "helpers.storage": ("helpers.runtime", "helpers.web", "helpers.cli", "helpers.edge"),
    "helpers.runtime": ("helpers.web", "helpers.cli", "helpers.edge"),
    "helpers.web": ("helpers.cli", "helpers.edge"),
    "helpers.cli": ("helpers.web",),
    "helpers.edge": ("torch", "sqlalchemy", "flask_sqlalchemy", "helpers.storage", "helpers.runtime",
                     "helpers.web", "helpers.cli", "helpers.core.lstm", "helpers.core.detectors",
                     "helpers.core.evaluation"),
}


def module_name(path: Path) -> str:
    parts = path.relative_to(ROOT).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def imports_of(path: Path) -> list[tuple[int, str]]:
    """Every module ``path`` imports, at any depth of the file (a function's import counts too)."""
    found = []
    name = module_name(path) if path.is_relative_to(ROOT) else path.stem
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            found += [(node.lineno, alias.name) for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                base = ".".join(package.split(".")[: len(package.split(".")) - node.level + 1] + ([base] if base else []))
            found.append((node.lineno, base))
            # `from package import module` imports that module
            found += [(node.lineno, f"{base}.{alias.name}") for alias in node.names]
    return found


MODULES = {module_name(p): p for p in sorted(HELPERS.rglob("*.py"))}


def violations(layer: str, banned: tuple[str, ...]) -> list[str]:
    found = []
    for name, path in MODULES.items():
        if name != layer and not name.startswith(layer + "."):
            continue
        for line, imported in imports_of(path):
            if any(imported == b or imported.startswith(b + ".") for b in banned):
                found.append(f"{path.relative_to(ROOT)}:{line} imports {imported}")
    return sorted(set(found))


@pytest.mark.parametrize("layer", sorted(FORBIDDEN))
def test_each_layer_imports_downward_only(layer):
    assert violations(layer, FORBIDDEN[layer]) == []


def test_the_check_sees_a_violation(tmp_path):
    """The checker itself: an upward import in a file is reported with its line."""
    bad = tmp_path / "bad.py"
    bad.write_text("import os\n\ndef f():\n    from helpers.web import pages\n")
    assert (4, "helpers.web") in imports_of(bad) and (4, "helpers.web.pages") in imports_of(bad)


def graph() -> dict[str, set[str]]:
    """Module → the project modules it imports (a package import means its __init__)."""
    edges: dict[str, set[str]] = {}
    for name, path in MODULES.items():
        targets = set()
        for _, imported in imports_of(path):
            if imported in MODULES and imported != name:
                targets.add(imported)
        edges[name] = targets
    return edges


def cycles(edges: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components of more than one module (Tarjan's algorithm)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []
    counter = [0]

    def visit(v: str) -> None:
        index[v] = low[v] = counter[0]
        counter[0] += 1
        stack.append(v)
        on_stack.add(v)
        for w in edges.get(v, ()):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                component.append(w)
                if w == v:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    sys.setrecursionlimit(10_000)
    for v in sorted(edges):
        if v not in index:
            visit(v)
    return found


def test_no_import_cycles():
    # A package's __init__ that re-exports its modules is not a cycle with them: leave package inits out.
    edges = {m: {t for t in ts if not (MODULES[t].name == "__init__.py" and m.startswith(t + "."))}
             for m, ts in graph().items()}
    assert cycles(edges) == []


def test_cycle_finder_finds_one():
    assert cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]


def test_the_edge_program_loads_no_database_and_no_torch():
    """Importing the edge node's program loads neither the database layer nor torch (checked in a fresh interpreter)."""
    probe = ("import sys, helpers.edge.node, helpers.edge.cli; "
             "bad = sorted(m for m in sys.modules if m.split('.')[0] in ('torch', 'sqlalchemy', 'statsmodels') "
             "or m.startswith(('helpers.storage', 'helpers.runtime', 'helpers.web'))); print(bad); sys.exit(bool(bad))")
    result = subprocess.run([sys.executable, "-c", probe], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stdout + result.stderr


def test_every_layer_says_what_it_owns():
    for package in ("core", "storage", "runtime", "web", "cli", "edge"):
        doc = ast.get_docstring(ast.parse((HELPERS / package / "__init__.py").read_text()))
        assert doc and "import" in doc, f"helpers/{package}/__init__.py: say what it owns and must not import"
