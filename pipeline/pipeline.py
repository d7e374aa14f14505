"""The whole flow on one screen, and how a batch run is launched.

    ticks | DueFeeds | PollFeeds | SkipSeenLinks | LimitBacklog | FetchArticles | ExtractArticles
          | DropDuplicateArticles | Enrich | MarkNearDuplicates | WriteParquet
                                              (+ rejects, seen keys, signatures, feed states)

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
from pipeline.transforms.backlog import LimitBacklog
from pipeline.transforms.dedup import DropDuplicateArticles, SkipSeenLinks, remembered_keys
from pipeline.transforms.enrich import Enrich
from pipeline.transforms.extract import ExtractArticles
from pipeline.transforms.fetch import FetchArticles
from pipeline.transforms.http_batch import REJECTS
from pipeline.transforms.neardup import SIGNATURES, MarkNearDuplicates
from pipeline.transforms.poll import FEED_STATES, DueFeeds, PollFeeds
from pipeline.transforms.write import WriteParquet

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


def _with_written(_: str, groups: dict) -> list[FeedState]:
    """A feed with entries left for the next run is due again at once, and polled in full (no
    validators: a 304 would hide the entries still waiting)."""
    written = sum(groups["written"])
    deferred = any(True for _ in groups["deferred"])
    states = [replace(s, articles_written_total=s.articles_written_total + written) for s in groups["state"]]
    if deferred:
        states = [replace(s, etag=None, last_modified=None, next_due_at=utc_now(), schedule_reason="backlog")
                  for s in states]
    return states


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
        new_entries, _ = polled.entries | "SkipSeenLinks" >> SkipSeenLinks(cfg.state_path)
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
                                                     deferred, marked[SIGNATURES])


class RecordState(beam.PTransform):
    """What the next tick or run needs, written only after the articles it vouches for (`committed`):
    seen keys, each polled feed's state with the articles it yielded, near-duplicate signatures."""

    def __init__(self, config: Config, run_id: str, kept: beam.PCollection, dropped: beam.PCollection,
                 feed_states: beam.PCollection, deferred: beam.PCollection, signatures: beam.PCollection):
        super().__init__()
        self.config, self.run_id = config, run_id
        self.kept, self.dropped, self.feed_states, self.signatures = kept, dropped, feed_states, signatures
        self.deferred = deferred

    def expand(self, committed: beam.PCollection) -> None:
        cfg, run_id, compression = self.config, self.run_id, self.config.output.compression

        def write(root: str, schema, partition_by: tuple[str, ...], counter: str) -> WriteParquet:
            return WriteParquet(root, schema, partition_by, run_id, compression, counter=counter, after=committed)

        _ = self.signatures | "WriteSignatures" >> write(
            state.signatures_root(cfg.state_path), state.SIGNATURE_SCHEMA, ("ingest_date",), "signatures_written")
        written = (self.kept
                   | "ByFeed" >> beam.Map(lambda a: (a.feed_url, 1)).with_output_types(tuple[str, int])
                   | "WrittenPerFeed" >> beam.CombinePerKey(sum))
        states = self.feed_states | "StateByFeed" >> beam.Map(
            lambda s: (s.feed_url, s)).with_output_types(tuple[str, FeedState])
        waiting = self.deferred | "DeferredByFeed" >> beam.Map(
            lambda e: (e.feed_url, 1)).with_output_types(tuple[str, int])
        _ = ({"state": states, "written": written, "deferred": waiting} | "FeedHealth" >> beam.CoGroupByKey()
             | "CountWritten" >> beam.FlatMapTuple(_with_written)
             | "FeedStateRows" >> beam.Map(state.feed_state_row, run_id=run_id)
             | "WriteFeedStates" >> write(state.feeds_root(cfg.state_path), state.FEED_STATE_SCHEMA, (),
                                          "feed_states_written"))
        _ = ((self.kept, self.dropped) | "KeptAndDropped" >> beam.Flatten()
             | "Keys" >> beam.FlatMap(remembered_keys)
             | "SeenRows" >> beam.MapTuple(lambda kind, key: state.seen_row(kind, key, run_id))
             | "WriteSeen" >> write(state.seen_root(cfg.state_path), state.SEEN_SCHEMA, ("bucket",),
                                    "seen_keys_written"))


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
