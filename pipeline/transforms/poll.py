"""PollFeeds: feed sources in, feed entries out (and a reject for every feed that failed)."""

from __future__ import annotations

from collections.abc import Iterable

import apache_beam as beam
from apache_beam.metrics import Metrics

from pipeline.config import HttpConfig
from pipeline.feeds import ParsedFeed, parse_feed
from pipeline.io.http import FetchResult
from pipeline.records import FeedSource, Reject
from pipeline.transforms.http_batch import REJECTS, HttpBatchFn, batched

FEED_ACCEPT = ("application/rss+xml, application/atom+xml, application/rdf+xml, "
               "application/xml;q=0.9, text/xml;q=0.9, */*;q=0.5")


class _PollFn(HttpBatchFn):
    polled = Metrics.counter("news_ingest", "feeds_polled")
    failed = Metrics.counter("news_ingest", "feeds_failed")
    entries = Metrics.counter("news_ingest", "feed_entries")

    def work(self, source: FeedSource) -> tuple[FetchResult, ParsedFeed | None]:
        res = self.http.get(source.url, trusted=True, accept=FEED_ACCEPT)
        if not res.ok or res.body is None:
            return res, None
        return res, parse_feed(res.body, source, res.final_url, res.content_type)

    def emit(self, source: FeedSource, result: tuple[FetchResult, ParsedFeed | None]) -> Iterable:
        res, parsed = result
        self.polled.inc()
        if parsed is None:
            self.failed.inc()
            yield beam.pvalue.TaggedOutput(
                REJECTS, Reject(source.url, None, "poll", res.error or "empty", res.status, res.detail))
            return
        if not parsed.entries and parsed.rejects:
            self.failed.inc()
        self.entries.inc(len(parsed.entries))
        yield from parsed.entries
        for reject in parsed.rejects:
            yield beam.pvalue.TaggedOutput(REJECTS, reject)


class PollFeeds(beam.PTransform):
    def __init__(self, http: HttpConfig):
        super().__init__()
        self.http = http

    def expand(self, sources: beam.PCollection) -> beam.pvalue.DoOutputsTuple:
        return (batched(sources, self.http, "BatchFeeds")
                | "Poll" >> beam.ParDo(_PollFn(self.http)).with_outputs(REJECTS, main="entries"))
