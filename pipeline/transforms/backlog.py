"""LimitBacklog: at most `polling.max_entries_per_run` new entries go on to be fetched per run;
ReadBacklog: the entries earlier runs deferred, back in.

The local runner holds every stage's output in memory until the stage ends, so a first run over
hundreds of feeds (or a large sitemap) would need memory in proportion to its backlog. Capping the
entries per run bounds it: the rest are written to `<state>/backlog/` (before the feeds' states,
so a feed is never recorded as read while its entries are nowhere), the next run or tick reads
them back beside what it polls, and `run_batch` runs again until nothing waits. Feeds are not
polled again for it. Entries are taken newest first, round-robin over feeds, so every source moves
forward and many hosts share the fetching.
"""

from __future__ import annotations

from collections.abc import Iterable

import apache_beam as beam

from pipeline.io import state
from pipeline.records import FeedEntry
from pipeline.sources.backlog import split_backlog
from pipeline.transforms.names import DEFERRED, counter


class _Take(beam.DoFn):
    deferred = counter("entries_deferred")

    def __init__(self, limit: int):
        self.limit = limit

    def process(self, element: tuple[str, Iterable[FeedEntry]]):
        taken, deferred = split_backlog(element[1], self.limit)
        yield from taken
        self.deferred.inc(len(deferred))
        for entry in deferred:
            yield beam.pvalue.TaggedOutput(DEFERRED, entry)


class LimitBacklog(beam.PTransform):
    """New entries in; at most `limit` per window out (0: all), and the deferred rest."""

    def __init__(self, limit: int):
        super().__init__()
        self.limit = limit

    def expand(self, entries: beam.PCollection) -> beam.pvalue.DoOutputsTuple | tuple:
        if not self.limit:
            return entries, entries | "NoneDeferred" >> beam.FlatMap(lambda _: ())
        taken = (entries
                 | "OneKey" >> beam.Map(lambda e: ("all", e)).with_output_types(tuple[str, FeedEntry])
                 | "Together" >> beam.GroupByKey()
                 | "Take" >> beam.ParDo(_Take(self.limit)).with_outputs(DEFERRED, main="taken"))
        return taken.taken, taken[DEFERRED]


class ReadBacklog(beam.PTransform):
    """Ticks in; (entries, files): the deferred entries, and the backlog files they came from
    (deleted once this tick's articles and its own backlog are committed)."""

    def __init__(self, state_path: str):
        super().__init__()
        self.state_path = state_path

    def expand(self, ticks: beam.PCollection) -> tuple[beam.PCollection, beam.PCollection]:
        state_path = self.state_path
        files = (ticks
                 | "ListBacklog" >> beam.FlatMap(lambda _: state.backlog_files(state_path))
                 | "Spread" >> beam.Reshuffle())
        entries = files | "ReadEntries" >> beam.FlatMapTuple(state.read_backlog)
        return entries, files
