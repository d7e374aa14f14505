"""`<state>/metrics.prom`: the last batch run in Prometheus text format, for node_exporter's
textfile collector. Written to a temporary file and renamed, so a scrape never reads half a file."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from pathlib import Path

from prometheus_client import CollectorRegistry, Gauge, write_to_textfile

from pipeline.sources.schedule import FeedState

METRICS_FILE = "metrics.prom"


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
    failing = Gauge("news_ingest_feeds_failing", "Feeds whose latest poll failed", registry=registry)
    success = Gauge("news_ingest_feed_last_success_timestamp_seconds", "Last successful poll per feed",
                    ["feed_url"], registry=registry)
    failures = Gauge("news_ingest_feed_consecutive_failures", "Failed polls in a row per feed",
                     ["feed_url"], registry=registry)
    n_failing = 0
    for feed in feeds:
        n_failing += bool(feed.consecutive_failures)
        failures.labels(feed.feed_url).set(feed.consecutive_failures)
        if feed.last_success_at is not None:
            success.labels(feed.feed_url).set(feed.last_success_at.timestamp())
    failing.set(n_failing)
    path = Path(state_path.removeprefix("file://")) / METRICS_FILE
    write_to_textfile(str(path), registry)  # writes <path>.<pid>.<thread>, then os.replace
    return path
