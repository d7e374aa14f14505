"""Near-duplicate detection: MinHash over word shingles, LSH band keys, union-find clusters.

Pure functions, no Beam: the pipeline groups `band_keys` with GroupByKey, runs `verify_bucket` on
each group, and feeds the verified pairs to `cluster`. Signatures are `bytes` (little-endian
uint32, `4 * num_perm` long) so they pickle cheaply and fit a Parquet binary column; persisted
signatures of earlier runs stay comparable as long as the algorithm `VERSION` and the params'
`num_perm`, `rows` and `shingle_size` are unchanged (band keys of other params never collide).

Every hash is built from fixed constants (tabulation tables from shake_256, blake2b, splitmix64,
multiply-add mod 2**64), never Python's per-process `hash()`, so signatures and keys are identical
on every worker and machine, and stay so across numpy versions (no numpy RNG is involved).
"""

from __future__ import annotations

import hashlib
import math
import struct
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from functools import lru_cache
from typing import Any

import numpy as np

from pipeline.text import normalize_for_hash

# Bump when anything below changes how a signature is computed: a persisted signature of another
# version must not be compared with a new one (its band keys differ, so it never becomes a candidate).
VERSION = 1

_U64 = np.uint64
_CHUNK = 2048  # shingles per block: bounds the (shingles x num_perm) temporary to 2 MiB at 128 perms
_TAB_POSITIONS = 64


@dataclass(frozen=True)
class NearDupParams:
    """MinHash/LSH settings; defaults chosen with `benchmarks/neardup_eval.py --sweep` (40 articles).

    - 3-word shingles: every variant the issue lists keeps exact Jaccard >= 0.57 with its original,
      and different articles stay <= 0.155 (two stories sharing an outlet footer). 2-word shingles
      lift unrelated articles (max 0.19, ~2x the cross-article LSH candidates at 64x2) for a small
      gain on heavy edits; 4- or 5-word shingles lose them (recall 0.58 / 0.18 against 0.95).
    - threshold 0.5: in that gap, 7+ estimator sd (sd ~0.044 at 128 perms) above 0.155. 0.6 misses
      syndicated copies (pair recall 0.995); 0.4 changes nothing on those variants (the banding
      below then decides) and only helps heavier edits (recall 0.99 against 0.95).
    - 32 bands x 4 rows: a pair becomes a candidate with p=0.87 at Jaccard 0.5, 0.99 at 0.6 and
      0.02 at 0.155. 64x2 finds nothing more here but verifies 428 cross-article pairs instead of
      2 (p=0.79 at 0.155); 16x8 misses pairs below ~0.7 (recall 0.94).
    """

    num_perm: int = 128
    bands: int = 32
    rows: int = 4
    shingle_size: int = 3
    threshold: float = 0.5

    def __post_init__(self) -> None:
        if self.num_perm < 1 or self.bands < 1 or self.rows < 1 or self.bands * self.rows != self.num_perm:
            raise ValueError(f"need bands * rows == num_perm >= 1, got {self.bands} * {self.rows} != {self.num_perm}")
        if self.shingle_size < 1:
            raise ValueError(f"shingle_size must be >= 1, got {self.shingle_size}")
        if not 0.0 < self.threshold <= 1.0:
            raise ValueError(f"threshold must be in (0, 1], got {self.threshold}")
        if self.num_perm > 0xFFFF or self.shingle_size > 0xFF:
            raise ValueError("num_perm must be < 65536 and shingle_size < 256")

    @property
    def key_salt(self) -> bytes:
        """Personalises band-key hashes: signatures of different settings never share a bucket."""
        return struct.pack("<BHHB", VERSION, self.num_perm, self.rows, self.shingle_size)


DEFAULT = NearDupParams()


def _constants(label: str, count: int) -> np.ndarray:
    """`count` fixed pseudo-random uint64s derived from `label`: stable across numpy versions."""
    raw = b"".join(hashlib.blake2b(f"news-ingest/neardup/{label}/{i}".encode(), digest_size=8).digest()
                   for i in range(count))
    return np.frombuffer(raw, dtype="<u8").astype(_U64)


