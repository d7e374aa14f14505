"""`news-ingest run --streaming`: ingestion that keeps going, tick after tick.

On a distributed runner (Flink, Spark, Dataflow) this is one unbounded pipeline: a
`PeriodicImpulse` ticks every `streaming.tick_s`, each tick is its own fixed window, and
`IngestFeeds` runs per window, its "seen" and "feed claimed" state kept across windows. On the
local runners an endless `PeriodicImpulse` busy-waits, grows memory and never fires a `GroupByKey`
(ARCHITECTURE.md), so locally each tick is one bounded run of the very same graph, started on
schedule, and state passes between ticks through the store.

Stopping: SIGINT or SIGTERM lets the running tick finish and exits; a second signal abandons it.
Abandoning is safe because every file appears whole and state that says "done" is written after
the articles it vouches for: the next start polls what was not recorded again.
"""

from __future__ import annotations

import signal
import threading
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime

import apache_beam as beam
from apache_beam.options.pipeline_options import StandardOptions
from apache_beam.transforms import window
from apache_beam.transforms.periodicsequence import PeriodicImpulse
from apache_beam.utils.timestamp import MAX_TIMESTAMP

from pipeline.config import Config
from pipeline.io.metrics import StreamMetrics
from pipeline.io.robots import release_shared as release_robots
from pipeline.io.state import read_feed_states
from pipeline.pipeline import IngestFeeds
from pipeline.run import new_run_id, pipeline_options, prepared, run_once
from pipeline.transforms.pool import stop_pool_server

LOCAL_RUNNERS = {"FnApiRunner", "DirectRunner", "BundleBasedDirectRunner", "SwitchingDirectRunner"}


@dataclass
class StreamSummary:
    ticks: int = 0
    counters: Counter = field(default_factory=Counter)
    stopped_by: str = "duration"


def _line(summary: StreamSummary, recent: Counter, lag_s: float) -> str:
    c = recent
    return (f"{datetime.now(UTC):%H:%M:%S} tick {summary.ticks}: {c['feeds_polled']} feeds polled "
            f"({c['feeds_not_due']} not due, {c['feeds_not_modified']} not modified, {c['feeds_failed']} failed), "
            f"{c['articles_written']} articles written, {c['rejects_written']} rejects, lag {lag_s:.1f}s; "
            f"total {summary.counters['articles_written']} articles")


def run_local(config: Config, beam_args: list[str], stop_after_s: float | None,
              say: Callable[[str], None] = print, abandon: Callable[[], None] | None = None) -> StreamSummary:
    """Bounded runs back to back, one per tick, until the duration ends or a signal arrives.
    `abandon` is called on the second signal (the command line ends the process there: a
    KeyboardInterrupt raised inside a running tick comes out of Beam as a RuntimeError)."""
    tick_s, status_s = config.streaming.tick_s, config.streaming.status_every_s
    stop = threading.Event()
    summary = StreamSummary()
    signals = 0

    def on_signal(signum: int, _frame: object) -> None:
        nonlocal signals
        signals += 1
        summary.stopped_by = signal.Signals(signum).name
        if signals > 1:
            if abandon is not None:
                abandon()
            raise KeyboardInterrupt  # abandon the running tick: nothing half-written is visible
        stop.set()
        say(f"{signal.Signals(signum).name}: finishing the current tick, then stopping (again to abandon it)")

    previous = {s: signal.signal(s, on_signal) for s in (signal.SIGINT, signal.SIGTERM)}
    deadline = time.monotonic() + stop_after_s if stop_after_s else None
    recent: Counter = Counter()
    last_status = time.monotonic()
    metrics = None if config.streaming.metrics_port is None else StreamMetrics(config.streaming.metrics_port)
    if metrics is not None:
        say(f"metrics: http://127.0.0.1:{metrics.port}/metrics")
    feeds = {f.key for f in config.feeds}
    robots_scope = new_run_id()  # the ticks share robots.txt files (each kept a day at most)
    try:
        while not stop.is_set() and (deadline is None or time.monotonic() < deadline):
            started = time.monotonic()
            result = run_once(config, beam_args, robots_scope=robots_scope)
            summary.ticks += 1
            summary.counters.update(result.counters)
            recent.update(result.counters)
            if metrics is not None:
                states = [s for s in read_feed_states(config.state_path).values() if s.feed_url in feeds]
                metrics.update(summary.counters, summary.ticks, time.monotonic() - started, time.time(), states)
            if time.monotonic() - last_status >= status_s:
                say(_line(summary, recent, time.monotonic() - started))
                recent, last_status = Counter(), time.monotonic()
            wait = started + tick_s - time.monotonic()
            if deadline is not None:
                wait = min(wait, deadline - time.monotonic())
            if wait > 0:
                stop.wait(wait)
    except KeyboardInterrupt:
        summary.stopped_by = "abandoned"
    finally:
        release_robots(robots_scope)
        for s, handler in previous.items():
            signal.signal(s, handler)
        if metrics is not None:
            metrics.close()
    if summary.stopped_by != "abandoned":  # an abandoned tick's pool may still hold its server
        stop_pool_server()
    if recent:
        say(_line(summary, recent, 0.0))
    return summary


def ticks(p: beam.Pipeline, tick_s: float, stop_after_s: float | None) -> beam.PCollection:
    """An unbounded (or, with a duration, bounded) tick per `tick_s`, each in its own window."""
    start = time.time()
    stop = start + stop_after_s if stop_after_s else MAX_TIMESTAMP
    return (p
            | "Ticks" >> PeriodicImpulse(start_timestamp=start, stop_timestamp=stop, fire_interval=tick_s)
            | "TickWindows" >> beam.WindowInto(window.FixedWindows(tick_s)))


def run_unbounded(config: Config, beam_args: list[str], stop_after_s: float | None) -> None:
    """Submit the unbounded graph to a distributed runner and wait for it."""
    run_id, started = new_run_id(), time.time()
    config = prepared(config, run_id)
    options = pipeline_options([*beam_args, "--streaming"])
    p = beam.Pipeline(options=options)
    tick_s = config.streaming.tick_s
    _ = ticks(p, tick_s, stop_after_s) | "Ingest" >> IngestFeeds(config, run_id, window.FixedWindows(tick_s), started)
    p.run().wait_until_finish()


def is_local(beam_args: list[str]) -> bool:
    return pipeline_options(beam_args).view_as(StandardOptions).runner in LOCAL_RUNNERS
