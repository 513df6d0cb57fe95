"""The library's shape, checked (README, "Architecture"): no module of ``ikou`` or ``ikou_dev``
takes part in an import cycle — imports inside functions included — and no private name (``_x``)
is imported from another module. The layer contracts themselves are `.importlinter`
(``make lint``); the last test runs them too, so a plain ``pytest`` cannot miss a violation."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import grimp

REPO = Path(__file__).resolve().parents[2]
SOURCES = [REPO / "include" / "ikou", REPO / "dev" / "ikou_dev"]


def strongly_connected(graph: dict[str, set[str]]) -> list[list[str]]:
    """Tarjan's algorithm, iterative: the components with more than one module (the cycles)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    on_stack: set[str] = set()
    stack: list[str] = []
    out: list[list[str]] = []
    counter = 0
    for root in graph:
        if root in index:
            continue
        work = [(root, iter(sorted(graph[root])))]
        index[root] = low[root] = counter
        counter += 1
        stack.append(root)
        on_stack.add(root)
        while work:
            node, children = work[-1]
            for child in children:
                if child not in graph:
                    continue
                if child not in index:
                    index[child] = low[child] = counter
                    counter += 1
                    stack.append(child)
                    on_stack.add(child)
                    work.append((child, iter(sorted(graph[child]))))
                    break
                if child in on_stack:
                    low[node] = min(low[node], index[child])
            else:
                work.pop()
                if work:
                    parent = work[-1][0]
                    low[parent] = min(low[parent], low[node])
                if low[node] == index[node]:
                    component = []
                    while True:
                        m = stack.pop()
                        on_stack.discard(m)
                        component.append(m)
                        if m == node:
                            break
                    if len(component) > 1:
                        out.append(sorted(component))
    return out


def test_tarjan_finds_a_cycle_and_only_cycles():
    assert strongly_connected({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]
    assert strongly_connected({"a": {"b"}, "b": set(), "c": {"b"}}) == []


def module_graph() -> dict[str, set[str]]:
    g = grimp.build_graph("ikou", "ikou_dev", exclude_type_checking_imports=True)
    return {
        m: {i for i in g.find_modules_directly_imported_by(m) if i.startswith("ikou")}
        for m in g.modules
    }


def test_no_import_cycle_not_even_inside_functions():
    graph = module_graph()
    assert "ikou.stages.extract" in graph and "ikou_dev.localstack" in graph
    # a package's __init__ re-exporting its modules is not a cycle of meaning; count the
    # module-level edges from a package to its own submodules out, the rest must be acyclic
    for m, deps in graph.items():
        graph[m] = {d for d in deps if not d.startswith(m + ".")}
    cycles = strongly_connected(graph)
    assert cycles == [], "import cycles:\n" + "\n".join(" ↔ ".join(c) for c in cycles)


def module_name(path: Path) -> str:
    for src in SOURCES:
        if path.is_relative_to(src):
            rel = path.relative_to(src.parent).with_suffix("")
            parts = list(rel.parts)
            if parts[-1] == "__init__":
                parts.pop()
            return ".".join(parts)
    raise AssertionError(path)


def private_imports(path: Path) -> list[str]:
    """``from other.module import _name`` (or ``import other._module``) in one source file."""
    me = module_name(path)
    package = me if path.name == "__init__.py" else me.rpartition(".")[0]
    bad = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")
                base = base[: len(base) - (node.level - 1)]
                source = ".".join(base + ([node.module] if node.module else []))
            else:
                source = node.module or ""
            if not source.startswith("ikou") or source == me:
                continue
            for alias in node.names:
                if alias.name.startswith("_") and not alias.name.startswith("__"):
                    bad.append(f"{me}:{node.lineno} imports {alias.name} from {source}")
            if any(p.startswith("_") and not p.startswith("__") for p in source.split(".")):
                bad.append(f"{me}:{node.lineno} imports from private module {source}")
        elif isinstance(node, ast.Import):
            for alias in node.names:
                parts = alias.name.split(".")
                if parts[0].startswith("ikou") and any(
                    p.startswith("_") and not p.startswith("__") for p in parts
                ):
                    bad.append(f"{me}:{node.lineno} imports private module {alias.name}")
    return bad


def test_private_import_detector(tmp_path):
    fake = REPO / "include" / "ikou" / "stages" / "probe_not_a_module.py"
    try:
        fake.write_text("from ikou.quality.gate import _context\nfrom .common import _x\n")
        found = private_imports(fake)
    finally:
        fake.unlink()
    assert len(found) == 2 and "ikou.stages.common" in found[1]


def test_no_private_name_crosses_a_module_boundary():
    bad = [b for src in SOURCES for f in sorted(src.rglob("*.py")) for b in private_imports(f)]
    assert bad == [], "\n".join(bad)


def test_layer_contracts_hold():
    lint_imports = Path(sys.executable).with_name("lint-imports")
    res = subprocess.run(
        [str(lint_imports), str(REPO / ".importlinter")],
        capture_output=True,
        text=True,
        timeout=300,
        cwd=REPO,
    )
    assert res.returncode == 0, res.stdout[-3000:] + res.stderr[-2000:]
    assert "0 broken" in res.stdout
