"""The whole flow on one screen.

    ticks | DueFeeds | PollFeeds (+ ReadBacklog) | SkipSeenLinks | LimitBacklog | FetchArticles
          | ExtractArticles | DropSiteBoilerplate | DropDuplicateArticles | StampProvenance
          | MarkNearDuplicates | WriteParquet
          (+ rejects; RecordState: seen keys, signatures, line keys, backlog, feed states)
    changed entries: past SkipSeenLinks; in DropDuplicateArticles, numbered as their article's next
    version (never-written articles: deduplicated like new ones)

`IngestFeeds` takes ticks, one per poll cycle, so only the source differs between modes: a batch
run is one tick (`beam.Create`), a streaming job a `PeriodicImpulse` with one window per tick
(`tick_windows`), a test a `TestStream`. The steps that decide "seen" and "feed claimed" keep
their state across ticks (`AcrossTicks`); the store seeds them and carries everything between
runs. State that says "done" is written only after the articles it vouches for.
"""

from __future__ import annotations

import time

import apache_beam as beam
from apache_beam.transforms import window

from pipeline.config import Config
from pipeline.io.parquet import articles_root, rejects_root
from pipeline.io.state import ExclusiveCommit
from pipeline.records import FeedSource, Reject, as_row
from pipeline.schema import ARTICLE_SCHEMA, REJECT_PARTITIONS, REJECT_SCHEMA
from pipeline.transforms.backlog import LimitBacklog, ReadBacklog
from pipeline.transforms.boilerplate import DropSiteBoilerplate
from pipeline.transforms.dedup import DropDuplicateArticles, SkipSeenLinks
from pipeline.transforms.extract import ExtractArticles
from pipeline.transforms.fetch import FetchArticles
from pipeline.transforms.names import FEED_STATES, LINE_KEYS, REJECTS, SIGNATURES, SIGNED
from pipeline.transforms.neardup import MarkNearDuplicates
from pipeline.transforms.poll import DueFeeds, PollFeeds
from pipeline.transforms.record_state import RecordState, StateOutputs
from pipeline.transforms.stamp import StampProvenance
from pipeline.transforms.write import WriteParquet


def feed_sources(config: Config) -> list[FeedSource]:
    return [f.source() for f in config.feeds]


def _reject_row(reject: Reject, run_id: str) -> dict:
    return {**as_row(reject), "run_id": run_id, "ingest_date": reject.at.date().isoformat()}


class IngestFeeds(beam.PTransform):
    """Ticks in; articles, rejects and state written out. `started`: when the run started, before
    it read any state (by default, now); article files other runs commit after it are checked.
    `robots_scope`: the runs whose stages share robots.txt files (by default, this run's)."""

    def __init__(self, config: Config, run_id: str, tick_windows: window.WindowFn | None = None,
                 started: float | None = None, robots_scope: str | None = None):
        super().__init__()
        self.config, self.run_id, self.tick_windows = config, run_id, tick_windows
        self.started = time.time() if started is None else started
        self.robots_scope = robots_scope or run_id

    def expand(self, ticks: beam.PCollection) -> None:
        cfg, run_id, out, ticked = self.config, self.run_id, self.config.output, self.tick_windows
        due = ticks | "DueFeeds" >> DueFeeds(feed_sources(cfg), cfg.state_path, cfg.polling, ticked)
        polled = due | "PollFeeds" >> PollFeeds(cfg.http, cfg.polling, self.robots_scope, cfg.extract.processes)
        limit = cfg.polling.max_entries_per_run
        waiting, passed_over, backlog_files = ticks | "ReadBacklog" >> ReadBacklog(cfg.state_path, limit)
        new_entries = ((polled.entries, waiting) | "AllEntries" >> beam.Flatten()
                       | "SkipSeenLinks" >> SkipSeenLinks(cfg.state_path, ticked, out.path))
        taken, deferred = new_entries | "LimitBacklog" >> LimitBacklog(limit)
        pages = taken | "FetchArticles" >> FetchArticles(cfg.http, cfg.polling.respect_robots, self.robots_scope)
        articles = pages.pages | "ExtractArticles" >> ExtractArticles(cfg.extract.processes, sign=ticked is None)
        cleaned = articles.articles | "DropSiteBoilerplate" >> DropSiteBoilerplate(cfg.state_path, run_id)
        unique, dropped = cleaned.articles | "Deduplicate" >> DropDuplicateArticles(cfg.state_path, ticked, out.path)
        stamped = unique | "StampProvenance" >> StampProvenance(run_id)
        signed = articles[SIGNED] if ticked is None else None  # signed on the pool in batch runs
        marked = stamped | "MarkNearDuplicates" >> MarkNearDuplicates(
            ticks, signed, cfg.state_path, cfg.dedup.threshold, cfg.dedup.window_days)
        kept, near_dropped = marked.articles | "NearDuplicatePolicy" >> beam.Partition(
            lambda a, _, drop: int(drop and a.duplicate_of is not None), 2,
            drop=cfg.dedup.near_duplicates == "drop")
        exclusive = ExclusiveCommit(cfg.state_path, out.path, run_id, self.started) if out.format == "parquet" else None
        committed = kept | "WriteArticles" >> WriteParquet(
            articles_root(out.path), ARTICLE_SCHEMA, out.partition_by, run_id, out.compression,
            counter="articles_written", table_format=out.format, exclusive=exclusive)

        _ = ((polled[REJECTS], pages[REJECTS], articles[REJECTS]) | "AllRejects" >> beam.Flatten()
             | "RejectRows" >> beam.Map(_reject_row, run_id=run_id)
             | "WriteRejects" >> WriteParquet(rejects_root(out.path), REJECT_SCHEMA, REJECT_PARTITIONS, run_id,
                                             out.compression, counter="rejects_written", table_format=out.format))
        recorded = StateOutputs(
            kept=kept, dropped=(dropped, near_dropped),
            feed_states=polled[FEED_STATES],
            deferred=(deferred, passed_over) | "AllDeferred" >> beam.Flatten(), consumed=backlog_files,
            signatures=marked[SIGNATURES], line_keys=cleaned[LINE_KEYS])
        _ = committed | "RecordState" >> RecordState(cfg.state_path, run_id, out.compression, recorded)
