"""Character machinery: legacy code pages, 外字 tables, standard-character checks.

The code-page names below are re-exported lazily (PEP 562): ``import ikou.moji`` stays cheap and
numpy and the tables load only when a name is first used, e.g. ``ikou.moji.get_codepage("930")``.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

_CODEPAGE_NAMES = (
    "UNDEFINED",
    "SEQUENCE",
    "CodePage",
    "UndecodableBytes",
    "UnencodableCharacter",
    "get_codepage",
)

__all__ = list(_CODEPAGE_NAMES)

if TYPE_CHECKING:  # pragma: no cover
    from ikou.moji.codepages import (  # noqa: F401
        SEQUENCE,
        UNDEFINED,
        CodePage,
        UndecodableBytes,
        UnencodableCharacter,
        get_codepage,
    )


def __getattr__(name: str) -> Any:
    if name in _CODEPAGE_NAMES:
        return getattr(importlib.import_module("ikou.moji.codepages"), name)
    raise AttributeError(f"module 'ikou.moji' has no attribute {name!r}")
