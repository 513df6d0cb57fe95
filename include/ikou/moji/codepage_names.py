"""The names of the code pages Ikou reads: the one list the registry validates against and the
command line offers (``--encoding``), kept apart from :mod:`ikou.moji.codepages` so that reading it
loads neither numpy nor a table (the registry is read when Airflow parses the DAG files).
"""

from __future__ import annotations

__all__ = [
    "JAPANESE_CODEPAGES",
    "KNOWN_CODEPAGES",
    "OPEN_CODEPAGES",
    "VARIANTS",
    "WESTERN_CODEPAGES",
]

#: Western EBCDIC single-byte code pages (IBM CCSIDs), tables ``sbcsNNN.tsv`` from glibc iconv
WESTERN_CODEPAGES = tuple(
    f"cp{n:03d}"
    for n in (37, 273, 277, 278, 280, 284, 285, 297, 500, 871, 1047, *range(1140, 1150))
)
#: open-system (ASCII-based) encodings, see :mod:`ikou.moji.opensystem`
OPEN_CODEPAGES = ("ascii", "latin1", "utf-8", "cp932", "euc-jp")
JAPANESE_CODEPAGES = ("cp930", "cp939", "cp1390", "cp1399", "jef", "keis", "jips")
#: every code page: the registry's ``legacy_files[].encoding`` and the CLI's ``--encoding`` choices
KNOWN_CODEPAGES = JAPANESE_CODEPAGES + WESTERN_CODEPAGES + OPEN_CODEPAGES
VARIANTS = ("jis", "jdk")
