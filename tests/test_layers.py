"""The package's layers: every import (at the top of a module or inside a function) goes to the
same layer or below, and no modules import each other in a circle.

The pipeline reads bottom to top: shared modules, the catalog, the recommendation, the stack file,
the wiring, the render-time parts of the day-2 packages, the render, the engines, the day-2
commands, the CLI. A module is placed by the longest name in LAYERS that it starts with.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

from tests.conftest import REPO

PACKAGE = REPO / "sovstack"

# Bottom to top. A name covers the module and everything under it; the longest name wins, so
# `sovstack.check.findings` sits low while the rest of `sovstack.check` sits high.
LAYERS: list[tuple[str, tuple[str, ...]]] = [
    ("shared", ("sovstack.errors", "sovstack.paths", "sovstack.layout", "sovstack.needs", "sovstack.yamlio",
                "sovstack.patterns")),
    ("catalog", ("sovstack.catalog",)),
    ("recommend", ("sovstack.recommend",)),
    ("stack", ("sovstack.stack",)),
    ("wiring", ("sovstack.wiring",)),
    ("day-2 render-time", ("sovstack.backup.plan", "sovstack.backup.dumps", "sovstack.update.plan",
                           "sovstack.check.findings")),
    ("render", ("sovstack.render",)),
    ("engines", ("sovstack.engines",)),
    ("day 2", ("sovstack.members", "sovstack.backup", "sovstack.update", "sovstack.check")),
    ("moving in", ("sovstack.migrate",)),
    ("cli", ("sovstack.cli",)),
    ("entry", ("sovstack", "sovstack.__main__")),
]

# What a lower layer may take from the package's own __init__ (which sits at the top but must stay a
# leaf: see test_package_inits_import_nothing_from_the_package).
FROM_PACKAGE_ROOT = {"__version__"}

def module_name(path: Path) -> str:
    parts = list(path.relative_to(REPO).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def source_files() -> list[Path]:
    # templates/ holds .py files that are data for the servers, not modules of the package.
    return sorted(p for p in PACKAGE.rglob("*.py") if "templates" not in p.relative_to(PACKAGE).parts)


MODULES = {module_name(p): p for p in source_files()}


def layer_of(module: str) -> int:
    best, found = -1, None
    for index, (_, names) in enumerate(LAYERS):
        for name in names:
            if (module == name or module.startswith(name + ".")) and len(name) > best:
                best, found = len(name), index
    if found is None:
        raise AssertionError(f"{module}: in no layer: add it to LAYERS in tests/test_layers.py")
    return found


def imports(path: Path) -> list[tuple[int, str, tuple[str, ...]]]:
    """Every `import`/`from … import` of the package in a file, wherever it stands:
    (line, module imported, names taken from it)."""
    package = module_name(path) if path.name == "__init__.py" else module_name(path).rpartition(".")[0]
    found = []
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            found += [(node.lineno, alias.name, ()) for alias in node.names if alias.name.split(".")[0] == "sovstack"]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:  # relative: from the file's own package
                anchor = package.split(".")[:len(package.split(".")) - node.level + 1]
                base = ".".join(anchor + ([base] if base else []))
            if base.split(".")[0] != "sovstack":
                continue
            names = tuple(alias.name for alias in node.names)
            # `from sovstack.backup import plan` imports the module sovstack.backup.plan.
            submodules = [f"{base}.{n}" for n in names if f"{base}.{n}" in MODULES]
            others = tuple(n for n in names if f"{base}.{n}" not in MODULES)
            found += [(node.lineno, m, ()) for m in submodules]
            if others:
                found.append((node.lineno, base, others))
    return found


def edges() -> list[tuple[str, str, str]]:
    """(importer, imported, "file:line") for every import of one package module by another."""
    found = []
    for module, path in MODULES.items():
        for line, target, _ in imports(path):
            if target != module:
                found.append((module, target, f"{path.relative_to(REPO)}:{line}"))
    return found


def upward(edge_list: list[tuple[str, str, str]]) -> list[str]:
    bad = []
    for importer, target, where in edge_list:
        if layer_of(target) > layer_of(importer):
            bad.append(f"{where} → {target} (layer {LAYERS[layer_of(importer)][0]!r} imports "
                       f"{LAYERS[layer_of(target)][0]!r}, above it)")
    return bad


def circles(edge_list: list[tuple[str, str, str]]) -> list[list[str]]:
    """The strongly connected components with more than one module (Tarjan)."""
    graph: dict[str, set[str]] = {m: set() for m in MODULES}
    for importer, target, _ in edge_list:
        graph.setdefault(importer, set()).add(target)
        graph.setdefault(target, set())
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for nxt in sorted(graph[node]):
            if nxt not in index:
                visit(nxt)
                low[node] = min(low[node], low[nxt])
            elif nxt in on_stack:
                low[node] = min(low[node], index[nxt])
        if low[node] == index[node]:
            component = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                component.append(member)
                if member == node:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return found


def test_every_module_has_a_layer():
    for module in MODULES:
        layer_of(module)


def test_imports_go_to_the_same_layer_or_below():
    edge_list = edges()
    # The package root is at the top, but lower layers may read its version (it imports nothing).
    edge_list = [e for e in edge_list if e[1] != "sovstack"]
    bad = upward(edge_list)
    assert not bad, "imports of a higher layer:\n" + "\n".join(bad)


def test_only_the_version_is_taken_from_the_package_root():
    bad = [f"{path.relative_to(REPO)}:{line} → sovstack ({', '.join(names) or 'the whole package'})"
           for module, path in MODULES.items() if module != "sovstack"
           for line, target, names in imports(path) if target == "sovstack" and not set(names) <= FROM_PACKAGE_ROOT]
    assert not bad, "\n".join(bad)


def test_package_inits_import_nothing_from_the_package():
    """A sub-package's __init__ runs before any of its modules: importing it must not drag in a
    higher layer (e.g. check/__init__ importing check.run for check.findings' importers)."""
    bad = [f"{path.relative_to(REPO)}:{line} → {target}" for path in source_files() if path.name == "__init__.py"
           for line, target, _ in imports(path)]
    assert not bad, "\n".join(bad)


def shortest_circle(component: list[str], edge_list: list[tuple[str, str, str]]) -> list[tuple[str, str, str]]:
    """One shortest circle through the component's first module, as its imports (breadth first)."""
    start = component[0]
    inside = [e for e in edge_list if e[0] in component and e[1] in component]
    paths: dict[str, list[tuple[str, str, str]]] = {start: []}
    queue = [start]
    while queue:
        node = queue.pop(0)
        for edge in inside:
            if edge[0] != node:
                continue
            if edge[1] == start:
                return paths[node] + [edge]
            if edge[1] not in paths:
                paths[edge[1]] = paths[node] + [edge]
                queue.append(edge[1])
    return []


def test_no_import_circles():
    edge_list = edges()
    lines = []
    for component in circles(edge_list):
        lines.append("circle among " + ", ".join(component) + ", e.g.:")
        lines += [f"  {where} → {target}" for _, target, where in shortest_circle(component, edge_list)]
    assert not lines, "\n".join(lines)


# The checker itself, on small made-up import lists: each case must be caught (or not).
CASES = [
    # (id, edges, expected upward count, expected circle count)
    ("render imports check", [("sovstack.render.bundle", "sovstack.check.servers")], 1, 0),
    ("engines import render", [("sovstack.engines.apply", "sovstack.render.bundle")], 0, 0),
    ("check.findings is low", [("sovstack.render.bundle", "sovstack.check.findings")], 0, 0),
    ("stack imports cli", [("sovstack.stack.secrets", "sovstack.cli.main")], 1, 0),
    ("circle in one layer", [("sovstack.check.run", "sovstack.check.dns"),
                             ("sovstack.check.dns", "sovstack.check.run")], 0, 1),
]


@pytest.mark.parametrize("name,edge_list,up,circled", CASES, ids=[c[0] for c in CASES])
def test_the_checker_catches_what_it_should(name, edge_list, up, circled):
    with_where = [(i, t, "x.py:1") for i, t in edge_list]
    assert len(upward(with_where)) == up
    assert len(circles(with_where)) == circled


# module (or package) -> sovstack modules and packages it must not import, even lazily inside a function
FORBIDDEN = {
    "stack": ["wiring", "render", "engines", "members", "backup", "update", "check", "cli"],
    "wiring": ["render", "engines", "members", "backup", "update", "check", "cli"],
    # Inside wiring/: model at the bottom; identity, mail and analytics on it; links gathers; wire on top.
    "wiring/model.py": ["wiring.identity", "wiring.mail", "wiring.analytics", "wiring.links", "wiring.wire"],
    "wiring/identity.py": ["wiring.mail", "wiring.analytics", "wiring.links", "wiring.wire"],
    "wiring/mail.py": ["wiring.identity", "wiring.analytics", "wiring.links", "wiring.wire"],
    "wiring/analytics.py": ["wiring.identity", "wiring.mail", "wiring.links", "wiring.wire"],
    "wiring/links.py": ["wiring.wire"],
}


def imported(path) -> set[str]:
    """Every sovstack module a file imports, as dotted names below sovstack ("wiring.mail", "wiring")."""
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("sovstack."):
            base = node.module.removeprefix("sovstack.")
            found.add(base)
            found.update(f"{base}.{alias.name}" for alias in node.names)
        elif isinstance(node, ast.Import):
            found.update(a.name.removeprefix("sovstack.") for a in node.names if a.name.startswith("sovstack."))
    return found


@pytest.mark.parametrize("where", sorted(FORBIDDEN))
def test_imports_go_down_the_layers(where):
    files = sorted((PACKAGE / where).rglob("*.py")) if (PACKAGE / where).is_dir() else [PACKAGE / where]
    assert files
    for path in files:
        for name in imported(path):
            for banned in FORBIDDEN[where]:
                assert name != banned and not name.startswith(banned + "."), f"{path.relative_to(REPO)} imports {name}"
