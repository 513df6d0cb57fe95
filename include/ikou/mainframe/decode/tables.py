"""The lookup tables of the text decoders, built once per code page (+ 外字 table + policy) and
cached: :class:`TextTables` for the EBCDIC code pages (SBCS, DBCS and mixed text, read by
:mod:`.text` and the C kernel) and :class:`MultibyteTables` for the open-system multi-byte
encodings (read by :mod:`.multibyte`), with what both share: the cache, and the UTF-8 bytes of
each table entry."""

from __future__ import annotations

import threading
from typing import Self

import numpy as np

from ikou.mainframe.decode.base import (
    PLACEHOLDER,
    SEQUENCE,
    ST_BAD,
    ST_GAIJI_MAPPED,
    ST_GAIJI_UNMAPPED,
    ST_SEQUENCE,
    UNDEFINED,
)


class CachedTables:
    """Tables for one code page + 外字 table + policy; :meth:`get` builds them once and keeps the
    last ``cache_size`` of each kind (a cache per subclass)."""

    cache_size = 16
    _cache: dict
    _lock: threading.Lock

    def __init_subclass__(cls, **kwargs):
        super().__init_subclass__(**kwargs)
        cls._cache = {}
        cls._lock = threading.Lock()

    def __init__(self, codepage, encoding: str, gaiji=None, policy: str = "placeholder"):
        self.codepage = codepage
        self.encoding = encoding
        self.gaiji = gaiji
        self.policy = policy

    @classmethod
    def get(cls, codepage, encoding: str, gaiji=None, policy: str = "placeholder") -> Self:
        key = (id(codepage), encoding, id(gaiji), policy)
        with cls._lock:
            t = cls._cache.get(key)
            if t is None or t.codepage is not codepage or t.gaiji is not gaiji:
                t = cls(codepage, encoding, gaiji, policy)
                cls._cache[key] = t
                if len(cls._cache) > cls.cache_size:
                    cls._cache.pop(next(iter(cls._cache)))
            return t

    def gaiji_status(self, code: int) -> tuple[int, str | None]:
        """A 外字 code through the 外字 table: (ST_GAIJI_UNMAPPED, None), (ST_GAIJI_MAPPED, the
        character) or (ST_SEQUENCE, the characters) when it maps to several code points."""
        mapped = self.gaiji.lookup(self.encoding, code) if self.gaiji is not None else None
        if mapped is None:
            return ST_GAIJI_UNMAPPED, None
        return (ST_GAIJI_MAPPED if len(mapped) == 1 else ST_SEQUENCE), mapped


