"""RecordState: what the next tick or run needs, written only after the articles it vouches for.

Seen keys and near-duplicate signatures wait for the articles' files; each polled feed's state
waits for those and for its deferred entries in the backlog (a feed is never recorded as read
while its entries are nowhere); the backlog files this tick consumed are deleted last.
"""

from __future__ import annotations

from dataclasses import replace
from typing import NamedTuple

import apache_beam as beam

from pipeline.articles.versions import key_of
from pipeline.io import state
from pipeline.records import utc_now
from pipeline.sources.schedule import FeedState
from pipeline.transforms.dedup import remembered_keys
from pipeline.transforms.write import After, WriteParquet


class StateOutputs(NamedTuple):
    """The outputs of one tick that state is recorded from."""

    kept: beam.PCollection  # articles written
    dropped: tuple[beam.PCollection, ...]  # articles dropped as exact or near duplicates
    feed_states: beam.PCollection  # each polled feed's new FeedState
    deferred: beam.PCollection  # entries over the per-run cap
    consumed: beam.PCollection  # (root, file) of the backlog files this tick read
    signatures: beam.PCollection  # near-duplicate signature rows
    line_keys: beam.PCollection  # each page's line keys, for the site boilerplate store


class _FeedHealthRows(beam.DoFn):
    """Each polled feed's new state, with the articles it yielded in this run added. A feed that was
    not polled but whose deferred entries were written now gets its stored state updated."""

    def __init__(self, state_path: str, run_id: str):
        self.state_path, self.run_id = state_path, run_id

    def start_bundle(self) -> None:
        self.stored: dict[str, FeedState] | None = None

    def process(self, element: tuple[str, dict]):
        feed_url, groups = element
        written = sum(groups["written"])
        polled = list(groups["state"])
        for s in polled:
            yield state.feed_state_row(replace(s, articles_written_total=s.articles_written_total + written),
                                       self.run_id)
        if written and not polled:
            if self.stored is None:
                self.stored = {s.discovered_url or s.feed_url: s
                               for s in state.read_feed_states(self.state_path).values()}
            if feed_url in self.stored:
                s = self.stored[feed_url]
                yield state.feed_state_row(replace(s, articles_written_total=s.articles_written_total + written),
                                           self.run_id, updated_at=utc_now())


class RecordState(beam.PTransform):
    """`committed` (the article files written) in; the state stores written after it."""

    def __init__(self, state_path: str, run_id: str, compression: str, outputs: StateOutputs):
        super().__init__()
        self.state_path, self.run_id, self.compression, self.outputs = state_path, run_id, compression, outputs

    def expand(self, committed: beam.PCollection) -> None:
        out, state_path, run_id = self.outputs, self.state_path, self.run_id

        def write(store: state.Store, counter: str) -> WriteParquet:
            return WriteParquet(store.root(state_path), store.schema, store.partition_by, run_id, self.compression,
                                counter=counter)

        # Keys per input, then one Flatten of the keys: on the local runner a Flatten is written out
        # and read back whole, and the articles' would be every article's one more pass through the coder.
        keys = [out.kept | "KeptKeys" >> beam.FlatMap(remembered_keys),
                *(dropped | f"DroppedKeys{i}" >> beam.FlatMap(remembered_keys)
                  for i, dropped in enumerate(out.dropped))]
        versions = out.kept | "VersionKeys" >> beam.Map(lambda a: (state.VERSION, key_of(a)))
        seen = ((*keys, versions) | "AllKeys" >> beam.Flatten()
                | "SeenRows" >> beam.MapTuple(lambda kind, key: state.seen_row(kind, key, run_id)))
        # one barrier for the three stores that wait for the articles: each barrier is a join
        signatures, line_keys, seen = (out.signatures, out.line_keys, seen) | "AfterArticles" >> After(committed)
        _ = signatures | "WriteSignatures" >> write(state.SIGNATURES, "signatures_written")
        _ = line_keys | "WriteLineKeys" >> write(state.BOILERPLATE, "boilerplate_pages_written")
        _ = seen | "WriteSeen" >> write(state.SEEN, "seen_keys_written")
        spooled = (out.deferred
                   | "BacklogRows" >> beam.Map(state.backlog_row, run_id=run_id)
                   | "WriteBacklog" >> write(state.BACKLOG, "backlog_written"))
        done = (committed, spooled) | "ArticlesAndBacklog" >> beam.Flatten()
        written = (out.kept
                   | "ByFeed" >> beam.Map(lambda a: (a.feed_url, 1)).with_output_types(tuple[str, int])
                   | "WrittenPerFeed" >> beam.CombinePerKey(sum))
        # keyed like the articles' feed_url: a `site:` source's entries carry the feed it chose
        states = out.feed_states | "StateByFeed" >> beam.Map(
            lambda s: (s.discovered_url or s.feed_url, s)).with_output_types(tuple[str, FeedState])
        state_rows = ({"state": states, "written": written} | "FeedHealth" >> beam.CoGroupByKey()
                      | "FeedStateRows" >> beam.ParDo(_FeedHealthRows(state_path, run_id)))
        state_rows, consumed = (state_rows, out.consumed) | "AfterDone" >> After(done)
        _ = state_rows | "WriteFeedStates" >> write(state.FEEDS, "feed_states_written")
        _ = consumed | "DeleteConsumed" >> beam.MapTuple(state.delete_file)
