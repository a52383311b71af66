"""Deterministic A/B routing: GrowthBook's v2 bucketing, bit for bit.

    n = (fnv1a32(str(fnv1a32(seed + key))) % 10000) / 10000

FNV-1a 32 runs over UTF-16 code units (what JavaScript's ``charCodeAt``
gives), so a key outside the Basic Multilingual Plane hashes as its two
surrogates, exactly as in the worker (core/src/routing.rs), the npm SDK and
GrowthBook's own SDKs. Ranges are built cumulatively from the weights in
percent, in floating point as GrowthBook does; the variant is the range
``[start, end)`` holding ``n``. tests/vectors/routing.json holds every
implementation to the same answers.
"""

from __future__ import annotations

import random
import sys
from typing import List, Optional, Sequence, Tuple

__all__ = ["fnv1a32", "bucket", "bucket_after", "bucket_ranges", "choose_variant", "random_bucket"]

FNV_OFFSET = 0x811C9DC5
FNV_PRIME = 0x01000193
_MASK = 0xFFFFFFFF
_UTF16 = "utf-16-le" if sys.byteorder == "little" else "utf-16-be"

Ranges = List[Tuple[float, float]]


def _units(s: str) -> Sequence[int]:
    """The UTF-16 code units of ``s``: its bytes when ASCII (the usual user key)."""
    if s.isascii():
        return s.encode("ascii")
    # "surrogatepass": a lone surrogate is one unit, as in JavaScript.
    return memoryview(s.encode(_UTF16, "surrogatepass")).cast("H")


def fnv1a32(s: str, h: int = FNV_OFFSET) -> int:
    """FNV-1a 32 over the UTF-16 code units of ``s``, continuing from ``h``."""
    for unit in _units(s):
        h = ((h ^ unit) * FNV_PRIME) & _MASK
    return h


def bucket_after(seed_hash: int, key: str) -> float:
    """The bucket of ``key`` under a seed whose hash is ``seed_hash``.

    FNV is a stream: hashing ``seed + key`` is hashing ``key`` after the
    seed, so a router hashes each experiment's salt once, not per call.
    """
    h = seed_hash
    for unit in _units(key):
        h = ((h ^ unit) * FNV_PRIME) & _MASK
    # The outer hash runs over the decimal digits of the inner one (ASCII).
    g = FNV_OFFSET
    for unit in str(h).encode("ascii"):
        g = ((g ^ unit) * FNV_PRIME) & _MASK
    return (g % 10000) / 10000


def bucket(seed: str, key: str) -> float:
    """GrowthBook v2 hash of ``key`` under ``seed``: a number in [0, 1) with four decimals."""
    return bucket_after(fnv1a32(seed), key)


def bucket_ranges(weights_percent: Sequence[float]) -> Ranges:
    """``[start, end)`` per variant, from weights in percent (cumulative, left to right)."""
    cumulative = 0.0
    out: Ranges = []
    for w in weights_percent:
        share = float(w) / 100.0
        start = cumulative
        cumulative += share
        out.append((start, start + share))
    return out


def choose_variant(n: float, ranges: Sequence[Tuple[float, float]]) -> Optional[int]:
    """The index of the range holding ``n``, or None (weights of 0: the deployed version)."""
    for i, (start, end) in enumerate(ranges):
        if start <= n < end:
            return i
    return None


def random_bucket() -> float:
    """A random bucket, for callers without a user key (as the worker maps 32 random bits)."""
    return (random.getrandbits(32) % 10000) / 10000
