"""DueFeeds and PollFeeds: a tick in, the feeds due at that tick; then entries, rejects and each
polled feed's new state out.

Each tick reads the feeds' latest states from the store (one row per feed), so a long-running job
sees what its previous ticks wrote; feeds that are not due yet (`pipeline.sources.schedule`) are skipped
and counted.

Fetched feeds are parsed on a pool of processes like the extraction's (`transforms/pool.py`,
`extract.processes`): feedparser was most of the polling stage's CPU, on one core while the
other waited (2.7 s for the 100 feeds of 100 entries of a 10k backlog).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterable
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from urllib.parse import urlsplit

import apache_beam as beam
from apache_beam.coders import FloatCoder
from apache_beam.transforms import window
from apache_beam.transforms.userstate import ReadModifyWriteStateSpec

from pipeline.config import HttpConfig, PollingConfig
from pipeline.io.state import read_feed_states
from pipeline.records import FeedSource, utc_now
from pipeline.sources.feeds import ParsedFeed, parse_feed
from pipeline.sources.poll import PollOutcome, poll_feed
from pipeline.sources.schedule import FeedState, is_due
from pipeline.transforms.across_ticks import AcrossTicks
from pipeline.transforms.host_scheduler import ByHost, HostScheduledFn
from pipeline.transforms.names import FEED_STATES, REJECTS, counter
from pipeline.transforms.pool import pool_size, start_pool


class _DueFn(beam.DoFn):
    """A feed listed twice (by its URL) is handed out once per tick, the first listing's."""

    not_due = counter("feeds_not_due")

    def __init__(self, sources: list[FeedSource], state_path: str, respect_schedule: bool):
        first: dict[str, FeedSource] = {}
        for source in sources:
            first.setdefault(source.url, source)
        self.sources, self.state_path, self.respect_schedule = list(first.values()), state_path, respect_schedule

    def process(self, _tick: object):
        states = read_feed_states(self.state_path)
        now = utc_now()
        for source in self.sources:
            state = states.get(source.url) or FeedState(source.url)
            if self.respect_schedule and not is_due(state, now):
                self.not_due.inc()
                continue
            yield source.url, (source, state)


_CLAIMED_UNTIL = beam.DoFn.StateParam(ReadModifyWriteStateSpec("claimed_until", FloatCoder()))


class _Claim(beam.DoFn):
    """Per feed: a feed handed out for polling is not handed out again for its minimum interval
    (`min_interval_s`, or the feed's own `min_interval`/`poll_every`), the soonest any schedule
    could make it due, so a tick that starts before the previous one has recorded its poll does
    not poll the feed again."""

    not_due = counter("feeds_not_due")

    def __init__(self, polling: PollingConfig):
        self.params = polling.schedule_params()

    def process(self, element: tuple[str, tuple[FeedSource, FeedState]], claimed=_CLAIMED_UNTIL):
        now = time.time()
        if (claimed.read() or 0.0) > now:
            self.not_due.inc()
            return
        source = element[1][0]
        claimed.write(now + self.params.for_feed(source).min_interval.total_seconds())
        yield element[1]


class DueFeeds(beam.PTransform):
    """Ticks in; (source, stored state) for every feed due at that tick and not claimed by an
    earlier tick still at work."""

    def __init__(self, sources: list[FeedSource], state_path: str, polling: PollingConfig,
                 tick_windows: window.WindowFn | None = None):
        super().__init__()
        self.fn = _DueFn(sources, state_path, polling.respect_schedule)
        self.polling, self.tick_windows = polling, tick_windows

    def expand(self, ticks: beam.PCollection) -> beam.PCollection:
        due = ticks | "Due" >> beam.ParDo(self.fn).with_output_types(tuple[str, tuple[FeedSource, FeedState]])
        if not self.polling.respect_schedule or self.tick_windows is None:  # one tick: no claims to keep
            return due | "Values" >> beam.Values()
        return due | "Claim" >> AcrossTicks(beam.ParDo(_Claim(self.polling)), self.tick_windows)


class _PollFn(HostScheduledFn):
    polled = counter("feeds_polled")
    unchanged = counter("feeds_not_modified")
    failed = counter("feeds_failed")
    entries = counter("feed_entries")
    changed = counter("entries_changed")

    def __init__(self, http: HttpConfig, polling: PollingConfig, robots_scope: str | None, processes: int):
        super().__init__(http, polling.respect_robots, robots_scope)
        self.polling, self.processes = polling, pool_size(processes)

    def setup(self) -> None:
        super().setup()
        self.parsers: ProcessPoolExecutor | None = None
        self.parsers_lock = threading.Lock()  # the fetch threads share the pool

    def teardown(self) -> None:
        self._stop_parsers()
        super().teardown()

    def work(self, item: tuple[FeedSource, FeedState]) -> PollOutcome:
        source, state = item
        parse = self._parse_on_pool if self.processes > 1 else parse_feed
        return poll_feed(self.http, self.robots, source, state, self.polling, parse_document=parse)

    def _parse_on_pool(self, body: bytes, source: FeedSource, fetched_url: str, content_type: str) -> ParsedFeed:
        """`parse_feed` on a pool process. A process that dies fails the feeds it held (each a
        `parse_error`, retried at the feed's next poll); the next feed gets a new pool."""
        with self.parsers_lock:
            if self.parsers is None:
                self.parsers = start_pool(self.processes)
            parsers = self.parsers
        try:
            return parsers.submit(parse_feed, body, source, fetched_url, content_type).result()
        except BrokenProcessPool:
            with self.parsers_lock:
                if self.parsers is parsers:
                    self.parsers = None
            raise

    def finish_bundle(self):
        yield from super().finish_bundle()
        self._stop_parsers()  # the extraction pool needs the cores next

    def _stop_parsers(self) -> None:
        with self.parsers_lock:
            parsers, self.parsers = self.parsers, None
        if parsers is not None:
            parsers.shutdown(cancel_futures=True)

    def emit(self, item: tuple[FeedSource, FeedState], outcome: PollOutcome) -> Iterable:
        self.polled.inc()
        if outcome.status == "not_modified":
            self.unchanged.inc()
        elif outcome.status == "failed":
            self.failed.inc()
        self.entries.inc(len(outcome.entries))
        self.changed.inc(sum(e.revision for e in outcome.entries))
        yield from outcome.entries
        for reject in outcome.rejects:
            yield beam.pvalue.TaggedOutput(REJECTS, reject)
        yield beam.pvalue.TaggedOutput(FEED_STATES, outcome.state)


class PollFeeds(beam.PTransform):
    """`robots_scope`: the runs that share their robots.txt files (`io/robots.py`); `processes`:
    the feed parsers' pool (`extract.processes`: 0 one per core, 1 none)."""

    def __init__(self, http: HttpConfig, polling: PollingConfig, robots_scope: str | None = None,
                 processes: int = 0):
        super().__init__()
        self.http, self.polling, self.robots_scope, self.processes = http, polling, robots_scope, processes

    def expand(self, due: beam.PCollection) -> beam.pvalue.DoOutputsTuple:
        poll = _PollFn(self.http, self.polling, self.robots_scope, self.processes)
        return (due
                | "ByHost" >> ByHost(lambda item: urlsplit(item[0].url).hostname or "")
                | "Poll" >> beam.ParDo(poll).with_outputs(REJECTS, FEED_STATES, main="entries"))
