"""Character machinery: legacy code pages, 外字 tables, standard-character checks.

Only light names are re-exported here; the code-page tables load on first use
(:func:`ikou.moji.codepages.get_codepage`).
"""

from ikou.moji.codepages import (
    UNDEFINED,
    CodePage,
    UndecodableBytes,
    UnencodableCharacter,
    get_codepage,
)

__all__ = ["UNDEFINED", "CodePage", "UndecodableBytes", "UnencodableCharacter", "get_codepage"]
