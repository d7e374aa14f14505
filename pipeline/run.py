"""Launching the graph: options, preparing paths, one run, a batch run that works off a backlog."""

from __future__ import annotations

import functools
import math
import time
import uuid
import weakref
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime

import apache_beam as beam
from apache_beam.options.pipeline_options import DirectOptions, PipelineOptions, PipelineOptionsT, StandardOptions
from apache_beam.runners.worker import statesampler
from apache_beam.transforms import userstate

from pipeline.config import Config
from pipeline.io import delta, state
from pipeline.io.layout import ensure_layout
from pipeline.io.metrics import write_run_metrics
from pipeline.io.parquet import absolute, articles_root, ensure_writable, rejects_root
from pipeline.io.robots import release_shared as release_robots
from pipeline.logs import current_run_id, log
from pipeline.pipeline import IngestFeeds
from pipeline.records import utc_now
from pipeline.schema import ARTICLE_SCHEMA, REJECT_PARTITIONS, REJECT_SCHEMA
from pipeline.sources.schedule import FeedState
from pipeline.transforms.names import COUNTERS, NAMESPACE
from pipeline.transforms.pool import pool_size, start_pool_server, stop_pool_server

# In-process and needs no download; plain DirectRunner first tries to fetch the Prism binary.
DEFAULT_RUNNER = "FnApiRunner"
PLACEHOLDER_CONTACTS = ("github.com/news-ingest/news-ingest", "example.org/contact-for-this-crawler")

# Every bundle ends by joining Beam's state-sampling thread, which times each step for Beam's own
# msecs counters (nothing here reads them) and sleeps up to 200 ms between samples. On the
# in-process runner, where the bundles run in this process, those joins idled 0.3-0.45 s of a 1k
# run (48 bundles) and 1.9 s of a 10k backlog (192); sampling every 5 ms, 0.08 s and 0.38 s.
STATE_SAMPLING_PERIOD_MS = 5
if statesampler.StateSampler.__init__.__defaults__ == (statesampler.DEFAULT_SAMPLING_PERIOD_MS,):
    statesampler.StateSampler.__init__.__defaults__ = (STATE_SAMPLING_PERIOD_MS,)


def specs_once(get_dofn_specs: Callable[[beam.DoFn], tuple]) -> Callable[[beam.DoFn], tuple]:
    """Beam's `get_dofn_specs` (a DoFn's state and timer specs), kept per DoFn instance. Beam asks
    for them about six times per ParDo while it builds and translates a graph, each time taking
    `inspect.signature` of every method the DoFn has: 0.14 of the 0.22 s translating this graph
    took, in every run of a backlog. (Each stage unpickles DoFns of its own, which still look once.)"""
    specs: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()

    @functools.wraps(get_dofn_specs)
    def once(dofn: beam.DoFn) -> tuple:
        try:
            return specs[dofn]
        except KeyError:
            found = specs[dofn] = get_dofn_specs(dofn)
            return found
        except TypeError:  # neither hashable nor weakly referable: asked every time
            return get_dofn_specs(dofn)

    return once


userstate.get_dofn_specs = specs_once(userstate.get_dofn_specs)


def new_run_id(now: datetime | None = None) -> str:
    now = now or utc_now()
    return f"{now:%Y%m%dT%H%M%SZ}-{uuid.uuid4().hex[:6]}"


@dataclass(frozen=True)
class RunSummary:
    run_id: str  # the first run's, when a backlog took several
    counters: dict[str, int]
    failing_feeds: list[FeedState] = field(default_factory=list)
    runs: int = 1


