"""Make (and prove) an image's Python environment exactly the lock ``requirements.txt``.

The base image (apache/airflow) ships Airflow with many providers and their dependencies. Ikou's
lock is complete (every transitive package pinned), so the image installs it with ``--no-deps``
and then removes whatever the base image had that the lock does not name: the environment the
workers run is the one ``make test`` tested, not the lock plus leftovers.

    python docker/lock.py prune requirements.txt   # uninstall distributions the lock does not name
    python docker/lock.py check requirements.txt   # fail unless every pin is installed exactly,
                                                   # and nothing else is (except KEEP)

Only the standard library: it runs before anything of Ikou is installed.
"""

from __future__ import annotations

import argparse
import importlib.metadata as md
import re
import subprocess
import sys

#: Installed but not in the lock, on purpose: the installers and Ikou itself.
KEEP = {"pip", "uv", "ikou"}

_PIN = re.compile(r"^([A-Za-z0-9][A-Za-z0-9._-]*)(?:\[[^\]]*\])?==([^\s;#]+)")


def canonical(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def read_lock(path: str) -> dict[str, str]:
    pins: dict[str, str] = {}
    with open(path, encoding="utf-8") as fh:
        for n, line in enumerate(fh, 1):
            line = line.strip()
            if not line or line.startswith("#"):
                continue
            if ";" in line:
                raise SystemExit(
                    f"{path}:{n}: environment markers are not supported here (the image "
                    f"is Linux only; compile the lock for it): {line!r}"
                )
            m = _PIN.match(line)
            if not m:
                raise SystemExit(f"{path}:{n}: not a pin (name==version): {line!r}")
            pins[canonical(m.group(1))] = m.group(2)
    if not pins:
        raise SystemExit(f"{path}: no pins")
    return pins


def installed() -> dict[str, str]:
    found: dict[str, str] = {}
    for dist in md.distributions():
        name = dist.metadata["Name"]
        if name:
            found.setdefault(canonical(name), dist.version)
    return found


def extras(pins: dict[str, str], have: dict[str, str]) -> list[str]:
    return sorted(n for n in have if n not in pins and n not in KEEP)


def check(pins: dict[str, str], have: dict[str, str]) -> list[str]:
    problems = []
    for name, version in sorted(pins.items()):
        if name not in have:
            problems.append(f"missing: {name}=={version}")
        elif have[name] != version:
            problems.append(f"wrong version: {name} {have[name]} (lock: {version})")
    problems += [f"not in the lock: {n}=={have[n]}" for n in extras(pins, have)]
    return problems


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("action", choices=["check", "prune"])
    p.add_argument("lock")
    p.add_argument("--dry-run", action="store_true", help="prune: only list what would go")
    a = p.parse_args(argv)
    pins = read_lock(a.lock)
    if a.action == "prune":
        gone = extras(pins, installed())
        print(f"{len(gone)} distribution(s) not in {a.lock}: {' '.join(gone) or '-'}")
        if gone and not a.dry_run:
            subprocess.run([sys.executable, "-m", "pip", "uninstall", "--yes", *gone], check=True)
        return 0
    problems = check(pins, installed())
    for line in problems:
        print(line, file=sys.stderr)
    if problems:
        print(f"the environment is not {a.lock}: {len(problems)} difference(s)", file=sys.stderr)
        return 1
    print(f"the environment is exactly {a.lock} ({len(pins)} pins) plus {', '.join(sorted(KEEP))}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
