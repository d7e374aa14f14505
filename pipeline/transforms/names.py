"""Beam counter names and output tags, declared once: stages count with `counter(NAME)`, and
`pipeline.run` reads every name in `COUNTERS` back from the runner's metrics."""

from __future__ import annotations

from apache_beam.metrics import Metrics
from apache_beam.metrics.metricbase import Counter

NAMESPACE = "news_ingest"

COUNTERS = ("feeds_not_due", "feeds_polled", "feeds_not_modified", "feeds_failed", "feed_entries",
            "entries_deferred", "pages_fetched", "pages_failed", "pages_without_text", "already_seen",
            "duplicates_dropped", "near_duplicates", "articles_written", "rejects_written", "files_written",
            "signatures_written", "seen_keys_written", "backlog_written", "feed_states_written")

# output tags of multi-output stages
REJECTS = "rejects"
FEED_STATES = "feed_states"
DUPLICATES = "duplicates"
DEFERRED = "deferred"
SIGNATURES = "signatures"


def counter(name: str) -> Counter:
    if name not in COUNTERS:
        raise ValueError(f"undeclared counter {name!r}: add it to COUNTERS")
    return Metrics.counter(NAMESPACE, name)
