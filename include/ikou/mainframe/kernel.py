"""The compiled text kernel (``_kernel.c``): built on first use, loaded with ctypes.

Measurement showed the numpy text decoders (mixed SO/SI fields above all) taking about 70% of
the engine's time; one pass in C over each field does the plain rows and leaves every row with
something to report to the numpy implementation (see ``_kernel.c``). Results are identical
either way -- the tests decode with both.

Build: ``cc -O3 -shared -fPIC`` (``$CC`` if set) into a cache directory, the file named after
the source's hash, written to a temporary name and renamed (concurrent first uses are safe):
``$IKOU_KERNEL_DIR``, else ``$XDG_CACHE_HOME/ikou`` / ``~/.cache/ikou``, else the temp
directory. ``python -m ikou.mainframe.kernel`` builds it ahead of time and says where.

``IKOU_DECODE_KERNEL``: ``auto`` (default: C when it builds, else numpy), ``numpy`` (never the
kernel), ``c`` (the kernel or an error).
"""

from __future__ import annotations

import ctypes
import hashlib
import os
import subprocess
import sys
import sysconfig
import tempfile
import threading
from pathlib import Path

import numpy as np

__all__ = ["available", "text_kernel", "number_kernel", "build", "mode", "KernelUnavailable"]

SOURCE = Path(__file__).with_name("_kernel.c")
K_SBCS, K_DBCS, K_MIXED = 0, 1, 2


class KernelUnavailable(RuntimeError):
    """The kernel cannot be built or loaded (IKOU_DECODE_KERNEL=c makes this an error)."""


_lock = threading.Lock()
_lib = None
_error: str | None = None
_tried = False


def mode() -> str:
    m = os.environ.get("IKOU_DECODE_KERNEL", "auto").strip().lower() or "auto"
    if m not in ("auto", "numpy", "c"):
        raise ValueError(f"IKOU_DECODE_KERNEL must be auto, numpy or c, not {m!r}")
    return m


def _cache_dirs() -> list[Path]:
    out = []
    if os.environ.get("IKOU_KERNEL_DIR"):
        out.append(Path(os.environ["IKOU_KERNEL_DIR"]))
    xdg = os.environ.get("XDG_CACHE_HOME")
    out.append(Path(xdg) / "ikou" if xdg else Path.home() / ".cache" / "ikou")
    out.append(
        Path(tempfile.gettempdir()) / f"ikou-kernel-{os.getuid() if hasattr(os, 'getuid') else 0}"
    )
    return out


def _tag() -> str:
    h = hashlib.sha256(SOURCE.read_bytes())
    h.update(f"{sys.platform} {sysconfig.get_platform()} {os.environ.get('CC', 'cc')}".encode())
    return h.hexdigest()[:16]


def build(force: bool = False) -> Path:
    """Compile the kernel (if not cached) and return the shared library's path."""
    if sys.byteorder != "little":
        raise KernelUnavailable("the kernel assumes a little-endian host")
    name = f"ikou_text_{_tag()}.so"
    errors = []
    for d in _cache_dirs():
        so = d / name
        if so.exists() and not force:
            return so
        try:
            d.mkdir(parents=True, exist_ok=True)
            tmp = d / f".{name}.{os.getpid()}.{threading.get_ident()}.tmp"
            cc = os.environ.get("CC", "cc")
            proc = subprocess.run(
                [cc, "-O3", "-shared", "-fPIC", "-o", str(tmp), str(SOURCE)],
                capture_output=True,
                text=True,
                timeout=120,
            )
            if proc.returncode != 0:
                try:
                    tmp.unlink()
                except FileNotFoundError:
                    pass
                raise KernelUnavailable(f"{cc} failed: {proc.stderr.strip()[-500:]}")
            os.replace(tmp, so)
            return so
        except KernelUnavailable:
            raise
        except (OSError, subprocess.SubprocessError) as exc:
            errors.append(f"{d}: {exc}")
    raise KernelUnavailable("cannot build the text kernel: " + "; ".join(errors))


