"""`ikou copybook layout`: a copybook's record layout as the engine computes it — every item's
level, name, offset, size, type and picture — for the engineer who must find an RDW convention,
an offset or a REDEFINES before the first decode (the same numbers the decoder uses, so a layout
that looks wrong here decodes wrong)."""

from __future__ import annotations

from ikou.mainframe.copybook import Copybook


def layout_rows(copybook: Copybook) -> list[dict]:
    """One row per item of every 01 record, in copybook order (groups included)."""
    rows = []
    for record in copybook.records:
        for item in record.walk():
            occurs = None
            if item.occurs_max:
                occurs = {
                    "min": item.occurs_min if item.occurs_min is not None else item.occurs_max,
                    "max": item.occurs_max,
                    "depends_on": item.depends_on,
                }
            rows.append(
                {
                    "record": record.name,
                    "level": item.level,
                    "name": "FILLER" if item.filler else item.name,
                    "path": [a.name for a in item.ancestors()],
                    "offset": item.offset,  # 0-based, from the record's first byte
                    "position": item.offset + 1,  # 1-based, as COBOL listings count
                    "size": item.size,
                    "total_size": item.total_size,
                    "type": "group" if item.is_group else item.kind,
                    "usage": item.eff_usage,
                    "picture": item.pic,
                    "digits": item.digits or None,
                    "scale": item.scale or None,
                    "signed": item.signed or None,
                    "occurs": occurs,
                    "redefines": item.redefines,
                    "line": item.line,
                }
            )
    return rows


def render_layout(copybook: Copybook, rows: list[dict]) -> str:
    """The rows as a fixed-width table (positions 1-based, sizes in bytes)."""
    head = (
        f"{'level / name':<40} {'pos':>6} {'size':>6} {'end':>6}  {'type':<13} "
        f"{'picture':<18} notes"
    )
    out = [f"{copybook.source}: {len(copybook.records)} record(s), LRECL {copybook.lrecl}", head]
    out.append("-" * len(head))
    for r in rows:
        indent = "  " * len(r["path"])
        label = f"{indent}{r['level']:02d} {r['name']}"
        notes = []
        if r["occurs"]:
            o = r["occurs"]
            notes.append(
                f"OCCURS {o['min']} TO {o['max']}"
                + (f" DEPENDING ON {o['depends_on']}" if o["depends_on"] else "")
                if o["min"] != o["max"] or o["depends_on"]
                else f"OCCURS {o['max']}"
            )
        if r["redefines"] and r["level"] != 1:
            notes.append(f"REDEFINES {r['redefines']}")
        if r["usage"] not in ("display", None) and r["type"] != "group":
            notes.append(r["usage"].upper())
        end = r["position"] + r["total_size"] - 1
        out.append(
            f"{label:<40} {r['position']:>6} {r['size']:>6} {end:>6}  {r['type']:<13} "
            f"{r['picture'] or '':<18} {'; '.join(notes)}".rstrip()
        )
    return "\n".join(out) + "\n"
