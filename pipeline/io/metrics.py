"""Prometheus metrics. Batch runs: `<state>/metrics.prom`, the last run in the text format, for
node_exporter's textfile collector, written to a temporary file and renamed so a scrape never
reads half a file. Streaming: `/metrics` served on a loopback port (`streaming.metrics_port`),
the job's totals updated after every tick."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from pathlib import Path

from prometheus_client import CollectorRegistry, Gauge, start_http_server, write_to_textfile

from pipeline.sources.schedule import FeedState

METRICS_FILE = "metrics.prom"


def _feed_gauges(registry: CollectorRegistry) -> tuple[Gauge, Gauge, Gauge]:
    return (Gauge("news_ingest_feeds_failing", "Feeds whose latest poll failed", registry=registry),
            Gauge("news_ingest_feed_last_success_timestamp_seconds", "Last successful poll per feed",
                  ["feed_url"], registry=registry),
            Gauge("news_ingest_feed_consecutive_failures", "Failed polls in a row per feed",
                  ["feed_url"], registry=registry))


def _set_feeds(gauges: tuple[Gauge, Gauge, Gauge], feeds: Iterable[FeedState]) -> None:
    failing, success, failures = gauges
    n_failing = 0
    for feed in feeds:
        n_failing += bool(feed.consecutive_failures)
        failures.labels(feed.feed_url).set(feed.consecutive_failures)
        if feed.last_success_at is not None:
            success.labels(feed.feed_url).set(feed.last_success_at.timestamp())
    failing.set(n_failing)


class StreamMetrics:
    """`/metrics` of a streaming job on 127.0.0.1:`port` (0: a free port, see `.port`)."""

    def __init__(self, port: int):
        self.registry = CollectorRegistry()
        self.totals = Gauge("news_ingest_stream_count", "Items counted since the job started, by counter name",
                            ["counter"], registry=self.registry)
        self.ticks = Gauge("news_ingest_stream_ticks", "Ticks run since the job started", registry=self.registry)
        self.tick_duration = Gauge("news_ingest_stream_tick_duration_seconds", "Wall time of the last tick",
                                   registry=self.registry)
        self.last_tick = Gauge("news_ingest_stream_last_tick_timestamp_seconds", "When the last tick finished",
                               registry=self.registry)
        self.feeds = _feed_gauges(self.registry)
        self.server, self._thread = start_http_server(port, addr="127.0.0.1", registry=self.registry)
        self.port = self.server.server_address[1]

    def update(self, totals: Mapping[str, int], ticks: int, tick_s: float, finished_at: float,
               feeds: Iterable[FeedState]) -> None:
        for name, value in sorted(totals.items()):
            self.totals.labels(name).set(value)
        self.ticks.set(ticks)
        self.tick_duration.set(tick_s)
        self.last_tick.set(finished_at)
        _set_feeds(self.feeds, feeds)

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()
        self._thread.join(timeout=5)


def write_run_metrics(state_path: str, counters: Mapping[str, int], duration_s: float, finished_at: float,
                      feeds: Iterable[FeedState]) -> Path | None:
    """Counters, duration and health of the run; None for a remote state URI (nothing to collect)."""
    if "://" in state_path and not state_path.startswith("file://"):
        return None
    registry = CollectorRegistry()
    runs = Gauge("news_ingest_run_count", "Items counted by the last run, by counter name",
                 ["counter"], registry=registry)
    for name, value in sorted(counters.items()):
        runs.labels(name).set(value)
    Gauge("news_ingest_run_duration_seconds", "Wall time of the last run", registry=registry).set(duration_s)
    Gauge("news_ingest_run_finished_timestamp_seconds", "When the last run finished (Unix time)",
          registry=registry).set(finished_at)
    _set_feeds(_feed_gauges(registry), feeds)
    path = Path(state_path.removeprefix("file://")) / METRICS_FILE
    write_to_textfile(str(path), registry)  # writes <path>.<pid>.<thread>, then os.replace
    return path
