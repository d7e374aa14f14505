"""Exact-duplicate removal, within a run, across ticks and against earlier runs, with keyed state.

Per check (link, canonical URL, body hash): a `GroupByKey` on a stable hash bucket of the key
(`state.bucket_of`) picks, within the bucket, one item per key by a deterministic order (so which
copy is kept does not depend on arrival order); each bucket's picks then go, as one element,
through a stateful DoFn with one state cell per bucket, in the global window (`AcrossTicks`): the
keys earlier runs recorded in that bucket, read from the bucket's own folder of the seen store when
its first picks arrive, and the keys let through since. No timers, no global in-process state, and
no worker holds more than its buckets (ARCHITECTURE.md, "State across ticks and runs"). Grouping
by bucket, not by key, sends one element per bucket into the stateful step instead of one per
item, and reads and writes each bucket's state once per tick.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

import apache_beam as beam
from apache_beam.coders import PickleCoder
from apache_beam.transforms import window
from apache_beam.transforms.userstate import ReadModifyWriteStateSpec

from pipeline.articles.versions import Latest, latest_versions, next_version
from pipeline.io import state
from pipeline.records import Article, FeedEntry
from pipeline.transforms.across_ticks import AcrossTicks
from pipeline.transforms.names import DUPLICATES, counter
from pipeline.urls import canonicalize_url


def _entry_order(e: FeedEntry) -> tuple:
    """A link that is already canonical (no tracking parameters) first, then the earliest."""
    return (canonicalize_url(e.link) != e.link, e.published_at is None, e.published_at or 0, e.feed_url, e.link)


def article_order(a: Article) -> tuple:
    """A body from the page beats one from the feed, then the earliest."""
    return (not a.body_source.startswith("page"), a.published_at is None, a.published_at or 0, a.feed_url, a.url)


class _PickFirst(beam.DoFn):
    """(bucket, [(key, item)]) in; (bucket, [(key, first item)]), one pick per key (main), and the
    other items of each key (DUPLICATES) out."""

    dropped = counter("duplicates_dropped")

    def __init__(self, order: Callable):
        self.order = order

    def process(self, element: tuple[int, Iterable[tuple[str, object]]]):
        bucket, keyed = element
        by_key: defaultdict[str, list] = defaultdict(list)
        for key, item in keyed:
            by_key[key].append(item)
        picks = []
        for key, items in by_key.items():
            first, *rest = sorted(items, key=self.order)
            picks.append((key, first))
            self.dropped.inc(len(rest))
            for item in rest:
                yield beam.pvalue.TaggedOutput(DUPLICATES, item)
        yield bucket, picks


@dataclass
class _BucketKeys:
    stored: frozenset[str]  # recorded by earlier runs (or ticks)
    added: set[str] = field(default_factory=set)  # let through since


_SEEN = ReadModifyWriteStateSpec("seen", PickleCoder())  # one _BucketKeys per bucket
_SEEN_STATE = beam.DoFn.StateParam(_SEEN)


def _unseen(keys: _BucketKeys, picks: Iterable[tuple[str, object]], known, dropped):
    """The picks whose key the bucket has not seen (recorded as seen now); the others as DUPLICATES,
    counted on the counter `known` (an earlier run's key) or `dropped` (this run's)."""
    for key, item in picks:
        if key in keys.stored or key in keys.added:
            (known if key in keys.stored else dropped).inc()
            yield beam.pvalue.TaggedOutput(DUPLICATES, item)
        else:
            keys.added.add(key)
            yield item


class _Unseen(beam.DoFn):
    """`across_ticks`: keep each bucket's keys in Beam's state for the next tick. A batch run is
    one tick, where each bucket comes once (a `GroupByKey` gives one group per key), so its state
    would be written and never read; and each write costs the local runner a deep sizing of the
    value (objsize: about 0.4 ms, plus the keys) and a pickling, on one core."""

    known = counter("already_seen")
    dropped = counter("duplicates_dropped")

    def __init__(self, kind: str, state_path: str, output_path: str | None, across_ticks: bool):
        self.kind, self.state_path, self.output_path = kind, state_path, output_path
        self.across_ticks = across_ticks

    def process(self, element: tuple[int, list[tuple[str, object]]], seen=_SEEN_STATE):
        bucket, picks = element
        keys = seen.read() if self.across_ticks else None
        if keys is None:
            keys = _BucketKeys(frozenset(state.read_seen_bucket(self.state_path, bucket, self.output_path)[self.kind]))
        yield from _unseen(keys, picks, self.known, self.dropped)
        if self.across_ticks:
            seen.write(keys)


def first_per_key(items: beam.PCollection, key: Callable, order: Callable, label: str,
                  bucket: Callable | None = None) -> beam.pvalue.DoOutputsTuple:
    """Within a tick: (bucket, [(key, first item)]) per seen-store bucket, one pick per key by
    `order` (`first`), and the other items (DUPLICATES). `bucket`: an item's bucket (by default,
    its key's)."""
    def keyed(x: object) -> tuple[int, tuple[str, object]]:
        k = key(x)
        return state.bucket_of(k) if bucket is None else bucket(x), (k, x)

    return (items
            | f"{label}Key" >> beam.Map(keyed).with_output_types(tuple[int, tuple[str, object]])
            | f"{label}Group" >> beam.GroupByKey()
            | f"{label}PickFirst" >> beam.ParDo(_PickFirst(order)).with_outputs(DUPLICATES, main="first"))


