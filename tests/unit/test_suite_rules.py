"""The test suite keeps its own rules (issue 10), checked on its source:

- every test asserts something: an ``assert``, ``pytest.raises``/``fail``, or a call of a function
  (of any file under tests/, matched by name) that does — property tests (hypothesis ``@given``)
  included;
- every subprocess a test starts or reads has a timeout (``subprocess.run`` & co. with
  ``timeout=``, ``communicate``/``wait`` with a timeout);
- no test skips by itself: a missing service, tool or data goes through tests/prerequisites.py
  (``need`` / ``require``), which fails under IKOU_STRICT=1 instead of skipping.
"""

from __future__ import annotations

import ast
from pathlib import Path

TESTS = Path(__file__).resolve().parents[1]
#: the deliberate skip of the strict-mode proof (a plain skip that strict mode must turn into a failure)
SKIP_ALLOWED = {("test_prerequisites.py", "skipif"), ("prerequisites.py", "skip")}
SUBPROCESS_CALLS = {"run", "check_output", "check_call", "call"}


def _files() -> list[Path]:
    return sorted(p for p in TESTS.rglob("*.py") if "__pycache__" not in p.parts)


def _name(call: ast.Call) -> tuple[str, str]:
    f = call.func
    if isinstance(f, ast.Attribute):
        base = f.value.id if isinstance(f.value, ast.Name) else ""
        return base, f.attr
    return "", getattr(f, "id", "")


def _asserting_functions(trees: dict[Path, ast.Module]) -> set[str]:
    """Names of the functions (of any test module or helper) that assert, directly or through
    another such function: a fixed point over the calls by name."""
    bodies: dict[str, list[ast.AST]] = {}
    for tree in trees.values():
        for node in ast.walk(tree):
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
                bodies.setdefault(node.name, []).append(node)
    asserting: set[str] = set()
    changed = True
    while changed:
        changed = False
        for name, nodes in bodies.items():
            if name in asserting:
                continue
            if any(_asserts(n, asserting) for n in nodes):
                asserting.add(name)
                changed = True
    return asserting


def _asserts(fn: ast.AST, asserting: set[str]) -> bool:
    for node in ast.walk(fn):
        if isinstance(node, ast.Assert):
            return True
        if isinstance(node, ast.Raise):
            return True  # raises AssertionError / a failure of its own
        if isinstance(node, ast.Call):
            base, name = _name(node)
            if base == "pytest" and name in ("raises", "fail", "warns"):
                return True
            if name in asserting:
                return True
    return False


def _trees() -> dict[Path, ast.Module]:
    return {p: ast.parse(p.read_text(encoding="utf-8"), str(p)) for p in _files()}


def test_every_test_asserts_something():
    trees = _trees()
    asserting = _asserting_functions(trees)
    silent = []
    for path, tree in trees.items():
        if not path.name.startswith("test_"):
            continue
        for node in tree.body:
            fns = [node] if isinstance(node, ast.FunctionDef) else []
            if isinstance(node, ast.ClassDef):
                fns = [n for n in node.body if isinstance(n, ast.FunctionDef)]
            for fn in fns:
                if fn.name.startswith("test") and fn.name not in asserting:
                    silent.append(f"{path.relative_to(TESTS)}:{fn.lineno} {fn.name}")
    assert not silent, "tests that assert nothing:\n" + "\n".join(silent)


def test_every_subprocess_has_a_timeout():
    missing = []
    for path, tree in _trees().items():
        for node in ast.walk(tree):
            if not isinstance(node, ast.Call):
                continue
            base, name = _name(node)
            keywords = {k.arg for k in node.keywords}
            if base == "subprocess" and name in SUBPROCESS_CALLS and "timeout" not in keywords:
                missing.append(f"{path.relative_to(TESTS)}:{node.lineno} subprocess.{name}")
            if name in ("communicate", "wait") and not node.args and "timeout" not in keywords:
                missing.append(f"{path.relative_to(TESTS)}:{node.lineno} .{name}()")
    assert not missing, "subprocess calls without a timeout:\n" + "\n".join(missing)


def test_no_test_skips_by_itself():
    skips = []
    for path, tree in _trees().items():
        for node in ast.walk(tree):
            if isinstance(node, ast.Call | ast.Attribute):
                target = node.func if isinstance(node, ast.Call) else node
                if (
                    isinstance(target, ast.Attribute)
                    and target.attr in ("skip", "skipif", "importorskip")
                    and (path.name, target.attr) not in SKIP_ALLOWED
                    and ast.unparse(target).startswith("pytest.")
                ):
                    skips.append(f"{path.relative_to(TESTS)}:{node.lineno} {ast.unparse(target)}")
    assert not skips, (
        "skips outside tests/prerequisites.py (use need()/require(): strict mode fails them):\n"
        + "\n".join(sorted(set(skips)))
    )


def test_the_rules_would_catch_a_breach(tmp_path):
    """The checks above find what they look for (a file with one breach of each)."""
    src = (
        "import subprocess, pytest\n"
        "from hypothesis import given, strategies as st\n"
        "@given(st.integers())\n"
        "def test_silent(x):\n"
        "    int(x)\n"
        "def test_reads(tmp_path):\n"
        "    subprocess.run(['true'])\n"
        "    pytest.skip('no service')\n"
        "    assert True\n"
    )
    tree = ast.parse(src)
    asserting = _asserting_functions({tmp_path / "test_x.py": tree})
    assert "test_silent" not in asserting and "test_reads" in asserting
    calls = [_name(n) for n in ast.walk(tree) if isinstance(n, ast.Call)]
    assert ("subprocess", "run") in calls and ("pytest", "skip") in calls
