"""Deterministic A/B routing: GrowthBook's v2 bucketing, bit for bit.

    n = (fnv1a32(str(fnv1a32(seed + key))) % 10000) / 10000

FNV-1a 32 runs over UTF-16 code units (what JavaScript's ``charCodeAt``
gives), so a key outside the Basic Multilingual Plane hashes as its two
surrogates, exactly as in the worker (core/src/routing.rs), the npm SDK and
GrowthBook's own SDKs. Ranges are built cumulatively from the weights in
percent, in floating point as GrowthBook does; the variant is the range
``[start, end)`` holding ``n``. tests/vectors/routing.json holds every
implementation to the same answers.

For serving, the same definition is computed in three cheaper steps, each
exact:

* :func:`hash_bucket` gives the bucket as an integer ``b`` (``n`` is
  ``b / 10000``); the outer hash (over the decimal digits of the inner one)
  runs on precomputed tables instead of ``str()`` and a loop;
* :func:`variant_table` maps each of the 10,000 buckets to its variant once
  per experiment, with the very comparisons :func:`choose_variant` makes;
* :class:`BucketCache` remembers the bucket of up to 10,000 recent user
  keys per experiment salt, so a returning user costs a dict lookup. A
  bucket depends on the salt and the key only, never on the weights, so a
  cache can never serve an assignment the weights no longer give.
"""

from __future__ import annotations

import random
import sys
from array import array
from typing import Dict, List, Optional, Sequence, Tuple

__all__ = [
    "fnv1a32",
    "bucket",
    "bucket_after",
    "bucket_ranges",
    "choose_variant",
    "random_bucket",
    "hash_bucket",
    "variant_table",
    "BucketCache",
    "BUCKETS",
    "CACHE_USERS",
]

FNV_OFFSET = 0x811C9DC5
FNV_PRIME = 0x01000193
_MASK = 0xFFFFFFFF
_UTF16 = "utf-16-le" if sys.byteorder == "little" else "utf-16-be"

#: Buckets of GrowthBook's v2 hash: ``n`` is ``b / BUCKETS`` for an integer ``b``.
BUCKETS = 10_000
#: User keys whose bucket a :class:`BucketCache` keeps, per experiment salt.
CACHE_USERS = 10_000
#: Longer keys are hashed on every call rather than kept alive by a cache.
_MAX_CACHED_KEY = 256

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


# --- the outer hash on tables ---------------------------------------------------
#
# FNV-1a's step is h' = (h ^ c) * P mod 2**32. A digit c is below 64, so the
# xor only touches the low 6 bits of h, and h = A + L with A = h & ~63 (a
# multiple of 64) and L = h & 63 gives (h ^ c) * P = A * P + (L ^ c) * P. By
# induction, k digits from h give A * P**k + F(L, digits) mod 2**32, where F
# is the same k steps run from L alone: a table over (L, digits). The digits
# of h >= 10**6 are str(h // 10**6) (from the FNV offset: the table _HEAD)
# followed by two zero-padded groups of three (the table _TAIL, 64 * 1,000
# entries). Smaller h (one in 4,295) take the loop.

_HEAD: Optional[array[int]] = None
_TAIL: Optional[array[int]] = None
_P3 = FNV_PRIME**3 & _MASK


