"""MarkNearDuplicates: one wire story through many feeds ends in one cluster, within and across runs.

    sign bodies (MinHash; most come signed from the extraction pool) -> band keys -> GroupByKey per
    band shard -> verify each band bucket's pairs -> union-find over the verified pairs
    -> cluster_id / duplicate_of on each new article

Candidate search scales out: a band shard holds only the bands whose index is its own modulo
`SHARDS`, and earlier runs' signatures (within `dedup.window_days`) join the same shards from the
state store, those that share a band with one of this run's articles only (a side input of the new
band keys, matched against a whole signature file's band digests at once), so the shuffle grows
with the run, not the window, and reading the window costs numpy time, not a Python step per
stored article. Only the final union-find runs on one worker, over this run's articles and the
pairs found, which is small. In a batch run its cluster ids reach the articles as a side input:
on the local runner a join (`CoGroupByKey`: a `Flatten`, then a `GroupByKey`) passes every article
through Beam's coder twice, a side input once. A stream joins them by id: with a side input there,
the TestStream test on the direct runner's streaming mode hung.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import replace
from datetime import timedelta

import apache_beam as beam

from pipeline.articles import neardup
from pipeline.articles.neardup import Member, member_rank
from pipeline.io import state
from pipeline.records import Article, utc_now
from pipeline.transforms.names import SIGNATURES, counter

_ALL = "all"  # the single key of the clustering step
# Band buckets travel in this many shards (band index mod SHARDS): one element per article and
# shard, not per band (32). On the local runner the stages from signing to clustering went from 17.1
# to 6.9 s of a 10,000-article run (4 runs of 2,500); verification still spreads over SHARDS workers.
SHARDS = 4


def _stored(row: dict) -> tuple[Member, bytes]:
    member = Member(row["article_id"], member_rank(True, row["published_at"], row["article_id"]), row["cluster_id"])
    return member, row["signature"]


def _by_shard(member: Member, sig: bytes, keys: Iterable[str]):
    """(shard, (member, signature, its keys in that shard)) per shard that holds one of `keys`."""
    mine: defaultdict[int, list[str]] = defaultdict(list)
    for key in keys:
        mine[neardup.band_of(key) % SHARDS].append(key)
    for shard, shard_keys in sorted(mine.items()):
        yield shard, (member, sig, tuple(shard_keys))


def _shards(item: tuple[Member, bytes], params: neardup.NearDupParams):
    """A new article's shard elements, with every band key."""
    member, sig = item
    return _by_shard(member, sig, neardup.band_keys(sig, params))


def _sharing_shards(rows: list[dict], params: neardup.NearDupParams, wanted: dict):
    """Shard elements of the stored articles (signature store rows) that share a band with a new
    one (`wanted`: the new band keys, `neardup.by_band`), with only the shared keys. An article that
    shares none can join no new cluster; the band digests of all of them are computed at once, so
    those cost no Python step."""
    rows = [row for row in rows if row["signature"]]  # an empty signature has no band keys
    for i, keys in neardup.shared_keys([row["signature"] for row in rows], wanted, params):
        yield from _by_shard(*_stored(rows[i]), keys)


def _stored_shards(file: tuple[str, str], params: neardup.NearDupParams, wanted: dict):
    """`_sharing_shards` of one signature file of the state store."""
    return _sharing_shards(state.read_signatures(*file), params, wanted)


class _BandKeys(beam.CombineFn):
    """The new articles' band keys, from their shard elements, by band (`neardup.by_band`)."""

    def create_accumulator(self) -> set:
        return set()

    def add_input(self, keys: set, element: tuple) -> set:
        keys.update(element[1][2])
        return keys

    def merge_accumulators(self, accumulators: Iterable[set]) -> set:
        return set().union(*accumulators)

    def extract_output(self, keys: set) -> dict:
        return neardup.by_band(keys)


def _verify(shard: tuple[int, Iterable], params: neardup.NearDupParams):
    """Verified pairs of one shard's band buckets that involve at least one of this run's articles."""
    buckets: defaultdict[str, dict] = defaultdict(dict)
    for member, sig, keys in shard[1]:
        for key in keys:
            buckets[key][member.article_id] = (member, sig)
    for key, by_id in buckets.items():
        if len(by_id) < 2 or all(m.cluster_id is not None for m, _ in by_id.values()):
            continue
        for a, b in neardup.verify_bucket(key, [(i, sig) for i, (_, sig) in by_id.items()], params):
            ma, mb = by_id[a][0], by_id[b][0]
            if ma.cluster_id is None or mb.cluster_id is None:
                yield _ALL, (ma, mb)


def _assign(_: str, groups: dict):
    yield from neardup.assign_clusters(groups["new"], groups["pairs"]).items()


