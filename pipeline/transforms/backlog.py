"""LimitBacklog: at most `polling.max_entries_per_run` new entries go on to be fetched per run;
ReadBacklog: the entries earlier runs deferred, back in.

The local runner holds every stage's output in memory until the stage ends, so a first run over
hundreds of feeds (or a large sitemap) would need memory in proportion to its backlog. Capping the
entries per run bounds it: the rest are written to `<state>/backlog/` (before the feeds' states,
so a feed is never recorded as read while its entries are nowhere), the next run or tick reads
them back beside what it polls, and `run_batch` runs again until nothing waits. Feeds are not
polled again for it. Entries are taken newest first, round-robin over feeds, so every source moves
forward and many hosts share the fetching.

Only the first `limit` waiting entries in that order go on beside what a run polls: adding entries
only moves an entry further back in line (`sources/backlog.py`), so the others cannot be taken this
run. They go straight back to the backlog with the run's deferred entries, instead of through the
seen-link check and the cap: an entry is checked when polled and when its turn comes, not once
per run it waits (a 50,000-entry backlog in runs of 2,500 waited 10 runs on average).
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


def _read_all(files: list[tuple[str, str]]) -> tuple[str, list[FeedEntry]]:
    return "all", [entry for root, file in files for entry in state.read_backlog(root, file)]


class ReadBacklog(beam.PTransform):
    """Ticks in; (entries, passed over, files): the first `limit` entries earlier runs deferred
    (0: all), the others, which stay deferred, and the backlog files they came from (deleted once
    this tick's articles and its own backlog are committed). One worker reads them all: the order
    needs every waiting entry, as the cap's single group does."""

    def __init__(self, state_path: str, limit: int):
        super().__init__()
        self.state_path, self.limit = state_path, limit

    def expand(self, ticks: beam.PCollection) -> tuple[beam.PCollection, beam.PCollection, beam.PCollection]:
        state_path = self.state_path
        listed = ticks | "ListBacklog" >> beam.Map(lambda _: state.backlog_files(state_path))
        files = listed | "Files" >> beam.FlatMap(lambda files: files)
        waiting = listed | "ReadEntries" >> beam.Map(_read_all)
        if not self.limit:
            entries = waiting | "Entries" >> beam.FlatMapTuple(lambda _, entries: entries)
            return entries, entries | "NonePassedOver" >> beam.FlatMap(lambda _: ()), files
        first = waiting | "FirstInLine" >> beam.ParDo(_Take(self.limit)).with_outputs(DEFERRED, main="taken")
        return first.taken, first[DEFERRED], files