class TextTables(CachedTables):
    """Lookup tables for one code page (+ 外字 table and policy), built once and cached."""

    cache_size = 32

    def __init__(self, codepage, encoding: str, gaiji=None, policy: str = "placeholder"):
        super().__init__(codepage, encoding, gaiji, policy)
        sb = np.asarray(codepage.sbcs, dtype=np.uint32)
        self.sbcs_word, self.sbcs_len = utf8_words(sb)
        self.sbcs_bad = sb == UNDEFINED
        self.sbcs_ascii = (self.sbcs_word & 0xFF).astype(np.uint8)
        self.sbcs_all_ascii = bool((self.sbcs_len[~self.sbcs_bad] <= 1).all())
        sp = codepage.sbcs_space
        self.sbcs_space = sp if isinstance(sp, int) else sp[0]
        dsp = codepage.dbcs_space
        self.dbcs_space = dsp if isinstance(dsp, int) else int.from_bytes(bytes(dsp), "big")
        so, si = bytes(codepage.shift_out), bytes(codepage.shift_in)
        self.shift_out, self.shift_in = so, si
        self.shift_outs = (so,) + tuple(bytes(x) for x in getattr(codepage, "extra_shift_outs", ()))
        db = np.asarray(codepage.dbcs, dtype=np.uint32).copy()
        status = np.zeros(65536, np.uint8)
        self.sequences: dict[int, str] = {}
        udc = user_defined_mask(codepage)
        codes = np.arange(65536)
        hi, lo = codes >> 8, codes & 0xFF
        # codes that decode to several code points (JIS X 0213 kana + combining mark ...)
        for code, text in dict(getattr(codepage, "dbcs_sequences", {}) or {}).items():
            if db[code] == SEQUENCE:
                self.sequences[int(code)] = text
                status[code] = ST_SEQUENCE
                db[code] = ord(text[0])
        undefined = db == UNDEFINED
        # "plausible" DBCS codes: both bytes within the byte ranges the code page uses; an
        # undefined plausible code goes the 外字 way (table or placeholder), an implausible one
        # (e.g. 0x0102) is undecodable and quarantines its record
        defined = ~undefined & (codes != 0x4040) & (codes != self.dbcs_space)
        if defined.any():
            min_hi = int(hi[defined].min())
            min_lo = int(lo[defined].min())
        else:
            min_hi = min_lo = 0x41
        plausible = (hi >= min_hi) & (hi <= 0xFE) & (lo >= min_lo) & (lo <= 0xFE)
        gaiji_codes = udc | (undefined & plausible)
        status[undefined & ~gaiji_codes] = ST_BAD
        placeholder = ord(PLACEHOLDER)
        self.gaiji_mapped_codes: dict[int, str] = {}
        for code in np.flatnonzero(gaiji_codes).tolist():
            status[code], mapped = self.gaiji_status(code)
            if mapped is None:
                pua = codepage.pua(code) if policy == "pua" and hasattr(codepage, "pua") else None
                db[code] = placeholder if pua is None else pua
            elif len(mapped) == 1:
                db[code] = ord(mapped)
            else:
                self.sequences[code] = self.gaiji_mapped_codes[code] = mapped
                db[code] = placeholder
        if gaiji is not None:
            for code in np.flatnonzero(gaiji_codes & (status == ST_GAIJI_MAPPED)).tolist():
                self.gaiji_mapped_codes[code] = chr(db[code])
        db[status == ST_BAD] = placeholder
        self.dbcs_cp = db
        self.dbcs_status = status
        self.gaiji_codes = gaiji_codes
        self.dbcs_word, self.dbcs_len = utf8_words(db)
        self.mixed_word = np.concatenate([self.sbcs_word, self.dbcs_word])
        self.mixed_len = np.concatenate([self.sbcs_len, self.dbcs_len])
        self.mixed_status = np.concatenate([np.zeros(256, np.uint8), self.dbcs_status])
        self.gaiji_sequence = np.zeros(65536, bool)
        for code in self.gaiji_mapped_codes:
            if code in self.sequences:
                self.gaiji_sequence[code] = True

    def _kernel_tables(self) -> tuple:
        """Pointers to the C kernel's tables (contiguous copies kept alive on the object)."""
        k = getattr(self, "_ktabs", None)
        if k is None:
            # one uint64 per byte / code: UTF-8 word | byte count << 32 | status << 40
            sb = (
                self.sbcs_word.astype(np.uint64)
                | (self.sbcs_len.astype(np.uint64) << np.uint64(32))
                | (self.sbcs_bad.astype(np.uint64) << np.uint64(40))
            )
            db = (
                self.dbcs_word.astype(np.uint64)
                | (self.dbcs_len.astype(np.uint64) << np.uint64(32))
                | (self.dbcs_status.astype(np.uint64) << np.uint64(40))
            )
            self._karrs = (np.ascontiguousarray(sb), np.ascontiguousarray(db))
            k = self._ktabs = tuple(a.ctypes.data for a in self._karrs)
        return k


_UDC_CACHE: dict[int, tuple] = {}


def user_defined_mask(codepage) -> np.ndarray:
    """``codepage.is_user_defined`` for all 65536 codes (vectorised where the areas are known)."""
    key = id(codepage)
    hit = _UDC_CACHE.get(key)
    if hit is not None and hit[0] is codepage:
        return hit[1]
    mask = areas_mask(codepage)
    if mask is None:
        fn = getattr(codepage, "is_user_defined", None)
        mask = np.zeros(65536, bool)
        if fn is not None:
            mask = np.fromiter((bool(fn(c)) for c in range(65536)), dtype=bool, count=65536)
    _UDC_CACHE[key] = (codepage, mask)
    return mask


