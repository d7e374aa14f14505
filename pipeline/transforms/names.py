"""Beam counter names and output tags, declared once: stages count with `counter(NAME)`, and
`pipeline.run` reads every name in `COUNTERS` back from the runner's metrics.

Beam's local runner reports counters only when a run ends, so each count also goes to `LIVE`,
this process's running tally, which progress lines read while the run works (with the in-process
runner, the default, every stage counts in this process)."""

from __future__ import annotations

import threading
from collections import Counter as Tally

from apache_beam.metrics import Metrics

NAMESPACE = "news_ingest"

COUNTERS = ("feeds_not_due", "feeds_polled", "feeds_not_modified", "feeds_failed", "feed_entries",
            "entries_deferred", "pages_fetched", "pages_failed", "pages_without_text", "already_seen",
            "duplicates_dropped", "near_duplicates", "articles_written", "rejects_written", "files_written",
            "signatures_written", "seen_keys_written", "backlog_written", "feed_states_written",
            "boilerplate_lines_dropped", "boilerplate_pages_written", "committed_by_another_run",
            "entries_changed", "versions_written", "refetches_unchanged")

# output tags of multi-output stages
REJECTS = "rejects"
FEED_STATES = "feed_states"
DUPLICATES = "duplicates"
DEFERRED = "deferred"
SIGNATURES = "signatures"
SIGNED = "signed"  # (content_hash, MinHash signature) of each extracted body, signed on the pool
LINE_KEYS = "line_keys"


LIVE: Tally[str] = Tally()
_LIVE_LOCK = threading.Lock()


class _Counter:
    """A Beam counter that also keeps `LIVE` up to date."""

    def __init__(self, name: str):
        self.name, self.beam = name, Metrics.counter(NAMESPACE, name)

    def inc(self, n: int = 1) -> None:
        self.beam.inc(n)
        with _LIVE_LOCK:
            LIVE[self.name] += n


def counter(name: str) -> _Counter:
    if name not in COUNTERS:
        raise ValueError(f"undeclared counter {name!r}: add it to COUNTERS")
    return _Counter(name)


def live_counts() -> dict[str, int]:
    with _LIVE_LOCK:
        return dict(LIVE)