def picked_items(picks: beam.PCollection, label: str) -> beam.PCollection:
    """The items of `first_per_key`'s picks."""
    return picks | label >> beam.FlatMap(lambda bucket_picks: [item for _, item in bucket_picks[1]])


def _first_unseen(items: beam.PCollection, key: Callable, order: Callable, kind: str, state_path: str,
                  tick_windows: window.WindowFn | None, label: str,
                  output_path: str | None) -> tuple[beam.PCollection, tuple[beam.PCollection, beam.PCollection]]:
    """(unique, (repeats within the tick, already seen)) of `items` by `key`; `output_path`'s
    articles rebuild a bucket whose seen files do not read. The duplicates come as two inputs, for
    a caller to flatten with its own (each `Flatten` is a stage and a pass through the coder)."""
    picked = first_per_key(items, key, order, label)
    unseen = beam.ParDo(_Unseen(kind, state_path, output_path, tick_windows is not None)).with_outputs(
        DUPLICATES, main="unique")
    unique, known = picked.first | f"{label}Unseen" >> AcrossTicks(unseen, tick_windows)
    return unique, (picked[DUPLICATES], known)


class SkipSeenLinks(beam.PTransform):
    """Before fetching: drop entries whose canonical link an earlier run (or another feed) has.
    An entry the feed says changed (`FeedEntry.revision`) passes, once per link per tick: its page
    is fetched again and compared with the article's latest version (`DropDuplicateArticles`)."""

    def __init__(self, state_path: str, tick_windows: window.WindowFn | None = None,
                 output_path: str | None = None):
        super().__init__()
        self.state_path, self.tick_windows, self.output_path = state_path, tick_windows, output_path

    def expand(self, entries: beam.PCollection) -> beam.PCollection:
        first, revised = entries | "IsRevision" >> beam.Partition(lambda e, _: int(e.revision), 2)
        unique, _ = _first_unseen(first, lambda e: e.url_key, _entry_order, state.URL, self.state_path,
                                  self.tick_windows, "Link", self.output_path)
        refetch = first_per_key(revised, lambda e: e.url_key, _entry_order, "Revised")
        return (unique, picked_items(refetch.first, "RevisedEntries")) | "NewOrChanged" >> beam.Flatten()


_LATEST = beam.DoFn.StateParam(ReadModifyWriteStateSpec("latest", PickleCoder()))  # article_id -> Latest