def _sign(article: Article, signed: dict[str, bytes], params: neardup.NearDupParams) -> tuple[str, tuple]:
    """The article keyed by id, with its signature: the extraction pool's, found by content hash
    (the same normalised text), unless its body changed since (site boilerplate removed)."""
    sig = signed.get(article.content_hash) if article.content_hash else None
    return article.article_id, (article, sig if sig is not None else neardup.signature(article.body or "", params))


def _member(article_id: str, pair: tuple[Article, bytes]) -> tuple[Member, bytes]:
    """A new version of a written article (its cluster already set, `transforms/dedup.py`) is
    that article, stored: versions of one article are one member and stay in its cluster."""
    article, sig = pair
    stored = bool(article.cluster_id)
    return Member(article_id, member_rank(stored, article.published_at, article_id), article.cluster_id or None), sig


class _Mark(beam.DoFn):
    """(article_id, (article, signature)) and the article's cluster in: the marked article, and its
    signature row. The cluster comes joined (`Rejoin`, a stream) or from a side input (a batch run)."""

    flagged = counter("near_duplicates")

    def process(self, element, clusters: dict[str, str] | None = None):
        if clusters is None:  # joined: (article_id, {"article": [(article, sig)], "cluster": [cluster_id]})
            article_id, groups = element
            pairs, cluster_id = groups["article"], next(iter(groups["cluster"]), None)
        else:
            article_id, pair = element
            pairs, cluster_id = [pair], clusters.get(article_id)
        for article, sig in pairs:
            cluster = cluster_id or article.cluster_id or article_id
            marked = replace(article, cluster_id=cluster, duplicate_of=neardup.duplicate_of(article_id, cluster))
            if marked.duplicate_of:
                self.flagged.inc()
            yield marked
            yield beam.pvalue.TaggedOutput(SIGNATURES, {
                "article_id": article_id, "cluster_id": cluster, "published_at": article.published_at,
                "signature": sig, "ingest_date": article.ingest_date})


class MarkNearDuplicates(beam.PTransform):
    """Articles in, the same articles out with `cluster_id`/`duplicate_of`, plus signature rows.
    `signed`: (content hash, signature) pairs computed with `neardup.DEFAULT`'s shingles and
    permutations (`transforms/extract.py`), which only the threshold here differs from; a batch run
    passes them (a side input in the global window), a stream signs here (`None`)."""

    def __init__(self, ticks: beam.PCollection, signed: beam.PCollection | None, state_path: str,
                 threshold: float, window_days: int):
        super().__init__()
        self.ticks, self.signed, self.state_path, self.window_days = ticks, signed, state_path, window_days
        self.params = replace(neardup.DEFAULT, threshold=threshold)

    def expand(self, articles: beam.PCollection) -> beam.pvalue.DoOutputsTuple:
        params = self.params
        pooled = {} if self.signed is None else beam.pvalue.AsDict(self.signed)
        signed = articles | "Sign" >> beam.Map(
            _sign, signed=pooled, params=params).with_output_types(tuple[str, tuple[Article, bytes]])
        new = signed | "NewMembers" >> beam.MapTuple(_member)
        state_path, window = self.state_path, timedelta(days=self.window_days)
        new_shards = new | "NewShards" >> beam.FlatMap(_shards, params=params).with_output_types(tuple[int, tuple])
        new_keys = new_shards | "NewBandKeys" >> beam.CombineGlobally(_BandKeys()).without_defaults()
        # A stored article that shares no band with a new one can join no new cluster: filtering
        # before the shuffle keeps its cost in proportion to the new articles, not to the window.
        stored_shards = (self.ticks
                         | "SignatureFiles" >> beam.FlatMap(
                             lambda _: state.signature_files(state_path, (utc_now() - window).date()))
                         | "Spread" >> beam.Reshuffle()
                         | "StoredShards" >> beam.FlatMap(
                             _stored_shards, params=params,
                             wanted=beam.pvalue.AsSingleton(new_keys, default_value={}),
                         ).with_output_types(tuple[int, tuple]))
        pairs = ((new_shards, stored_shards) | "Members" >> beam.Flatten()
                 | "ByShard" >> beam.GroupByKey()
                 | "Verify" >> beam.FlatMap(_verify, params=params).with_output_types(tuple[str, tuple]))
        new_ids = new | "NewIds" >> beam.Map(lambda item: (_ALL, item[0])).with_output_types(tuple[str, Member])
        clusters = ({"pairs": pairs, "new": new_ids} | "Gather" >> beam.CoGroupByKey()
                    | "Cluster" >> beam.FlatMapTuple(_assign).with_output_types(tuple[str, str]))
        if self.signed is not None:  # a batch run: one window, so the clusters can be a side input
            return signed | "Mark" >> beam.ParDo(_Mark(), clusters=beam.pvalue.AsDict(clusters)).with_outputs(
                SIGNATURES, main="articles")
        return ({"article": signed, "cluster": clusters} | "Rejoin" >> beam.CoGroupByKey()
                | "Mark" >> beam.ParDo(_Mark()).with_outputs(SIGNATURES, main="articles"))