def areas_mask(codepage) -> np.ndarray | None:
    """The user-defined mask from the code page's area specification (ikou.moji.codepages),
    None when the code page does not expose it in a form read here (then the method is asked)."""
    spec = getattr(codepage, "_spec", None)
    if spec is None or getattr(spec, "dbcs_form", None) not in ("ibm", "euc"):
        return None
    try:
        codes = np.arange(65536)
        hi, lo = codes >> 8, codes & 0xFF

        def areas(specs) -> np.ndarray:
            m = np.zeros(65536, bool)
            for a, b, c, d in specs:
                m |= (hi >= a) & (hi <= b) & (lo >= c) & (lo <= d)
            return m

        undefined = np.asarray(codepage.dbcs) == UNDEFINED
        return areas(spec.user_defined) | (areas(spec.vendor_extension) & undefined)
    except Exception:
        return None


def utf8_words(cps: np.ndarray):
    """Per table entry: UTF-8 bytes packed little-endian in a uint32, and their count (0 where
    undefined; U+FFFD stands for an undefined code, a surrogate or a value beyond U+10FFFF)."""
    c = cps.astype(np.uint64)
    undefined = cps == UNDEFINED
    c = np.where(undefined | ((c >= 0xD800) & (c <= 0xDFFF)) | (c > 0x10FFFF), 0xFFFD, c)
    by, n = utf8_bytes(c)
    by = by.astype(np.uint32)
    w = (
        by[:, 0]
        | np.where(n >= 2, by[:, 1] << 8, 0)
        | np.where(n >= 3, by[:, 2] << 16, 0)
        | np.where(n >= 4, by[:, 3] << 24, 0)
    )
    n = np.where(undefined, 0, n).astype(np.uint8)
    return w.astype(np.uint32), n


class MultibyteTables(CachedTables):
    """Code point and status per table index for one open code page + 外字 table + policy."""

    def __init__(self, codepage, encoding: str, gaiji=None, policy: str = "placeholder"):
        super().__init__(codepage, encoding, gaiji, policy)
        self.lead_len = np.asarray(codepage.lead_len, np.uint8)
        self.utf8 = codepage.mb_cp is None
        self.sequences: dict[int, str] = {}
        if self.utf8:
            self.cp = self.status = None
            return
        cp = np.asarray(codepage.mb_cp, np.uint32).copy()
        status = np.zeros(len(cp), np.uint8)
        status[cp == UNDEFINED] = ST_BAD
        user = codepage.user_defined
        if user is not None:
            for idx in np.flatnonzero(user).tolist():
                code = idx - 256
                status[idx], mapped = self.gaiji_status(code)
                if mapped is None:
                    if policy != "pua" or cp[idx] == UNDEFINED:
                        cp[idx] = ord(PLACEHOLDER)
                elif len(mapped) == 1:
                    cp[idx] = ord(mapped)
                else:
                    self.sequences[idx] = mapped
                    cp[idx] = ord(PLACEHOLDER)
        self.cp, self.status = cp, status
        # UTF-8 bytes of every table entry (the placeholder where undefined): strings are a gather
        self.words, self.nbytes = utf8_bytes(np.where(cp == UNDEFINED, ord(PLACEHOLDER), cp))
        self.words_placeholder = np.frombuffer(PLACEHOLDER.encode().ljust(4, b"\0"), np.uint8)


def utf8_bytes(cps: np.ndarray):
    """(K, 4) UTF-8 bytes and their counts for valid code points."""
    c = cps.astype(np.uint32)
    n = np.where(c < 0x80, 1, np.where(c < 0x800, 2, np.where(c < 0x10000, 3, 4))).astype(np.uint8)
    out = np.zeros((len(c), 4), np.uint8)
    out[:, 0] = np.where(
        n == 1,
        c,
        np.where(n == 2, 0xC0 | (c >> 6), np.where(n == 3, 0xE0 | (c >> 12), 0xF0 | (c >> 18))),
    )
    out[:, 1] = np.where(
        n == 2,
        0x80 | (c & 0x3F),
        np.where(n == 3, 0x80 | ((c >> 6) & 0x3F), 0x80 | ((c >> 12) & 0x3F)),
    )
    out[:, 2] = np.where(n == 3, 0x80 | (c & 0x3F), 0x80 | ((c >> 6) & 0x3F))
    out[:, 3] = 0x80 | (c & 0x3F)
    return out, n