def _tables() -> Tuple[array[int], array[int]]:
    """Builds _HEAD and _TAIL once (about 5 ms, 270 KB), one FNV step per entry."""
    global _HEAD, _TAIL
    if _HEAD is None or _TAIL is None:
        step = [((FNV_OFFSET ^ (48 + d)) * FNV_PRIME) & _MASK for d in range(10)]
        head = [0, *step[1:]]  # head[a]: the FNV of str(a), from the offset
        for a in range(10, _MASK // 1_000_000 + 1):
            head.append(((head[a // 10] ^ (48 + a % 10)) * FNV_PRIME) & _MASK)
        # tail[L * 1000 + xyz]: the FNV of the digits "xyz" from L (0 to 63), digit by digit.
        level = list(range(64))
        for _ in range(3):
            level = [((s ^ d) * FNV_PRIME) & _MASK for s in level for d in range(48, 58)]
        _TAIL, _HEAD = array("I", level), array("I", head)
    return _HEAD, _TAIL


def _outer_loop(h: int) -> int:
    g = FNV_OFFSET
    for unit in str(h).encode("ascii"):
        g = ((g ^ unit) * FNV_PRIME) & _MASK
    return g % BUCKETS


def hash_bucket(seed_hash: int, key: str) -> int:
    """The bucket (0 to 9,999) of ``key`` under a seed whose hash is ``seed_hash``.

    FNV is a stream: hashing ``seed + key`` is hashing ``key`` after the
    seed, so a router hashes each experiment's salt once, not per call.
    """
    h = seed_hash
    if key.isascii():
        units = key.encode("ascii")
        if len(units) <= 12:
            # Masking once at the end is exact (the low 32 bits of a product
            # depend only on the low 32 bits of its factors, and an xor with
            # a byte touches only the low 8) and, for short keys, cheaper
            # than masking every step.
            for unit in units:
                h = (h ^ unit) * 16777619
            h &= 0xFFFFFFFF
        else:
            for unit in units:
                h = ((h ^ unit) * 16777619) & 0xFFFFFFFF
    else:
        for unit in _units(key):
            h = ((h ^ unit) * 16777619) & 0xFFFFFFFF
    # The outer hash, over the digits of h (see above).
    head, tail = _HEAD, _TAIL
    if h < 1_000_000 or head is None or tail is None:
        return _outer_loop(h)
    s = head[h // 1_000_000]
    r = h % 1_000_000
    s = ((s & 0xFFFFFFC0) * _P3 + tail[(s & 63) * 1000 + r // 1000]) & 0xFFFFFFFF
    s = ((s & 0xFFFFFFC0) * _P3 + tail[(s & 63) * 1000 + r % 1000]) & 0xFFFFFFFF
    return s % BUCKETS


def bucket_after(seed_hash: int, key: str) -> float:
    """The ``n`` of ``key`` under a seed whose hash is ``seed_hash``."""
    return hash_bucket(seed_hash, key) / BUCKETS


def bucket(seed: str, key: str) -> float:
    """GrowthBook v2 hash of ``key`` under ``seed``: a number in [0, 1) with four decimals."""
    _tables()
    return hash_bucket(fnv1a32(seed), key) / BUCKETS


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


def _first_bucket_at_least(x: float) -> int:
    """The least ``b`` in [0, BUCKETS] with ``b / BUCKETS >= x`` (BUCKETS: none)."""
    if x != x or x > (BUCKETS - 1) / BUCKETS:  # NaN, or above every bucket
        return BUCKETS
    if x <= 0:
        return 0
    b = min(BUCKETS, int(x * BUCKETS) + 1)
    # Settle on the exact comparison choose_variant makes (float rounding).
    while b > 0 and (b - 1) / BUCKETS >= x:
        b -= 1
    while b < BUCKETS and b / BUCKETS < x:
        b += 1
    return b


def variant_table(ranges: Sequence[Tuple[float, float]]) -> List[Optional[int]]:
    """``choose_variant(b / BUCKETS, ranges)`` for every bucket ``b``, computed
    per range: ``b / BUCKETS`` grows with ``b``, so the buckets a range
    ``[start, end)`` holds are the run from the first at least ``start`` to
    the first at least ``end``. Filled last range first, so where ranges
    overlap the first one wins, as in :func:`choose_variant`."""
    table: List[Optional[int]] = [None] * BUCKETS
    for i in range(len(ranges) - 1, -1, -1):
        start, end = ranges[i]
        lo, hi = _first_bucket_at_least(start), _first_bucket_at_least(end)
        if lo < hi:
            table[lo:hi] = [i] * (hi - lo)
    return table


def random_bucket() -> float:
    """A random bucket, for callers without a user key (as the worker maps 32 random bits)."""
    return (random.getrandbits(32) % BUCKETS) / BUCKETS


class BucketCache:
    """The buckets of recently routed user keys under one experiment salt.

    Two generations of at most ``capacity / 2`` keys each: a key is looked
    up in the young one, then in the old one (and moved to the young one);
    when the young generation is full it becomes the old one and the old
    one is dropped. So memory is bounded by ``capacity`` keys (plus, under
    concurrent misses, one per thread), a key routed within the last
    ``capacity / 2`` new keys is always found, and a hit is one dict
    lookup. Keys longer than 256 characters are not kept (a cache must
    not hold large strings alive). Safe without a lock: a value is a pure
    function of the salt and the key, so a race can only lose entries.
    """

    __slots__ = ("seed_hash", "capacity", "young", "old", "_half")

    def __init__(self, seed_hash: int, capacity: int = CACHE_USERS) -> None:
        self.seed_hash = seed_hash
        self.capacity = max(0, int(capacity))
        self.young: Dict[str, int] = {}
        self.old: Dict[str, int] = {}
        self._half = self.capacity // 2
        _tables()

    def bucket(self, key: str) -> int:
        b = self.young.get(key)
        if b is not None:
            return b
        return self.miss(key)

    def miss(self, key: str) -> int:
        """The bucket of a key the young generation does not hold."""
        b = self.old.get(key)
        if b is None:
            b = hash_bucket(self.seed_hash, key)
            if len(key) > _MAX_CACHED_KEY:
                return b
        half = self._half
        if not half:
            return b
        young = self.young
        if len(young) >= half:
            self.old = young
            self.young = young = {}
        young[key] = b
        return b

    def __len__(self) -> int:
        return len(self.young) + len(self.old)