class _UnseenOrNextVersion(beam.DoFn):
    """One bucket's picks of new articles and refetches (at most one of each per article): a new
    article passes if its URL is unseen; a refetch becomes the next version of its article
    (`articles.versions.next_version`) or nothing (body unchanged), and a refetch of an article with
    no recorded version competes with the new ones, by `article_order`. Both kinds in one step,
    keyed alike, so they are never split and flattened back together: on the local runner each
    `Flatten` is every article's one more pass through Beam's coder. `across_ticks` as `_Unseen`'s."""

    known = counter("already_seen")
    dropped = counter("duplicates_dropped")
    written = counter("versions_written")
    unchanged = counter("refetches_unchanged")

    def __init__(self, state_path: str, output_path: str | None, across_ticks: bool):
        self.state_path, self.output_path, self.across_ticks = state_path, output_path, across_ticks

    def process(self, element: tuple[int, list[tuple[str, tuple[bool, Article]]]], seen=_SEEN_STATE,
                latest=_LATEST):
        bucket, picks = element
        keys, versions = (seen.read(), latest.read()) if self.across_ticks else (None, None)
        if keys is None or versions is None:  # the bucket's first picks: seeded from its folder
            stored = state.read_seen_bucket(self.state_path, bucket, self.output_path)
            keys, versions = _BucketKeys(frozenset(stored[state.URL])), latest_versions(stored[state.VERSION])
        new = {article.article_id: article for _, (revision, article) in picks if not revision}
        for _, (revision, article) in picks:
            prior = versions.get(article.article_id) if revision else None
            if revision and prior is None:  # never written: checked like a new article
                other = new.setdefault(article.article_id, article)
                if other is not article:
                    first, rest = sorted((other, article), key=article_order)
                    new[article.article_id] = first
                    self.dropped.inc()
                    yield beam.pvalue.TaggedOutput(DUPLICATES, rest)
            elif revision:
                version = next_version(prior, article)
                if version is None:
                    self.unchanged.inc()
                    continue
                self.written.inc()
                versions[article.article_id] = Latest(version.version, version.content_hash, version.cluster_id,
                                                      version.body_source)
                yield version
        yield from _unseen(keys, new.items(), self.known, self.dropped)
        if self.across_ticks:
            seen.write(keys)
            latest.write(versions)


def _body_key(article: Article) -> str:
    """The body hash. A new version is keyed by its id and number, and an article without a body
    hash (no text) by its id: keys no body hash and no other article of the tick share, so they
    pass the body check. Checking them there, not around it, spares a `Flatten`."""
    if article.version > 1:
        return f"version:{article.article_id}:{article.version}"
    return article.content_hash or f"id:{article.article_id}"


class DropDuplicateArticles(beam.PTransform):
    """After extraction, `(revision, article)` pairs in (`DropSiteBoilerplate`): (articles, dropped).
    Repeats of a canonical URL, then of a normalised body, are dropped; a refetch of a changed entry
    comes out as its article's next version, or not at all when its body is unchanged."""

    def __init__(self, state_path: str, tick_windows: window.WindowFn | None = None,
                 output_path: str | None = None):
        super().__init__()
        self.state_path, self.tick_windows, self.output_path = state_path, tick_windows, output_path

    def expand(self, pairs: beam.PCollection) -> tuple[beam.PCollection, beam.PCollection]:
        picked = first_per_key(pairs, lambda pair: f"{'refetch:' if pair[0] else ''}{pair[1].article_id}",
                               lambda pair: article_order(pair[1]), "Url",
                               bucket=lambda pair: state.bucket_of(pair[1].article_id))
        across_ticks = self.tick_windows is not None
        step = beam.ParDo(_UnseenOrNextVersion(self.state_path, self.output_path, across_ticks)).with_outputs(
            DUPLICATES, main="unique")
        by_url, known = picked.first | "UrlUnseen" >> AcrossTicks(step, self.tick_windows)
        # a refetch beyond the first of its article in a tick is let go, not dropped: a dropped
        # article's keys are recorded as seen, and a refetch's body was never written
        repeated = picked[DUPLICATES] | "UrlRepeats" >> beam.FlatMap(lambda pair: [] if pair[0] else [pair[1]])
        unique, body_dups = _first_unseen(by_url, _body_key, article_order, state.CONTENT,
                                          self.state_path, self.tick_windows, "Body", self.output_path)
        return unique, (repeated, known, *body_dups) | "Dropped" >> beam.Flatten()


def remembered_keys(article: Article) -> list[tuple[str, str]]:
    """The seen keys an article, written or dropped, leaves for later runs: its canonical URL key,
    its feed link's key (when they differ) and its body hash."""
    row = {"article_id": article.article_id, "url": article.url, "content_hash": article.content_hash}
    return sorted(set(state.article_keys(row)))
