"""Random numbers keyed by row: the same person draws the same numbers in every snapshot.

The legacy files of a city that changes (``ikou synth --changes-from``) must differ from the
base snapshot only where the city changed. A sequential generator cannot do that: one person more
or less shifts every draw after it. Here every draw is a hash (SplitMix64, vectorised) of the
stream (seed, domain, file, the call's number within the file) and of the row's ``uid`` (the
person's stable index), so a person keeps its amounts, codes and seeded defects whoever else
arrives, dies or moves.
"""

from __future__ import annotations

import zlib

import numpy as np

_M64 = (1 << 64) - 1
_GOLDEN = np.uint64(0x9E3779B97F4A7C15)
_C1 = np.uint64(0xBF58476D1CE4E5B9)
_C2 = np.uint64(0x94D049BB133111EB)


def _mix(z: np.ndarray) -> np.ndarray:
    """SplitMix64's finaliser on a uint64 array (wraps modulo 2**64)."""
    z = z + _GOLDEN
    z = (z ^ (z >> np.uint64(30))) * _C1
    z = (z ^ (z >> np.uint64(27))) * _C2
    return z ^ (z >> np.uint64(31))


def _mix_int(x: int) -> int:
    return int(_mix(np.array([x & _M64], dtype=np.uint64))[0])


def _label(x: object) -> int:
    if isinstance(x, (int, np.integer)):
        return int(x) & _M64
    return zlib.crc32(str(x).encode("utf-8"))


class Draws:
    """A stream of keyed draws (a key; :meth:`stream` derives a child key from labels)."""

    def __init__(self, key: int):
        self.key = int(key) & _M64

    @classmethod
    def of(cls, source: Draws | np.random.Generator | int) -> Draws:
        """A stream from a seed, another stream, or a numpy generator (one draw from it)."""
        if isinstance(source, Draws):
            return source
        if isinstance(source, np.random.Generator):
            return cls(int(source.integers(0, 2**63)))
        return cls(_mix_int(int(source)))

    def stream(self, *labels: object) -> Draws:
        key = self.key
        for x in labels:
            key = _mix_int(key ^ _mix_int(_label(x)))
        return Draws(key)

    def rows(self, uids: np.ndarray) -> RowDraws:
        """Draws for rows identified by ``uids`` (each call of the result is a new sub-stream)."""
        return RowDraws(self.key, uids)

    def generator(self) -> np.random.Generator:
        """A numpy generator seeded from the key (for draws no row owns)."""
        return np.random.default_rng(self.key)


class RowDraws:
    """Numpy-like draws (``random``, ``integers``) of one value per row, keyed by the rows' uids.

    Every call takes the next sub-stream, so the calls a file makes must not depend on its data
    (draw for every row, then pick the rows that need it).
    """

    def __init__(self, key: int, uids: np.ndarray):
        self.key = key
        self.uids = np.asarray(uids, dtype=np.int64).astype(np.uint64)
        self.calls = 0

    def _bits(self, size) -> np.ndarray:
        self.calls += 1
        ck = np.uint64(_mix_int(self.key ^ _mix_int(self.calls)))
        n = len(self.uids)
        shape = (size,) if np.ndim(size) == 0 else tuple(size)
        if shape[0] != n:
            raise ValueError(f"keyed draws: {shape[0]} values asked for {n} rows")
        z = _mix(_mix(self.uids ^ ck) ^ ck)
        if len(shape) == 1:
            return z
        cols = np.arange(int(np.prod(shape[1:])), dtype=np.uint64) + np.uint64(1)
        return _mix(z[:, None] ^ (cols[None, :] * _GOLDEN)).reshape(shape)

    def random(self, size) -> np.ndarray:
        """Uniform floats in [0, 1)."""
        return (self._bits(size) >> np.uint64(11)).astype(np.float64) * (1.0 / (1 << 53))

    def integers(self, low: int, high: int, size) -> np.ndarray:
        """Integers in [low, high)."""
        span = int(high) - int(low)
        if span <= 0:
            raise ValueError("integers: high must be above low")
        u = self.random(size)
        return (int(low) + np.minimum(np.floor(u * span), span - 1)).astype(np.int64)