def unknown_beam_options(beam_args: list[str]) -> tuple[list[str], list[str]]:
    """(the arguments no registered Beam `PipelineOptions` class knows, every Beam flag). Built
    the way `PipelineOptions.get_all_options` builds its parser (exact names, no abbreviations),
    because Beam itself only logs "Discarding unparseable args" and runs on."""
    try:
        from apache_beam.options.pipeline_options import _BeamArgumentParser

        parser = _BeamArgumentParser(allow_abbrev=False)
        classes = {str(cls): cls for cls in PipelineOptions.__subclasses__()}
        for cls in classes.values():
            cls._add_argparse_args(parser)
    except (ImportError, AttributeError):  # Beam's internals moved: its public view, without suggestions
        options = PipelineOptions(beam_args)
        names = options.get_all_options(retain_unknown_options=True).keys() - options.get_all_options().keys()
        return [a for a in beam_args if a.split("=", 1)[0].lstrip("-").replace("-", "_") in names], []
    _, unknown = parser.parse_known_args(beam_args)
    return unknown, [flag for flag in parser._option_string_actions if flag.startswith("--")]


def warn_placeholder_user_agent(config: Config) -> None:
    """Once per run: a publisher with a question about the crawler can reach nobody."""
    placeholder = next((p for p in PLACEHOLDER_CONTACTS if p in config.http.user_agent), None)
    if placeholder:
        log.warning("http.user_agent still names the placeholder contact %s: publishers cannot reach "
                    "you; put your own URL or e-mail there", placeholder, extra={"event": "user_agent_placeholder"})


class ViewedOnce(PipelineOptions):
    """Options that make each view once. Beam asks for a view (`view_as`) about four times per step
    while it builds a graph, some 1,000 times for this one, and every view parses the flags with a
    new argument parser: 0.22 s of the 0.46 s building the graph took, in every run of a backlog.
    Views share one dict of values, so a view kept is as current as a new one."""

    def view_as(self, cls: type[PipelineOptionsT]) -> PipelineOptionsT:
        views = self.__dict__.setdefault("_views", {})
        if cls not in views:
            views[cls] = super().view_as(cls)
        return views[cls]


def pipeline_options(beam_args: list[str]) -> PipelineOptions:
    """Options from the command line only (never sys.argv), with the in-process runner by default."""
    options = ViewedOnce(beam_args)
    if not options.view_as(StandardOptions).runner:
        options.view_as(StandardOptions).runner = DEFAULT_RUNNER
    return options


def extracts_here(config: Config, options: PipelineOptions) -> bool:
    """Whether this process will run the extraction pool: the in-process runner in one process,
    with more than one extraction process."""
    return (options.view_as(StandardOptions).runner == DEFAULT_RUNNER
            and options.view_as(DirectOptions).direct_running_mode == "in_memory"
            and pool_size(config.extract.processes) > 1)


def prepared(config: Config, run_id: str) -> Config:
    """Local paths made absolute (workers may run elsewhere) and checked writable before any work;
    each dataset's layout checked against the config (and recorded on the first run); Delta tables
    created, and their files no commit took deleted; unreadable state files quarantined; a lost
    seen store rebuilt from the articles."""
    config = config.with_paths(output=absolute(config.output.path), state=absolute(config.state_path))
    ensure_writable(config.output.path)
    ensure_writable(config.state_path)
    out = config.output
    ensure_layout(articles_root(out.path), "articles", out.partition_by, out.compression, out.format)
    ensure_layout(rejects_root(out.path), "rejects", REJECT_PARTITIONS, out.compression, out.format)
    if out.format == "delta":
        delta.prepare(articles_root(out.path), ARTICLE_SCHEMA, out.partition_by)
        delta.prepare(rejects_root(out.path), REJECT_SCHEMA, REJECT_PARTITIONS)
    state.check_state(config.state_path, config.output.path)
    state.rebuild_seen(config.output.path, config.state_path, run_id)
    state.rebuild_signatures(config.output.path, config.state_path, run_id, config.dedup.window_days)
    return config


def counters_of(result: beam.runners.runner.PipelineResult) -> dict[str, int]:
    counters = dict.fromkeys(COUNTERS, 0)
    for c in result.metrics().query()["counters"]:
        if c.key.metric.namespace == NAMESPACE:
            counters[c.key.metric.name] = counters.get(c.key.metric.name, 0) + (c.committed or c.attempted or 0)
    return counters


