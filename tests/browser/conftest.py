"""Fixtures of the browser tests: Debian's chromium driven by Playwright (never a downloaded
browser), the embedded stack after its master run, and a logged-in browser context that lets
only requests to the stack (127.0.0.1) through.

A missing chromium or Playwright fails the tests that need them: they never skip (``make deps``
installs chromium)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from prerequisites import chromium_path, require

CHROMIUM = chromium_path()  # IKOU_CHROMIUM, default Debian's /usr/bin/chromium
ARGS = [
    "--no-sandbox",
    "--headless",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-quic",
]


@pytest.fixture(scope="session")
def browser():
    require("browser")  # IKOU_STRICT=1: fails instead of skipping
    assert CHROMIUM.exists(), "Debian's chromium is not installed (make deps installs it)"
    from playwright import sync_api

    with sync_api.sync_playwright() as p:
        b = p.chromium.launch(executable_path=str(CHROMIUM), args=ARGS)
        yield b
        b.close()


@pytest.fixture(scope="session")
def stack(ikou_stack):
    assert ikou_stack.proc.returncode == 0, (
        ikou_stack.proc.stdout[-2000:] + ikou_stack.proc.stderr[-2000:]
    )
    ikou_stack.passwords = json.loads(Path(ikou_stack.passwords_file).read_text())
    # who has which role: the stack's own configuration (simple auth manager), never a copy here
    from ikou_dev.localstack_env import USER_ROLES

    assert set(ikou_stack.passwords) == set(USER_ROLES)
    ikou_stack.user_of = {}
    for user, role in USER_ROLES.items():
        ikou_stack.user_of.setdefault(role, user)
    return ikou_stack
