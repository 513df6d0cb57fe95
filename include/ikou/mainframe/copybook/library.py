"""COPY statements: ``COPY name [OF|IN library] [REPLACING ==a== BY ==b== ...].``

The member is looked up in the copybook's own folder, then in each search directory, as
``name``, ``name.cpy``, ``name.cob``, ``name.cbl``, ``name.copy`` (also lower / upper case).
Its tokens replace the statement; REPLACING operates on words: a pseudo-text of whole words
replaces an equal word sequence, and a one-word pseudo-text that is part of a word (``:TAG:``
style, or LEADING / TRAILING) replaces that part. Nested COPY statements are expanded up to a
depth of 10 (a cycle is a broken copybook).
"""

from __future__ import annotations

from pathlib import Path

from ikou.mainframe.copybook.lexer import Tok, tokenize
from ikou.mainframe.copybook.model import CopybookError

SUFFIXES = ("", ".cpy", ".cob", ".cbl", ".copy", ".txt")
MAX_DEPTH = 10


def find_member(name: str, dirs: list[Path]) -> Path | None:
    """The file of COPY member ``name`` in the first directory that holds it."""
    variants = dict.fromkeys([name, name.lower(), name.upper()])
    for d in dirs:
        for v in variants:
            for suf in SUFFIXES:
                for s in dict.fromkeys([suf, suf.upper()]):
                    p = d / f"{v}{s}"
                    if p.is_file():
                        return p
    return None


def _pseudo(toks: list[Tok], i: int, source: str) -> tuple[list[str], int]:
    """A REPLACING operand at ``toks[i]``: ==pseudo text== (words) or one word / literal."""
    t = toks[i]
    if t.kind == "word" and t.text.startswith("=="):
        words: list[str] = []
        body = t.text[2:]
        j = i
        while True:
            if body.endswith("==") and (j > i or len(t.text) >= 4):
                body = body[:-2]
                if body:
                    words.append(body)
                return words, j + 1
            if body:
                words.append(body)
            j += 1
            if j >= len(toks) or toks[j].kind == "period":
                raise CopybookError(
                    "REPLACING: pseudo-text not closed by ==", source, t.line, t.col
                )
            body = toks[j].text if toks[j].kind == "word" else f"'{toks[j].text}'"
    if t.kind in ("word", "lit"):
        return [t.text if t.kind == "word" else f"'{t.text}'"], i + 1
    raise CopybookError("REPLACING: expected ==text== or a word", source, t.line, t.col)


def _apply(toks: list[Tok], rules: list[tuple[str, list[str], list[str]]]) -> list[Tok]:
    if not rules:
        return toks
    out: list[Tok] = []
    i = 0
    while i < len(toks):
        t = toks[i]
        done = False
        for mode, a, b in rules:
            if mode != "whole" or not a:
                continue
            k = len(a)
            seq = toks[i : i + k]
            if len(seq) == k and all(x.kind == "word" and x.text == w for x, w in zip(seq, a)):
                out.extend(Tok("word", w, t.line, t.col, raw=w) for w in b)
                i += k
                done = True
                break
        if done:
            continue
        if t.kind == "word":
            text = t.text
            for mode, a, b in rules:
                if len(a) != 1 or len(b) > 1:
                    continue
                old, new = a[0], (b[0] if b else "")
                if mode == "leading" and text.startswith(old):
                    text = new + text[len(old) :]
                elif mode == "trailing" and text.endswith(old):
                    text = text[: len(text) - len(old)] + new
                elif mode == "whole" and old in text and old != text and not old.isalnum():
                    text = text.replace(old, new)  # :TAG: style partial words
            if text != t.text:
                t = Tok("word", text, t.line, t.col, raw=text)
        out.append(t)
        i += 1
    return out


def expand_copies(
    toks: list[Tok],
    source: str,
    dirs: list[Path],
    fmt: str,
    depth: int = 0,
    chain: tuple[str, ...] = (),
    used: list[Path] | None = None,
) -> list[Tok]:
    """``toks`` with every COPY statement replaced by the member's (replaced) tokens.

    ``used`` collects the member files expanded, nested ones included (an auditor hashes them:
    a changed member changes the layout as much as a changed copybook)."""
    if not any(t.kind == "word" and t.text == "COPY" for t in toks):
        return toks
    out: list[Tok] = []
    i = 0
    at_start = True
    while i < len(toks):
        t = toks[i]
        if not (at_start and t.kind == "word" and t.text == "COPY"):
            out.append(t)
            at_start = t.kind == "period"
            i += 1
            continue
        if i + 1 >= len(toks) or toks[i + 1].kind == "period":
            raise CopybookError("COPY needs a member name", source, t.line, t.col)
        name_tok = toks[i + 1]
        name = name_tok.text.strip("'\"")
        j = i + 2
        if j < len(toks) and toks[j].kind == "word" and toks[j].text in ("OF", "IN"):
            j += 2
        rules: list[tuple[str, list[str], list[str]]] = []
        if j < len(toks) and toks[j].kind == "word" and toks[j].text == "REPLACING":
            j += 1
            while j < len(toks) and toks[j].kind != "period":
                mode = "whole"
                if toks[j].kind == "word" and toks[j].text in ("LEADING", "TRAILING"):
                    mode = toks[j].text.lower()
                    j += 1
                a, j = _pseudo(toks, j, source)
                if j >= len(toks) or toks[j].kind != "word" or toks[j].text != "BY":
                    raise CopybookError("REPLACING: expected BY", source, t.line, t.col)
                b, j = _pseudo(toks, j + 1, source)
                rules.append((mode, a, b))
        if j >= len(toks) or toks[j].kind != "period":
            raise CopybookError(
                f"COPY {name}: statement not ended by a period", source, t.line, t.col
            )
        if depth >= MAX_DEPTH or name.upper() in chain:
            raise CopybookError(
                f"COPY {name}: nested too deeply (a cycle?)", source, name_tok.line, name_tok.col
            )
        path = find_member(name, dirs)
        if path is None:
            where = ", ".join(str(d) for d in dirs) or "."
            raise CopybookError(
                f"COPY {name}: member not found in {where}", source, name_tok.line, name_tok.col
            )
        try:
            text = path.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            raise CopybookError(
                f"COPY {name}: cannot read {path}: {exc}", source, name_tok.line, name_tok.col
            ) from None
        if used is not None and path not in used:
            used.append(path)
        sub = tokenize(text, str(path), fmt)
        sub = expand_copies(
            sub, str(path), [path.parent, *dirs], fmt, depth + 1, chain + (name.upper(),), used
        )
        out.extend(_apply(sub, rules))
        i = j + 1
        at_start = True
    return out
