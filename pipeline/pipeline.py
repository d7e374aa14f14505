"""The whole flow on one screen, and how a batch run is launched.

    ticks | DueFeeds | PollFeeds (+ ReadBacklog) | SkipSeenLinks | LimitBacklog | FetchArticles
          | ExtractArticles | DropDuplicateArticles | Enrich | MarkNearDuplicates | WriteParquet
                                    (+ rejects, seen keys, signatures, backlog, feed states)

`IngestFeeds` takes ticks, one per poll cycle, so only the source differs between modes: a batch
run is one tick (`beam.Create`), a streaming job a `PeriodicImpulse`, a test a `TestStream`.
What earlier ticks wrote is read from the store: feed states at each tick, seen keys per hash
bucket into keyed state; state that says "done" (seen keys, feed states, signatures) is written
only after the articles it vouches for.
"""

from __future__ import annotations

import dataclasses
import math
import uuid
from dataclasses import dataclass, field, replace
from datetime import datetime

import apache_beam as beam
from apache_beam.options.pipeline_options import PipelineOptions, StandardOptions

from pipeline.config import Config
from pipeline.io import state
from pipeline.io.parquet import absolute, ensure_writable
from pipeline.records import FeedSource, Reject, utc_now
from pipeline.schedule import FeedState
from pipeline.schema import ARTICLE_SCHEMA, REJECT_PARTITIONS, REJECT_SCHEMA
from pipeline.transforms.backlog import LimitBacklog, ReadBacklog
from pipeline.transforms.dedup import DropDuplicateArticles, SkipSeenLinks, remembered_keys
from pipeline.transforms.enrich import Enrich
from pipeline.transforms.extract import ExtractArticles
from pipeline.transforms.fetch import FetchArticles
from pipeline.transforms.http_batch import REJECTS
from pipeline.transforms.neardup import SIGNATURES, MarkNearDuplicates
from pipeline.transforms.poll import FEED_STATES, DueFeeds, PollFeeds
from pipeline.transforms.write import After, WriteParquet

# In-process and needs no download; plain DirectRunner first tries to fetch the Prism binary.
DEFAULT_RUNNER = "FnApiRunner"
COUNTERS = ("feeds_not_due", "feeds_polled", "feeds_not_modified", "feeds_failed", "feed_entries",
            "entries_deferred", "pages_fetched", "pages_failed", "pages_without_text", "already_seen",
            "duplicates_dropped", "near_duplicates", "articles_written", "rejects_written")


def new_run_id(now: datetime | None = None) -> str:
    now = now or utc_now()
    return f"{now:%Y%m%dT%H%M%SZ}-{uuid.uuid4().hex[:6]}"


def feed_sources(config: Config) -> list[FeedSource]:
    return [FeedSource(str(f.url), f.name, f.language, tuple(f.tags), f.kind, f.check_robots) for f in config.feeds]


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
                self.stored = state.read_feed_states(self.state_path)
            if feed_url in self.stored:
                s = self.stored[feed_url]
                yield state.feed_state_row(replace(s, articles_written_total=s.articles_written_total + written),
                                           self.run_id, updated_at=utc_now())


def _reject_row(reject: Reject, run_id: str) -> dict:
    return {**dataclasses.asdict(reject), "run_id": run_id, "ingest_date": reject.at.date().isoformat()}