@lru_cache(maxsize=16)
def _permutations(num_perm: int) -> tuple[np.ndarray, np.ndarray]:
    # Odd multipliers make x -> a*x + b a bijection of uint64, so each "permutation" is one.
    return _constants("perm-a", num_perm) | _U64(1), _constants("perm-b", num_perm)


@lru_cache(maxsize=16)
def _position_weights(shingle_size: int) -> np.ndarray:
    return _constants("position", shingle_size) | _U64(1)


def _mix64(x: np.ndarray) -> np.ndarray:
    """splitmix64 finaliser: spreads the linear shingle combination over all 64 bits."""
    x = x ^ (x >> _U64(30))
    x *= _U64(0xBF58476D1CE4E5B9)
    x ^= x >> _U64(27)
    x *= _U64(0x94D049BB133111EB)
    x ^= x >> _U64(31)
    return x


@lru_cache(maxsize=1)
def _byte_table() -> np.ndarray:
    """Tabulation-hashing table: one random uint64 per (byte position in word, byte value)."""
    raw = hashlib.shake_256(b"news-ingest/neardup/tabulation").digest(_TAB_POSITIONS * 256 * 8)
    return np.frombuffer(raw, dtype="<u8").astype(_U64).reshape(_TAB_POSITIONS, 256)


def _word_hashes(key: str) -> np.ndarray:
    """uint64 hash per word of a normalised key (words split by single spaces), vectorised.

    Simple tabulation hashing over UTF-8 bytes: XOR of table[position, byte]. It is 3-independent
    and 3-4x faster here than one blake2b call per distinct word. Positions wrap after 64 bytes.
    """
    data = np.frombuffer(key.encode(), dtype=np.uint8)
    space = data == 0x20  # UTF-8 continuation bytes are >= 0x80, so 0x20 is always a separator
    starts = np.flatnonzero(np.concatenate(([True], space[:-1])))
    letters = np.flatnonzero(~space)
    first = starts - np.arange(starts.size)  # where each word begins among the non-space bytes
    position = letters - np.repeat(starts, np.diff(np.append(first, letters.size)))
    values = _byte_table()[position % _TAB_POSITIONS, data[letters]]
    return np.bitwise_xor.reduceat(values, first)


def shingle_hashes(text: str, shingle_size: int = DEFAULT.shingle_size) -> np.ndarray:
    """uint64 hashes of the word `shingle_size`-grams of `normalize_for_hash(text)` (repeats kept).

    The set these hashes form is what a signature samples; empty when the text has fewer words
    than `shingle_size`. Exposed so evaluations can compute exact Jaccard.
    """
    key = normalize_for_hash(text)
    n = (key.count(" ") + 1 if key else 0) - shingle_size + 1
    if n <= 0:
        return np.empty(0, dtype=_U64)
    word_h = _word_hashes(key)
    weights = _position_weights(shingle_size)
    combined = np.zeros(n, dtype=_U64)
    for j in range(shingle_size):  # position weights keep "a b c" and "c b a" apart
        combined += word_h[j:j + n] * weights[j]
    return _mix64(combined)


def signature(text: str, params: NearDupParams = DEFAULT) -> bytes:
    """MinHash signature of `text`: `4 * num_perm` bytes, or b"" when it has no shingle.

    Texts shorter than `shingle_size` words get b"", which has no band keys and is never similar
    to anything: too little text to call a near-duplicate (exact copies are `content_hash`'s job).
    """
    hashes = shingle_hashes(text, params.shingle_size)
    if hashes.size == 0:
        return b""
    a, b = _permutations(params.num_perm)
    mins = np.full(params.num_perm, np.iinfo(_U64).max, dtype=_U64)
    for start in range(0, hashes.size, _CHUNK):
        # (shingles, perms) layout: numpy's column-wise min is vectorised, the row-wise one is not.
        block = np.multiply.outer(hashes[start:start + _CHUNK], a)
        block += b
        np.minimum(mins, block.min(axis=0), out=mins)
    # The top 32 bits of a*x+b are its best-mixed bits; a 32-bit collision (2**-32) is noise.
    return (mins >> _U64(32)).astype("<u4").tobytes()


