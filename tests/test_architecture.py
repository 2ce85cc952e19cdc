"""Imports flow one way, modules import no circle, and modules stay small.

Every module of the packages is parsed with `ast` (nothing is imported), and every import
counts, also one inside a function (a lazy import still ties the two modules together).
Layers, lowest first: ``voc`` (records, settings, the stage contract) ← the libraries
``nlp``, ``scrapers``, ``warehouse``, ``notify`` ← ``signals`` (themes, spikes and alerts
over the warehouse) ← ``flows`` (orchestration, the only importer of prefect) ← the
applications ``cli`` and ``dashboard`` (which reads warehouse data through ``warehouse``).
"""

from __future__ import annotations

import ast
from collections.abc import Iterable, Mapping
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent

#: First-party packages each package may import (besides itself). `benchmarks` and `tests`
#: sit outside the layers: like tests, a benchmark may import anything.
ALLOWED_IMPORTS: dict[str, frozenset[str]] = {
    "voc": frozenset(),
    # Scrapers clean text with nlp.normalize; nlp never imports scrapers.
    "scrapers": frozenset({"voc", "nlp"}),
    "nlp": frozenset({"voc"}),
    "warehouse": frozenset({"voc"}),
    "notify": frozenset({"voc"}),
    "demo": frozenset({"voc"}),
    "signals": frozenset({"voc", "nlp", "warehouse", "notify"}),
    "flows": frozenset({"voc", "nlp", "scrapers", "warehouse", "notify", "signals"}),
    "cli": frozenset({"voc", "nlp", "scrapers", "warehouse", "notify", "flows", "demo"}),
    "dashboard": frozenset({"voc", "nlp", "warehouse"}),
}
LAYERED = tuple(ALLOWED_IMPORTS)
FIRST_PARTY = (*LAYERED, "benchmarks")

#: Third-party frameworks and the only packages that may import them.
FRAMEWORK_OWNERS: dict[str, frozenset[str]] = {
    "prefect": frozenset({"flows"}),
    # The Dask runner of the enrichment stages (flows/dask_stages.py) is orchestration too.
    "prefect_dask": frozenset({"flows"}),
    "distributed": frozenset({"flows"}),
    "dask": frozenset({"flows"}),
    "streamlit": frozenset({"dashboard"}),
    "scrapy": frozenset({"scrapers"}),
    # Everyone else reads and writes the warehouse through warehouse/ functions.
    "duckdb": frozenset({"warehouse"}),
}

#: Imports from a layer above that are tolerated for now, as (importer, imported module);
#: none since the stage contract. An entry that no longer happens fails
#: `test_allow_lists_hold_only_what_still_happens`, so this only shrinks.
KNOWN_LAYER_VIOLATIONS: frozenset[tuple[str, str]] = frozenset()

MAX_LINES = 500
#: Generated or data files allowed to be longer (none today).
LONG_DATA_FILES: frozenset[str] = frozenset()
#: Modules tolerated above `MAX_LINES` for now (none); same rule: an entry that is no
#: longer too long fails, so this only shrinks.
KNOWN_LONG_MODULES: frozenset[str] = frozenset()


