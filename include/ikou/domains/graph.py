"""Small graph helpers for the domain relations (refers_to, cuts_over_after)."""

from __future__ import annotations

from collections.abc import Iterable, Mapping


def find_cycle(edges: Mapping[str, Iterable[str]]) -> list[str] | None:
    """Return one cycle as a path ``[a, b, ..., a]`` or None. ``edges[x]`` are x's prerequisites."""
    white, grey, black = 0, 1, 2
    colour = {n: white for n in edges}
    stack: list[str] = []

    def visit(n: str) -> list[str] | None:
        colour[n] = grey
        stack.append(n)
        for m in edges.get(n, ()):
            if colour.get(m, white) == grey:
                return stack[stack.index(m) :] + [m]
            if colour.get(m, white) == white and m in edges:
                found = visit(m)
                if found:
                    return found
        stack.pop()
        colour[n] = black
        return None

    for n in sorted(edges):
        if colour[n] == white:
            found = visit(n)
            if found:
                return found
    return None


def topological_order(
    edges: Mapping[str, Iterable[str]], nodes: Iterable[str] | None = None
) -> list[str]:
    """Prerequisites first; ties broken by the given node order (stable). Raises on a cycle."""
    order_hint = list(nodes) if nodes is not None else sorted(edges)
    cycle = find_cycle(edges)
    if cycle:
        raise ValueError(f"cycle: {' -> '.join(cycle)}")
    done: set[str] = set()
    out: list[str] = []

    def visit(n: str) -> None:
        if n in done:
            return
        for m in edges.get(n, ()):
            if m in edges:
                visit(m)
        done.add(n)
        out.append(n)

    for n in order_hint:
        visit(n)
    return out


def longest_path(
    edges: Mapping[str, Iterable[str]], weight: Mapping[str, float]
) -> tuple[float, list[str]]:
    """Critical path through a DAG of prerequisites: (total weight, path from first to last)."""
    best: dict[str, tuple[float, list[str]]] = {}
    for n in topological_order(edges):
        prev = [best[m] for m in edges.get(n, ()) if m in best]
        base = max(prev, key=lambda t: t[0]) if prev else (0.0, [])
        best[n] = (base[0] + float(weight.get(n, 0.0)), base[1] + [n])
    if not best:
        return 0.0, []
    return max(best.values(), key=lambda t: t[0])


def dependent_generations(edges: Mapping[str, Iterable[str]]) -> dict[str, int]:
    """For every node, the length of the longest chain of nodes waiting on it: 0 when nothing
    has it as a prerequisite, else 1 + the largest of its dependents'. ``edges[x]`` are x's
    prerequisites; raises on a cycle."""
    dependents: dict[str, list[str]] = {n: [] for n in edges}
    for n, prerequisites in edges.items():
        for m in prerequisites:
            dependents.setdefault(m, []).append(n)
    generations: dict[str, int] = {}
    # dependents first: ordered with the dependents taken as the prerequisites
    for n in topological_order(dependents):
        generations[n] = 1 + max((generations[c] for c in dependents[n]), default=-1)
    return generations
