"""Launching the graph: options, preparing paths, one run, a batch run that works off a backlog."""

from __future__ import annotations

import math
import uuid
from dataclasses import dataclass, field
from datetime import datetime

import apache_beam as beam
from apache_beam.options.pipeline_options import PipelineOptions, StandardOptions

from pipeline.config import Config
from pipeline.io import state
from pipeline.io.parquet import absolute, ensure_writable
from pipeline.pipeline import IngestFeeds
from pipeline.records import utc_now
from pipeline.sources.schedule import FeedState
from pipeline.transforms.names import COUNTERS, NAMESPACE

# In-process and needs no download; plain DirectRunner first tries to fetch the Prism binary.
DEFAULT_RUNNER = "FnApiRunner"


def new_run_id(now: datetime | None = None) -> str:
    now = now or utc_now()
    return f"{now:%Y%m%dT%H%M%SZ}-{uuid.uuid4().hex[:6]}"


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


def counters_of(result: beam.runners.runner.PipelineResult) -> dict[str, int]:
    counters = dict.fromkeys(COUNTERS, 0)
    for c in result.metrics().query()["counters"]:
        if c.key.metric.namespace == NAMESPACE:
            counters[c.key.metric.name] = counters.get(c.key.metric.name, 0) + (c.committed or c.attempted or 0)
    return counters


def run_once(config: Config, beam_args: list[str] | None = None, run_id: str | None = None) -> RunSummary:
    """One run of the graph: poll the due feeds once, write what is new (up to the backlog limit)."""
    run_id = run_id or new_run_id()
    config = prepared(config, run_id)
    p = beam.Pipeline(options=pipeline_options(beam_args or []))
    _ = (p | "Tick" >> beam.Create([run_id]) | "Ingest" >> IngestFeeds(config, run_id))
    result = p.run()
    result.wait_until_finish()
    counters = counters_of(result)
    state.compact_feed_states(config.state_path, run_id)
    state.compact_seen(config.state_path, run_id)
    feeds = {f.key for f in config.feeds}
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