def _load():
    global _lib, _error, _tried
    if _tried:
        return _lib
    with _lock:
        if _tried:
            return _lib
        _tried = True
        try:
            lib = ctypes.CDLL(str(build()))
            f = lib.ikou_text
            p = ctypes.c_void_p
            i64, i32 = ctypes.c_int64, ctypes.c_int
            f.argtypes = [p, i64, i64, i64, i32, p, p, i32, i32, i32, i32, i32, i32, p, p, p]
            f.restype = i64
            for name in ("ikou_zoned", "ikou_packed"):
                g = getattr(lib, name)
                g.argtypes = [p, i64, i64, i64, i32, i32, p, p]
                g.restype = i64
            _lib = lib
        except (KernelUnavailable, OSError) as exc:
            _error = str(exc)
            _lib = None
        return _lib


def available() -> bool:
    """True when the kernel is in use (mode auto or c, and it built)."""
    m = mode()
    if m == "numpy":
        return False
    lib = _load()
    if lib is None and m == "c":
        raise KernelUnavailable(_error or "text kernel unavailable")
    return lib is not None


def _ptr(a: np.ndarray) -> int:
    return a.ctypes.data


def text_kernel(b: np.ndarray, kind: int, t, keep_padding: bool):
    """Decode the plain rows of ``b`` (m, w) uint8; returns (StringArray, slow rows) or None.

    None: the kernel is not available or does not apply (multi-byte shift codes, an odd DBCS
    width, an empty field, an output too large for 32-bit offsets); the caller uses numpy.
    """
    m, w = b.shape
    if w == 0 or m == 0 or (kind == K_DBCS and w % 2) or not available():
        return None
    so1 = so2 = si = -1
    if kind == K_MIXED:
        sos = t.shift_outs
        if len(t.shift_in) != 1 or any(len(x) != 1 for x in sos) or len(sos) > 2:
            return None
        si = t.shift_in[0]
        so1 = sos[0][0]
        so2 = sos[1][0] if len(sos) > 1 else -1
    cap = m * w * 4 + 8  # at most 4 UTF-8 bytes per input byte, + the 4-byte store slack
    if cap >= 2**31:
        return None
    if b.dtype != np.uint8 or b.strides[1] != 1 or b.strides[0] < w:
        b = np.ascontiguousarray(b, dtype=np.uint8)
    k = t._kernel_tables()
    out = np.empty(cap, np.uint8)
    offs = np.empty(m + 1, np.int32)
    slow = np.zeros(m, np.uint8)
    _lib.ikou_text(
        _ptr(b),
        m,
        w,
        b.strides[0],
        kind,
        *k,
        so1,
        so2,
        si,
        int(t.sbcs_space),
        int(t.dbcs_space),
        1 if keep_padding else 0,
        _ptr(out),
        _ptr(offs),
        _ptr(slow),
    )
    total = int(offs[-1])
    data = out[:total]
    if total < cap // 2:
        data = data.copy()  # do not keep the whole capacity alive with the batch
    import pyarrow as pa

    arr = pa.StringArray.from_buffers(m, pa.py_buffer(offs), pa.py_buffer(data))
    return arr, slow.view(bool)


def number_kernel(b: np.ndarray, kind: str, a: int, signed: bool):
    """Zoned (``a`` = sign column) or packed (``a`` = digits) values of the plain rows.

    Returns (int64 values, slow rows) or None when the kernel does not apply; the caller decodes
    the slow rows (anything invalid) with numpy.
    """
    m, w = b.shape
    if w == 0 or m == 0 or not available():
        return None
    if b.dtype != np.uint8 or b.strides[1] != 1 or b.strides[0] < w:
        b = np.ascontiguousarray(b, dtype=np.uint8)
    out = np.empty(m, np.int64)
    slow = np.zeros(m, np.uint8)
    fn = _lib.ikou_zoned if kind == "zoned" else _lib.ikou_packed
    fn(_ptr(b), m, w, b.strides[0], int(a), 1 if signed else 0, _ptr(out), _ptr(slow))
    return out, slow.view(bool)


def main() -> int:
    try:
        path = build()
    except KernelUnavailable as exc:
        print(f"text kernel: unavailable ({exc}); the numpy decoders are used", file=sys.stderr)
        return 1
    print(f"text kernel: {path}")
    return 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
