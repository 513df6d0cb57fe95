"""Small helpers shared by the tests (importable: pytest puts tests/ on sys.path)."""

from __future__ import annotations

import socket


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def plain(value):
    """An XCom value as stored by Airflow's serde, with its class wrappers removed: a
    StageResult (or a list of them) becomes the plain dicts and lists of its fields."""
    if isinstance(value, dict):
        if "__data__" in value and "__classname__" in value:
            return plain(value["__data__"])
        return {k: plain(v) for k, v in value.items()}
    if isinstance(value, list):
        return [plain(v) for v in value]
    return value