class IngestFeeds(beam.PTransform):
    """Ticks in; articles, rejects and state written out."""

    def __init__(self, config: Config, run_id: str):
        super().__init__()
        self.config, self.run_id = config, run_id

    def expand(self, ticks: beam.PCollection) -> None:
        cfg, run_id, out = self.config, self.run_id, self.config.output
        due = ticks | "DueFeeds" >> DueFeeds(feed_sources(cfg), cfg.state_path, cfg.polling.respect_schedule)

        polled = due | "PollFeeds" >> PollFeeds(cfg.http, cfg.polling)
        waiting, backlog_files = ticks | "ReadBacklog" >> ReadBacklog(cfg.state_path)
        new_entries, _ = ((polled.entries, waiting) | "AllEntries" >> beam.Flatten()
                          | "SkipSeenLinks" >> SkipSeenLinks(cfg.state_path))
        taken, deferred = new_entries | "LimitBacklog" >> LimitBacklog(cfg.polling.max_entries_per_run)
        pages = taken | "FetchArticles" >> FetchArticles(cfg.http, cfg.polling.respect_robots)
        articles = pages.pages | "ExtractArticles" >> ExtractArticles(cfg.extract.processes)
        unique, dropped = articles.articles | "Deduplicate" >> DropDuplicateArticles(cfg.state_path)
        enriched = unique | "Enrich" >> Enrich(run_id)
        marked = enriched | "MarkNearDuplicates" >> MarkNearDuplicates(
            ticks, cfg.state_path, cfg.dedup.threshold, cfg.dedup.window_days)
        kept, near_dropped = marked.articles | "NearDuplicatePolicy" >> beam.Partition(
            lambda a, _, drop: int(drop and a.duplicate_of is not None), 2,
            drop=cfg.dedup.near_duplicates == "drop")
        committed = kept | "WriteArticles" >> WriteParquet(
            state.articles_root(out.path), ARTICLE_SCHEMA, out.partition_by, run_id,
            out.compression, counter="articles_written")

        _ = ((polled[REJECTS], pages[REJECTS], articles[REJECTS]) | "AllRejects" >> beam.Flatten()
             | "RejectRows" >> beam.Map(_reject_row, run_id=run_id)
             | "WriteRejects" >> WriteParquet(state.rejects_root(out.path), REJECT_SCHEMA,
                                             REJECT_PARTITIONS, run_id, out.compression,
                                             counter="rejects_written"))
        dropped_all = (dropped, near_dropped) | "AllDropped" >> beam.Flatten()
        _ = committed | "RecordState" >> RecordState(cfg, run_id, kept, dropped_all, polled[FEED_STATES],
                                                     deferred, backlog_files, marked[SIGNATURES])


class RecordState(beam.PTransform):
    """What the next tick or run needs, written only after the articles it vouches for (`committed`):
    seen keys and near-duplicate signatures; each polled feed's state once its deferred entries are
    in the backlog too; then the backlog files this tick consumed are deleted."""

    def __init__(self, config: Config, run_id: str, kept: beam.PCollection, dropped: beam.PCollection,
                 feed_states: beam.PCollection, deferred: beam.PCollection, consumed: beam.PCollection,
                 signatures: beam.PCollection):
        super().__init__()
        self.config, self.run_id = config, run_id
        self.kept, self.dropped, self.feed_states, self.signatures = kept, dropped, feed_states, signatures
        self.deferred, self.consumed = deferred, consumed

    def expand(self, committed: beam.PCollection) -> None:
        cfg, run_id, compression = self.config, self.run_id, self.config.output.compression

        def write(root: str, schema, partition_by: tuple[str, ...], counter: str,
                  after: beam.PCollection | None = committed) -> WriteParquet:
            return WriteParquet(root, schema, partition_by, run_id, compression, counter=counter, after=after)

        _ = self.signatures | "WriteSignatures" >> write(
            state.signatures_root(cfg.state_path), state.SIGNATURE_SCHEMA, ("ingest_date",), "signatures_written")
        _ = ((self.kept, self.dropped) | "KeptAndDropped" >> beam.Flatten()
             | "Keys" >> beam.FlatMap(remembered_keys)
             | "SeenRows" >> beam.MapTuple(lambda kind, key: state.seen_row(kind, key, run_id))
             | "WriteSeen" >> write(state.seen_root(cfg.state_path), state.SEEN_SCHEMA, ("bucket",),
                                    "seen_keys_written"))
        spooled = (self.deferred
                   | "BacklogRows" >> beam.Map(state.backlog_row, run_id=run_id)
                   | "WriteBacklog" >> write(state.backlog_root(cfg.state_path), state.BACKLOG_SCHEMA, (),
                                             "backlog_written", after=None))
        done = (committed, spooled) | "ArticlesAndBacklog" >> beam.Flatten()
        written = (self.kept
                   | "ByFeed" >> beam.Map(lambda a: (a.feed_url, 1)).with_output_types(tuple[str, int])
                   | "WrittenPerFeed" >> beam.CombinePerKey(sum))
        states = self.feed_states | "StateByFeed" >> beam.Map(
            lambda s: (s.feed_url, s)).with_output_types(tuple[str, FeedState])
        _ = ({"state": states, "written": written} | "FeedHealth" >> beam.CoGroupByKey()
             | "FeedStateRows" >> beam.ParDo(_FeedHealthRows(cfg.state_path, run_id))
             | "WriteFeedStates" >> write(state.feeds_root(cfg.state_path), state.FEED_STATE_SCHEMA, (),
                                          "feed_states_written", after=done))
        _ = (self.consumed | "ConsumedAfterDone" >> After(done)
             | "DeleteConsumed" >> beam.MapTuple(state.delete_file))


