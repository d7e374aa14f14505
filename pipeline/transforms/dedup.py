"""Exact-duplicate removal, within a run and against earlier runs, as keyed joins.

Joins (CoGroupByKey) rather than an in-memory set: the same graph scales out on a distributed
runner, where no worker can hold every key ever seen.
"""

from __future__ import annotations

from collections.abc import Callable

import apache_beam as beam
from apache_beam.metrics import Metrics

from pipeline.io import state
from pipeline.records import Article, FeedEntry
from pipeline.urls import canonicalize_url, url_key

DUPLICATES = "duplicates"


class LoadSeenKeys(beam.PTransform):
    """Per tick, (kind, key) pairs of everything written before it, split by kind: `url`, `content`.

    Read afresh at each tick, in the tick's window, so the joins below see what earlier ticks of a
    long-running job wrote (see README, "Streaming", for the cost and the alternative)."""

    def __init__(self, output_path: str, state_path: str):
        super().__init__()
        self.output_path, self.state_path = output_path, state_path

    def expand(self, ticks: beam.PCollection) -> beam.pvalue.DoOutputsTuple:
        def split(pair: tuple[str, str]):
            yield beam.pvalue.TaggedOutput(pair[0], pair[1])

        output_path, state_path = self.output_path, self.state_path
        return (ticks
                | "ListFiles" >> beam.FlatMap(lambda _: state.list_key_files(output_path, state_path))
                | "Spread" >> beam.Reshuffle()
                | "ReadKeys" >> beam.FlatMapTuple(state.read_keys)
                | "ByKind" >> beam.FlatMap(split).with_outputs(state.URL, state.CONTENT))


def _entry_order(e: FeedEntry) -> tuple:
    return (e.published_at is None, e.published_at or 0, e.feed_url, e.link)


def _article_order(a: Article) -> tuple:
    return (a.body_source != "page", a.published_at is None, a.published_at or 0, a.feed_url, a.url)


class _KeepFirstUnseen(beam.DoFn):
    """Per key: nothing if an earlier run has it, else the first item by a deterministic order."""

    dropped = Metrics.counter("news_ingest", "duplicates_dropped")
    known = Metrics.counter("news_ingest", "already_seen")

    def __init__(self, order: Callable):
        self.order = order

    def process(self, element):
        _, groups = element
        items = sorted(groups["new"], key=self.order)
        seen_before = any(True for _ in groups["seen"])
        keep = [] if seen_before else items[:1]
        for item in items[len(keep):]:
            (self.known if seen_before else self.dropped).inc()
            yield beam.pvalue.TaggedOutput(DUPLICATES, item)
        yield from keep


def _first_unseen(items: beam.PCollection, seen: beam.PCollection, key: Callable,
                  order: Callable, label: str) -> beam.pvalue.DoOutputsTuple:
    keyed = items | f"{label}Key" >> beam.Map(lambda x: (key(x), x)).with_output_types(tuple[str, object])
    seen_keyed = seen | f"{label}Seen" >> beam.Map(lambda k: (k, None)).with_output_types(tuple[str, None])
    return ({"new": keyed, "seen": seen_keyed}
            | f"{label}Join" >> beam.CoGroupByKey()
            | f"{label}Pick" >> beam.ParDo(_KeepFirstUnseen(order)).with_outputs(DUPLICATES, main="unique"))


class SkipSeenLinks(beam.PTransform):
    """Before fetching: drop entries whose canonical link an earlier run (or another feed) has."""

    def __init__(self, seen_urls: beam.PCollection):
        super().__init__()
        self.seen_urls = seen_urls

    def expand(self, entries: beam.PCollection) -> beam.pvalue.DoOutputsTuple:
        return _first_unseen(entries, self.seen_urls, lambda e: e.url_key, _entry_order, "Link")


class DropDuplicateArticles(beam.PTransform):
    """After extraction: drop repeats of a canonical URL, then of a normalised body."""

    def __init__(self, seen_urls: beam.PCollection, seen_content: beam.PCollection):
        super().__init__()
        self.seen_urls, self.seen_content = seen_urls, seen_content

    def expand(self, articles: beam.PCollection) -> beam.pvalue.PCollection:
        by_url = _first_unseen(articles, self.seen_urls, lambda a: a.article_id, _article_order, "Url")
        with_body = by_url.unique | "HasHash" >> beam.Partition(lambda a, n: int(bool(a.content_hash)), 2)
        by_body = _first_unseen(with_body[1], self.seen_content, lambda a: a.content_hash,
                                _article_order, "Body")
        unique = (with_body[0], by_body.unique) | "Unique" >> beam.Flatten()
        dropped = (by_url[DUPLICATES], by_body[DUPLICATES]) | "Dropped" >> beam.Flatten()
        return unique, dropped


def remembered_keys(article: Article, dropped: bool) -> list[tuple[str, str]]:
    """Keys to add to the seen state beyond what the articles dataset holds (see pipeline.io.state)."""
    keys = []
    link_key = url_key(canonicalize_url(article.url))
    if link_key != article.article_id or dropped:
        keys.append((state.URL, link_key))
    if dropped:
        keys.append((state.URL, article.article_id))
    return keys