def module_name(path: Path, root: Path = ROOT) -> str:
    """``warehouse/pages.py`` → ``warehouse.pages``; a package's ``__init__`` → the package."""
    parts = list(path.relative_to(root).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def find_modules(root: Path, packages: Iterable[str]) -> dict[str, Path]:
    """Module name → file for every ``.py`` file under the packages."""
    found = {}
    for package in packages:
        for path in sorted((root / package).rglob("*.py")):
            found[module_name(path, root)] = path
    return found


def imported_names(name: str, path: Path) -> set[str]:
    """Every dotted name a module imports anywhere in it (``from a import b`` gives ``a``
    and ``a.b``), relative imports resolved."""
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    out: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            out.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")[: len(package.split(".")) - node.level + 1]
                module = ".".join([*base, *([node.module] if node.module else [])])
            else:
                module = node.module or ""
            out.add(module)
            out.update(f"{module}.{alias.name}" for alias in node.names)
    return out


def import_graph(modules: Mapping[str, Path]) -> dict[str, set[str]]:
    """Module → the first-party modules it imports (a name resolves to the longest module
    prefix; a package whose submodule is imported too is left out: ``from warehouse import
    pages`` is an edge to ``warehouse.pages``)."""
    graph: dict[str, set[str]] = {}
    for name, path in modules.items():
        targets = set()
        for imported in imported_names(name, path):
            parts = imported.split(".")
            for end in range(len(parts), 0, -1):
                candidate = ".".join(parts[:end])
                if candidate in modules:
                    if candidate != name:
                        targets.add(candidate)
                    break
        graph[name] = {t for t in targets if not any(o.startswith(t + ".") for o in targets)}
    return graph


def import_cycles(graph: Mapping[str, set[str]]) -> list[list[str]]:
    """Strongly connected components of more than one module (Tarjan), each sorted."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    cycles: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for nxt in graph.get(node, ()):
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
                cycles.append(sorted(component))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return sorted(cycles)


def layer_violations(modules: Mapping[str, Path]) -> set[tuple[str, str]]:
    """(importer, imported) pairs that break `ALLOWED_IMPORTS`, `FRAMEWORK_OWNERS`, or the
    rule that serving code in nlp/ never imports ``nlp.training``."""
    graph = import_graph(modules)
    found = set()
    for name, targets in graph.items():
        package = name.split(".")[0]
        if package not in ALLOWED_IMPORTS:
            continue
        for target in targets:
            other = target.split(".")[0]
            if other != package and other not in ALLOWED_IMPORTS[package]:
                found.add((name, target))
            serving = package == "nlp" and not name.startswith("nlp.training")
            if serving and target.startswith("nlp.training"):
                found.add((name, target))
        for imported in imported_names(name, modules[name]):
            top = imported.split(".")[0]
            if top in FRAMEWORK_OWNERS and package not in FRAMEWORK_OWNERS[top]:
                found.add((name, top))
    return found


@pytest.fixture(scope="module")
def modules() -> dict[str, Path]:
    return find_modules(ROOT, FIRST_PARTY)


def test_imports_flow_one_way(modules: dict[str, Path]) -> None:
    unexpected = sorted(layer_violations(modules) - KNOWN_LAYER_VIOLATIONS)
    assert unexpected == [], "imports from a layer above (importer, imported):\n" + "\n".join(
        f"  {a} -> {b}" for a, b in unexpected
    )


def test_no_module_imports_a_circle(modules: dict[str, Path]) -> None:
    cycles = import_cycles(import_graph(modules))
    assert cycles == [], "import circles:\n" + "\n".join(f"  {' <-> '.join(c)}" for c in cycles)


def _line_counts() -> dict[str, int]:
    paths = [p for p in ROOT.glob("*.py")] + [
        p for top in (*FIRST_PARTY, "tests", "scripts") for p in (ROOT / top).rglob("*.py")
    ]
    return {
        str(p.relative_to(ROOT)): len(p.read_text(encoding="utf-8").splitlines()) for p in paths
    }


def test_no_module_is_over_500_lines() -> None:
    allowed = LONG_DATA_FILES | KNOWN_LONG_MODULES
    long = sorted(
        f"{path} ({n} lines)"
        for path, n in _line_counts().items()
        if n > MAX_LINES and path not in allowed
    )
    assert long == [], f"modules over {MAX_LINES} lines: split them along a seam\n" + "\n".join(
        long
    )


def test_allow_lists_hold_only_what_still_happens(modules: dict[str, Path]) -> None:
    """Once the stage-contract work lands, its entries must go from the lists."""
    gone = sorted(KNOWN_LAYER_VIOLATIONS - layer_violations(modules))
    counts = _line_counts()
    short = sorted(p for p in KNOWN_LONG_MODULES if counts.get(p, 0) <= MAX_LINES)
    assert (gone, short) == ([], []), "remove these from the allow-lists"


def test_the_checks_see_lazy_imports_relative_imports_and_circles(tmp_path: Path) -> None:
    (tmp_path / "warehouse").mkdir()
    (tmp_path / "nlp").mkdir()
    (tmp_path / "warehouse" / "__init__.py").write_text("")
    (tmp_path / "warehouse" / "a.py").write_text("from . import b\n")
    (tmp_path / "warehouse" / "b.py").write_text(
        "def f():\n    from warehouse.a import g\n    import prefect\n"
    )
    (tmp_path / "nlp" / "c.py").write_text("import duckdb\nfrom warehouse import b\n")
    (tmp_path / "nlp" / "d.py").write_text("from nlp.training.x import y\n")
    (tmp_path / "nlp" / "training").mkdir()
    (tmp_path / "nlp" / "training" / "x.py").write_text("from nlp import c\n")
    found = find_modules(tmp_path, ("warehouse", "nlp"))
    assert import_cycles(import_graph(found)) == [["warehouse.a", "warehouse.b"]]
    assert layer_violations(found) == {
        ("warehouse.b", "prefect"),
        ("nlp.c", "duckdb"),
        ("nlp.c", "warehouse.b"),
        ("nlp.d", "nlp.training.x"),
    }