@dataclass(frozen=True)
class RunSummary:
    run_id: str  # the first run's, when a backlog took several
    counters: dict[str, int]
    failing_feeds: list[FeedState] = field(default_factory=list)
    runs: int = 1


def pipeline_options(beam_args: list[str]) -> PipelineOptions:
    """Options from the command line only (never sys.argv), with the in-process runner by default."""
    options = PipelineOptions(beam_args)
    if not options.view_as(StandardOptions).runner:
        options.view_as(StandardOptions).runner = DEFAULT_RUNNER
    return options


def prepared(config: Config, run_id: str) -> Config:
    """Local paths made absolute (workers may run elsewhere) and checked writable before any work;
    a lost seen store rebuilt from the articles."""
    config = config.with_paths(output=absolute(config.output.path), state=absolute(config.state_path))
    ensure_writable(config.output.path)
    ensure_writable(config.state_path)
    state.rebuild_seen(config.output.path, config.state_path, run_id)
    return config


def run_once(config: Config, beam_args: list[str] | None = None, run_id: str | None = None) -> RunSummary:
    """One run of the graph: poll the due feeds once, write what is new (up to the backlog limit)."""
    run_id = run_id or new_run_id()
    config = prepared(config, run_id)
    p = beam.Pipeline(options=pipeline_options(beam_args or []))
    _ = (p | "Tick" >> beam.Create([run_id]) | "Ingest" >> IngestFeeds(config, run_id))
    result = p.run()
    result.wait_until_finish()
    counters = dict.fromkeys(COUNTERS, 0)
    for c in result.metrics().query()["counters"]:
        if c.key.metric.namespace == "news_ingest":
            name = c.key.metric.name
            counters[name] = counters.get(name, 0) + (c.committed or c.attempted or 0)
    state.compact_feed_states(config.state_path, run_id)
    state.compact_seen(config.state_path, run_id)
    feeds = {str(f.url) for f in config.feeds}
    failing = [s for s in state.read_feed_states(config.state_path).values()
               if s.feed_url in feeds and s.consecutive_failures]
    return RunSummary(run_id, counters, failing)


def run_batch(config: Config, beam_args: list[str] | None = None, run_id: str | None = None) -> RunSummary:
    """Poll every due feed, write what is new, and return the counters. A backlog larger than
    `polling.max_entries_per_run` is worked off by further runs, one after another."""
    summary = run_once(config, beam_args, run_id)
    limit = config.polling.max_entries_per_run
    # every run takes `limit` entries on: the bound only stops a feed that grows as fast as it is read
    runs_left = math.ceil(summary.counters["entries_deferred"] / limit) + 1 if limit else 0
    while summary.counters["entries_deferred"] and runs_left:
        more = run_once(config, beam_args)
        counters = {k: summary.counters.get(k, 0) + more.counters.get(k, 0)
                    for k in summary.counters.keys() | more.counters.keys()}
        counters["entries_deferred"] = more.counters["entries_deferred"]
        summary = RunSummary(summary.run_id, counters, more.failing_feeds, summary.runs + 1)
        runs_left -= 1
    return summary
