"""PollFeeds: feed sources in; entries, rejects and each polled feed's new state out.

Feeds that are not due yet (see `pipeline.schedule`) are skipped and counted; the stored states
arrive as a side input, small enough for one per feed.
"""

from __future__ import annotations

from collections.abc import Iterable

import apache_beam as beam
from apache_beam.metrics import Metrics

from pipeline.config import HttpConfig, PollingConfig
from pipeline.io.state import read_feed_states
from pipeline.polling import PollOutcome, poll_feed
from pipeline.records import FeedSource, utc_now
from pipeline.schedule import FeedState, is_due
from pipeline.transforms.http_batch import REJECTS, HttpBatchFn, batched

FEED_STATES = "feed_states"


class _DueFn(beam.DoFn):
    not_due = Metrics.counter("news_ingest", "feeds_not_due")

    def __init__(self, respect_schedule: bool):
        self.respect_schedule = respect_schedule

    def process(self, source: FeedSource, states: dict[str, FeedState]):
        state = states.get(source.url) or FeedState(source.url)
        if self.respect_schedule and not is_due(state, utc_now()):
            self.not_due.inc()
            return
        yield source, state


class _PollFn(HttpBatchFn):
    polled = Metrics.counter("news_ingest", "feeds_polled")
    unchanged = Metrics.counter("news_ingest", "feeds_not_modified")
    failed = Metrics.counter("news_ingest", "feeds_failed")
    entries = Metrics.counter("news_ingest", "feed_entries")

    def __init__(self, http: HttpConfig, polling: PollingConfig):
        super().__init__(http, polling.respect_robots)
        self.polling = polling

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
    def __init__(self, http: HttpConfig, polling: PollingConfig, state_path: str):
        super().__init__()
        self.http, self.polling, self.state_path = http, polling, state_path

    def expand(self, sources: beam.PCollection) -> beam.pvalue.DoOutputsTuple:
        states = (sources.pipeline
                  | "StatePath" >> beam.Create([self.state_path])
                  | "ReadFeedStates" >> beam.FlatMap(lambda path: read_feed_states(path).items()))
        due = sources | "DueFeeds" >> beam.ParDo(_DueFn(self.polling.respect_schedule),
                                                 states=beam.pvalue.AsDict(states))
        return (batched(due, self.http, "BatchFeeds")
                | "Poll" >> beam.ParDo(_PollFn(self.http, self.polling)).with_outputs(
                    REJECTS, FEED_STATES, main="entries"))
