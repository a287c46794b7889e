"""The layering is checked, not hoped (docs/architecture.md, pyproject ``[tool.importlinter]``).

* ``lint-imports`` keeps every contract: interfaces (cli, tui) -> capabilities -> core, never
  upwards; a capability uses another only through its ``service`` module, each such use listed;
  the workbench never imports the database driver, litellm or chromadb itself;
* no import cycle anywhere in ``ai_workbench``: neither between two modules nor between two
  sibling packages (``review`` -> ``suggestions`` -> ``review`` through different modules);
* every listed capability -> capability use targets a ``*.service`` module, and every capability
  package on disk is covered by the contracts (a new one cannot slip past them).
"""

from __future__ import annotations

import itertools
import os
import shutil
import subprocess
import sys
import tomllib
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

import grimp
import pytest

from tests.conftest import REPO_ROOT

PACKAGE = "ai_workbench"
#: Interface packages (the top layers); everything else beside ``core`` is a capability.
INTERFACES = ("cli", "tui", "server", "telegram")
KERNEL = "core"


def _contracts() -> dict[str, dict[str, Any]]:
    data = tomllib.loads((REPO_ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    return {c["id"]: c for c in data["tool"]["importlinter"]["contracts"]}


def _lint_imports() -> list[str]:
    script = Path(sys.executable).with_name("lint-imports")
    if script.exists():
        return [str(script)]
    found = shutil.which("lint-imports")
    if found is None:
        pytest.fail("lint-imports is not installed (pip install -c constraints.txt -e '.[test]')")
    return [found]


# --- (a) the import-linter contracts ------------------------------------------------------------


def test_lint_imports_keeps_every_contract(tmp_path: Path) -> None:
    env = dict(os.environ)
    # this checkout's code first, whatever an editable install points at
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(REPO_ROOT), env.get("PYTHONPATH")]))
    result = subprocess.run(
        [*_lint_imports(), "--no-logo", "--cache-dir", str(tmp_path / "cache")],
        cwd=REPO_ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    report = result.stdout + result.stderr
    assert result.returncode == 0, report
    assert f"Contracts: {len(_contracts())} kept, 0 broken." in report, report


# --- (b) no import cycles -----------------------------------------------------------------------


def strongly_connected(nodes: Iterable[str], edges: Mapping[str, Iterable[str]]) -> list[list[str]]:
    """The groups of two or more nodes that reach each other (Tarjan, iterative), sorted."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    groups: list[list[str]] = []
    for root in sorted(nodes):
        if root in index:
            continue
        work: list[tuple[str, Iterable[str]]] = [(root, iter(sorted(edges.get(root, ()))))]
        index[root] = low[root] = len(index)
        stack.append(root)
        on_stack.add(root)
        while work:
            node, targets = work[-1]
            advanced = False
            for target in targets:
                if target not in index:
                    index[target] = low[target] = len(index)
                    stack.append(target)
                    on_stack.add(target)
                    work.append((target, iter(sorted(edges.get(target, ())))))
                    advanced = True
                    break
                if target in on_stack:
                    low[node] = min(low[node], index[target])
            if advanced:
                continue
            work.pop()
            if work:
                parent = work[-1][0]
                low[parent] = min(low[parent], low[node])
            if low[node] == index[node]:
                group = []
                while True:
                    member = stack.pop()
                    on_stack.discard(member)
                    group.append(member)
                    if member == node:
                        break
                if len(group) > 1:
                    groups.append(sorted(group))
    return sorted(groups)


def _module_edges(graph: grimp.ImportGraph) -> dict[str, set[str]]:
    modules = set(graph.modules)
    return {m: set(graph.find_modules_directly_imported_by(m)) & modules for m in modules}


def _owner(module: str, children: Iterable[str]) -> str | None:
    for child in children:
        if module == child or module.startswith(child + "."):
            return child
    return None


def shortest_cycle(group: list[str], edges: Mapping[str, Iterable[str]]) -> list[str]:
    """The shortest cycle through ``group[0]`` inside ``group``: ``[a, b, ..., a]``."""
    start, members = group[0], set(group)
    came_from: dict[str, str] = {}
    frontier = [start]
    while frontier:
        following = []
        for node in frontier:
            for target in sorted(set(edges.get(node, ())) & members):
                if target == start:
                    path = [node]
                    while path[-1] != start:
                        path.append(came_from[path[-1]])
                    return [*reversed(path), start]
                if target not in came_from:
                    came_from[target] = node
                    following.append(target)
        frontier = following
    raise AssertionError(f"{group} is not a cycle")


def import_cycles(graph: grimp.ImportGraph) -> list[str]:
    """Every cycle in ``graph``, one readable line each (the shortest through one of its members):
    between modules, and between sibling packages or modules of any package, where each step
    names one import that makes it."""
    edges = _module_edges(graph)
    found = [
        "modules: " + " -> ".join(shortest_cycle(group, edges))
        for group in strongly_connected(edges, edges)
    ]
    for parent in sorted(graph.modules):
        children = sorted(graph.find_children(parent))
        if len(children) < 2:
            continue
        sibling_edges: dict[str, set[str]] = {child: set() for child in children}
        witness: dict[tuple[str, str], str] = {}
        for module in sorted(edges):
            source = _owner(module, children)
            if source is None:
                continue
            for target in sorted(edges[module]):
                sink = _owner(target, children)
                if sink is not None and sink != source:
                    sibling_edges[source].add(sink)
                    witness.setdefault((source, sink), f"{module} -> {target}")
        for group in strongly_connected(children, sibling_edges):
            cycle = shortest_cycle(group, sibling_edges)
            steps = [f"{a} -> {b} ({witness[a, b]})" for a, b in itertools.pairwise(cycle)]
            found.append(f"packages in {parent}: " + "; ".join(steps))
    return found


def test_the_package_has_no_import_cycle() -> None:
    """Type-only imports (``if TYPE_CHECKING:``) are not followed: they never run."""
    graph = grimp.build_graph(PACKAGE, exclude_type_checking_imports=True, cache_dir=None)
    assert f"{PACKAGE}.core.settings" in graph.modules  # the graph is the real package
    cycles = import_cycles(graph)
    assert not cycles, "import cycles:\n" + "\n".join(cycles)


def test_the_cycle_finder_reports_module_and_package_cycles() -> None:
    graph = grimp.ImportGraph()
    for module in ("app", "app.a", "app.a.x", "app.b", "app.b.y", "app.b.z", "app.c"):
        graph.add_module(module)
    graph.add_import(importer="app.a.x", imported="app.b.y")
    graph.add_import(importer="app.b.z", imported="app.a")  # a -> b -> a, no module cycle
    graph.add_import(importer="app.c", imported="app.b.y")
    assert import_cycles(graph) == [
        "packages in app: app.a -> app.b (app.a.x -> app.b.y); app.b -> app.a (app.b.z -> app.a)"
    ]
    graph.add_import(importer="app.a", imported="app.b.z")
    assert "modules: app.a -> app.b.z -> app.a" in import_cycles(graph)


# --- (c) each capability -> capability use is a service call, and every package is covered -----


def _packages() -> list[str]:
    root = REPO_ROOT / PACKAGE
    return sorted(p.name for p in root.iterdir() if (p / "__init__.py").is_file())


def test_every_allowed_capability_use_targets_a_service_module() -> None:
    contract = _contracts()["services"]
    capabilities = contract["modules"]
    entries = contract.get("ignore_imports", [])
    assert entries, "the services contract lists no allowed use"
    for entry in entries:
        importer, _, imported = (part.strip() for part in entry.partition("->"))
        assert imported.rsplit(".", 1)[-1] == "service", (
            f"ignore_imports: {entry!r} must target a capability's .service module"
        )
        source = _owner(importer, capabilities)
        sink = _owner(imported, capabilities)
        assert source and sink and source != sink, (
            f"ignore_imports: {entry!r} is not a use of one capability by another"
        )


def test_every_package_is_in_the_contracts() -> None:
    contracts = _contracts()
    layers = [layer.replace("|", ":").split(":") for layer in contracts["layers"]["layers"]]
    layered = {name.strip() for layer in layers for name in layer}
    capabilities = set(contracts["services"]["modules"])
    for name in _packages():
        module = f"{PACKAGE}.{name}"
        assert module in layered, f"{module} is in no layer of the 'layers' contract"
        if name not in (*INTERFACES, KERNEL):
            assert module in capabilities, (
                f"capability {module} is missing from the 'services' contract's modules"
            )
    assert f"{PACKAGE}.{KERNEL}" in {name.strip() for name in layers[-1]}, (
        "core is not at the bottom"
    )