def _values(sig: bytes, params: NearDupParams | None = None) -> np.ndarray:
    if len(sig) % 4 or (params is not None and len(sig) != 4 * params.num_perm):
        raise ValueError(f"signature of {len(sig)} bytes does not match these params")
    return np.frombuffer(sig, dtype="<u4")


@lru_cache(maxsize=16)
def _band_seed(salt: bytes) -> np.ndarray:
    return _constants(f"band-seed/{salt.hex()}", 1)


def band_digests(sigs: Sequence[bytes], params: NearDupParams = DEFAULT) -> np.ndarray:
    """(len(sigs), bands) uint64: each band's `rows` values folded into one digest (splitmix64 of
    the running digest XOR the next value, from a seed salted with the params; see `key_salt`).
    Equal bands give equal digests. Vectorised over the signatures: a window of stored signatures
    costs numpy time, not a Python step each."""
    width = 4 * params.num_perm
    if any(len(sig) != width for sig in sigs):
        raise ValueError(f"a signature does not have the {width} bytes these params give")
    values = np.frombuffer(b"".join(sigs), dtype="<u4").reshape(len(sigs), params.bands, params.rows).astype(_U64)
    digests = np.broadcast_to(_band_seed(params.key_salt), values.shape[:2])
    for row in range(params.rows):
        digests = _mix64(digests ^ values[:, :, row])
    return digests


def band_keys(sig: bytes, params: NearDupParams = DEFAULT) -> list[str]:
    """One key per band, "<band>:<16 hex>"; two signatures share a key iff a whole band is equal
    (up to a 64-bit digest collision, which costs a verification, never a wrong pair). The band
    index prefix keeps bands apart."""
    if not sig:
        return []
    return [f"{band}:{digest:016x}" for band, digest in enumerate(band_digests([sig], params)[0].tolist())]


def by_band(keys: Iterable[str]) -> dict[int, np.ndarray]:
    """`band_keys` keys as {band: its digests}, the form `shared_keys` matches against."""
    digests: dict[int, list[int]] = {}
    for key in keys:
        band, _, digest = key.partition(":")
        digests.setdefault(int(band), []).append(int(digest, 16))
    return {band: np.unique(np.array(values, dtype=_U64)) for band, values in digests.items()}


def shared_keys(sigs: Sequence[bytes], wanted: Mapping[int, np.ndarray],
                params: NearDupParams = DEFAULT) -> Iterator[tuple[int, list[str]]]:
    """(position, the band keys it shares with `wanted`) of each signature that shares at least one
    (`wanted`: `by_band` of the keys looked for). Signatures that share none cost no Python step."""
    if not sigs or not wanted:
        return
    digests = band_digests(sigs, params)
    shared = np.zeros(digests.shape, dtype=bool)
    for band, known in wanted.items():
        if 0 <= band < params.bands:
            shared[:, band] = np.isin(digests[:, band], known)
    for i in np.flatnonzero(shared.any(axis=1)).tolist():
        yield i, [f"{band}:{int(digests[i, band]):016x}" for band in np.flatnonzero(shared[i]).tolist()]


def band_of(key: str) -> int:
    """The band index a `band_keys` key belongs to."""
    return int(key.split(":", 1)[0])


def similarity(sig_a: bytes, sig_b: bytes) -> float:
    """Estimated Jaccard similarity of the two shingle sets: the share of equal MinHash values."""
    if not sig_a or not sig_b:
        return 0.0
    if len(sig_a) != len(sig_b):
        raise ValueError(f"signatures of different lengths ({len(sig_a)} and {len(sig_b)} bytes)")
    a, b = _values(sig_a), _values(sig_b)
    return int(np.count_nonzero(a == b)) / a.size


