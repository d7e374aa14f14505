"""DueFeeds and PollFeeds: a tick in, the feeds due at that tick; then entries, rejects and each
polled feed's new state out.

Each tick reads the feeds' latest states from the store (one row per feed), so a long-running job
sees what its previous ticks wrote; feeds that are not due yet (`pipeline.schedule`) are skipped
and counted.
"""

from __future__ import annotations

from collections.abc import Iterable
from urllib.parse import urlsplit

import apache_beam as beam
from apache_beam.metrics import Metrics

from pipeline.config import HttpConfig, PollingConfig
from pipeline.io.state import read_feed_states
from pipeline.polling import PollOutcome, poll_feed
from pipeline.records import FeedSource, utc_now
from pipeline.schedule import FeedState, is_due
from pipeline.transforms.http_batch import REJECTS, HttpBatchFn

FEED_STATES = "feed_states"


class _DueFn(beam.DoFn):
    not_due = Metrics.counter("news_ingest", "feeds_not_due")

    def __init__(self, sources: list[FeedSource], state_path: str, respect_schedule: bool):
        self.sources, self.state_path, self.respect_schedule = sources, state_path, respect_schedule

    def process(self, _tick: object):
        states = read_feed_states(self.state_path)
        now = utc_now()
        for source in self.sources:
            state = states.get(source.url) or FeedState(source.url)
            if self.respect_schedule and not is_due(state, now):
                self.not_due.inc()
                continue
            yield source, state


class DueFeeds(beam.PTransform):
    """Ticks in; (source, stored state) for every feed due at that tick, spread over workers."""

    def __init__(self, sources: list[FeedSource], state_path: str, respect_schedule: bool):
        super().__init__()
        self.fn = _DueFn(sources, state_path, respect_schedule)

    def expand(self, ticks: beam.PCollection) -> beam.PCollection:
        return ticks | "Due" >> beam.ParDo(self.fn) | "Spread" >> beam.Reshuffle()


class _PollFn(HttpBatchFn):
    polled = Metrics.counter("news_ingest", "feeds_polled")
    unchanged = Metrics.counter("news_ingest", "feeds_not_modified")
    failed = Metrics.counter("news_ingest", "feeds_failed")
    entries = Metrics.counter("news_ingest", "feed_entries")

    def __init__(self, http: HttpConfig, polling: PollingConfig):
        super().__init__(http, polling.respect_robots)
        self.polling = polling

    def host_of(self, item: tuple[FeedSource, FeedState]) -> str:
        return urlsplit(item[0].url).hostname or ""

    def work(self, item: tuple[FeedSource, FeedState]) -> PollOutcome:
        source, state = item
        return poll_feed(self.http, self.robots, source, state, self.polling)

    def emit(self, item: tuple[FeedSource, FeedState], outcome: PollOutcome) -> Iterable:
        self.polled.inc()
        if outcome.status == "not_modified":
            self.unchanged.inc()
        elif outcome.status == "failed":
            self.failed.inc()
        self.entries.inc(len(outcome.entries))
        yield from outcome.entries
        for reject in outcome.rejects:
            yield beam.pvalue.TaggedOutput(REJECTS, reject)
        yield beam.pvalue.TaggedOutput(FEED_STATES, outcome.state)


class PollFeeds(beam.PTransform):
    def __init__(self, http: HttpConfig, polling: PollingConfig):
        super().__init__()
        self.http, self.polling = http, polling

    def expand(self, due: beam.PCollection) -> beam.pvalue.DoOutputsTuple:
        return (due
                | "Poll" >> beam.ParDo(_PollFn(self.http, self.polling)).with_outputs(
                    REJECTS, FEED_STATES, main="entries"))