def run_once(config: Config, beam_args: list[str] | None = None, run_id: str | None = None,
             robots_scope: str | None = None) -> RunSummary:
    """One run of the graph: poll the due feeds once, write what is new (up to the backlog limit).
    Runs given one `robots_scope` share the robots.txt files they read (`io/robots.py`)."""
    run_id = run_id or new_run_id()
    token = current_run_id.set(run_id)
    try:
        return _run_once(config, beam_args, run_id, robots_scope)
    finally:
        current_run_id.reset(token)


def _run_once(config: Config, beam_args: list[str] | None, run_id: str, robots_scope: str | None) -> RunSummary:
    started = time.time()
    options = pipeline_options(beam_args or [])
    if extracts_here(config, options):
        start_pool_server()  # imports the extraction code on the core start-up and polling leave idle
    config = prepared(config, run_id)
    log.info("run started: %d feeds", len(config.feeds), extra={"event": "run_started"})
    p = beam.Pipeline(options=options)
    _ = (p | "Tick" >> beam.Create([run_id])
         | "Ingest" >> IngestFeeds(config, run_id, started=started, robots_scope=robots_scope))
    result = p.run()
    result.wait_until_finish()
    counters = counters_of(result)
    state.compact_feed_states(config.state_path, run_id)
    state.compact_seen(config.state_path, run_id, config.output.path)
    state.compact_boilerplate(config.state_path, run_id)
    state.mark_seen_covered(config.state_path, started)  # the next run re-reads only later article files
    feeds = {f.key for f in config.feeds}
    failing = [s for s in state.read_feed_states(config.state_path).values()
               if s.feed_url in feeds and s.consecutive_failures]
    for feed in failing:
        log.info("feed failed: %s: %s (%d in a row)", feed.feed_url, feed.last_error, feed.consecutive_failures,
                    extra={"event": "feed_failed", "feed_url": feed.feed_url})
    log.info("run committed: %d articles and %d rejects written in %d files; %d feeds polled, %d failed; "
             "%d articles already written by another run on this state", counters["articles_written"],
             counters["rejects_written"], counters["files_written"], counters["feeds_polled"], counters["feeds_failed"],
             counters["committed_by_another_run"], extra={"event": "run_committed", "counts": counters})
    return RunSummary(run_id, counters, failing)


def run_batch(config: Config, beam_args: list[str] | None = None, run_id: str | None = None) -> RunSummary:
    """Poll every due feed, write what is new, and return the counters. A backlog larger than
    `polling.max_entries_per_run` is worked off by further runs, one after another; then
    `<state>/metrics.prom` describes the whole batch."""
    started = time.monotonic()
    warn_placeholder_user_agent(config)
    run_id = run_id or new_run_id()
    try:
        summary = run_once(config, beam_args, run_id, robots_scope=run_id)
        limit = config.polling.max_entries_per_run
        # every run takes `limit` entries on: the bound only stops a feed that grows as fast as it is read
        runs_left = math.ceil(summary.counters["entries_deferred"] / limit) + 1 if limit else 0
        while summary.counters["entries_deferred"] and runs_left:
            more = run_once(config, beam_args, robots_scope=run_id)
            counters = {k: summary.counters.get(k, 0) + more.counters.get(k, 0)
                        for k in summary.counters.keys() | more.counters.keys()}
            counters["entries_deferred"] = more.counters["entries_deferred"]
            summary = RunSummary(summary.run_id, counters, more.failing_feeds, summary.runs + 1)
            runs_left -= 1
    finally:
        release_robots(run_id)
    stop_pool_server()  # not on an error: a pool that was not shut down would keep its server waiting
    feeds = {str(f.url) for f in config.feeds}
    states = [s for s in state.read_feed_states(absolute(config.state_path)).values() if s.feed_url in feeds]
    path = write_run_metrics(absolute(config.state_path), summary.counters, time.monotonic() - started,
                             time.time(), states)
    if path:
        log.info("metrics written to %s", path, extra={"event": "metrics_written", "run_id": summary.run_id})
    return summary