def verify_bucket(key: str, members: Iterable[tuple[str, bytes]],
                  params: NearDupParams = DEFAULT) -> list[tuple[str, str]]:
    """Verified near-duplicate pairs (smaller id first) among the members of one band bucket.

    A pair that shares several bands lands in several buckets; it is checked and emitted only in
    the lowest band it shares, so each pair is verified once and no Distinct step is needed.
    Repeated ids are collapsed. Cost is quadratic in the bucket size, vectorised per row.
    """
    band = band_of(key)
    by_id = {article_id: sig for article_id, sig in members if sig}
    if len(by_id) < 2:
        return []
    ids = sorted(by_id)
    matrix = np.stack([_values(by_id[i], params) for i in ids])
    earlier = band * params.rows  # signature values that belong to lower bands
    pairs = []
    for i in range(len(ids) - 1):
        equal = matrix[i + 1:] == matrix[i]
        shared_lower = equal[:, :earlier].reshape(len(equal), band, params.rows).all(axis=2).any(axis=1)
        near = equal.sum(axis=1) / params.num_perm >= params.threshold  # same arithmetic as similarity()
        pairs.extend((ids[i], ids[i + 1 + j]) for j in np.flatnonzero(near & ~shared_lower))
    return pairs


def cluster(members: Iterable[tuple[str, Any]], pairs: Iterable[tuple[str, str]],
            known: Mapping[str, str] | None = None) -> dict[str, str]:
    """Union-find over verified pairs: maps every member id to its cluster_id.

    `members` are (article_id, sort_key); the cluster_id is the id of the member with the smallest
    (sort_key, article_id), e.g. sort_key = (published_at is None, published_at or 0). Members in
    no pair are their own cluster. Clusters are transitive: A~B and B~C join A and C.

    Across runs, pass the persisted members with keys that sort first (e.g. (0, published_at)
    against (1, published_at) for new ones) and their stored cluster_ids as `known`: a cluster whose
    earliest member is persisted then takes that member's stored cluster_id, so new rows join the
    cluster already on disk even when its first article is not among `members`.
    """
    order: dict[str, tuple[Any, str]] = {article_id: (key, article_id) for article_id, key in members}
    parent = {article_id: article_id for article_id in order}

    def find(x: str) -> str:
        while parent[x] != x:
            parent[x] = parent[parent[x]]  # path halving
            x = parent[x]
        return x

    for a, b in pairs:
        if a not in parent or b not in parent:
            raise ValueError(f"pair ({a!r}, {b!r}) names an id that is not among the members")
        ra, rb = find(a), find(b)
        if ra != rb:
            if order[rb] < order[ra]:
                ra, rb = rb, ra
            parent[rb] = ra  # the earlier root stays root, so every root is its cluster's earliest
    known = known or {}
    roots = {article_id: find(article_id) for article_id in parent}
    return {article_id: known.get(root, root) for article_id, root in roots.items()}


@dataclass(frozen=True)
class Member:
    """An article taking part in clustering: one of this run's (`cluster_id` None) or a stored one."""

    article_id: str
    rank: tuple  # `member_rank`: the cluster's first member is the one with the smallest rank
    cluster_id: str | None = None


def member_rank(from_store: bool, published: datetime | None, article_id: str) -> tuple:
    """Earlier runs' articles first, then the earliest published, then the id."""
    return (0 if from_store else 1, published.timestamp() if published else math.inf, article_id)


def assign_clusters(new: Iterable[Member], pairs: Iterable[tuple[Member, Member]]) -> dict[str, str]:
    """cluster_id of each new member, from the verified pairs it takes part in. Pairs of two stored
    members were settled by their own run and are ignored; a cluster whose first member is stored
    keeps that member's stored cluster_id."""
    members = {m.article_id: m for m in new}
    pairs = [(a, b) for a, b in pairs if a.cluster_id is None or b.cluster_id is None]
    for pair in pairs:
        members.update({m.article_id: m for m in pair})
    known = {m.article_id: m.cluster_id for m in members.values() if m.cluster_id}
    clusters = cluster([(i, m.rank) for i, m in members.items()],
                       [(a.article_id, b.article_id) for a, b in pairs], known)
    return {i: clusters[i] for i, m in members.items() if m.cluster_id is None}


def duplicate_of(article_id: str, cluster_id: str) -> str | None:
    """The `duplicate_of` column: None for a cluster's first article, else its cluster_id."""
    return None if article_id == cluster_id else cluster_id
