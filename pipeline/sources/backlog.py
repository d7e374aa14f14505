"""Which new entries a capped run takes (`polling.max_entries_per_run`), and which wait."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable

from pipeline.records import FeedEntry


def _newest_first(entry: FeedEntry) -> tuple:
    return (entry.published_at is None, -(entry.published_at.timestamp() if entry.published_at else 0), entry.link)


def split_backlog(entries: Iterable[FeedEntry], limit: int) -> tuple[list[FeedEntry], list[FeedEntry]]:
    """(taken, deferred): each feed's entries newest first, then round-robin over feeds. Adding
    entries only moves an entry further back in that order, so what is deferred from some entries
    is still deferred once more are added (`transforms/backlog.ReadBacklog` relies on it)."""
    by_feed: defaultdict[str, list[FeedEntry]] = defaultdict(list)
    for entry in entries:
        by_feed[entry.feed_url].append(entry)
    ranked = sorted((rank, feed, entry)
                    for feed, items in by_feed.items()
                    for rank, entry in enumerate(sorted(items, key=_newest_first)))
    ordered = [entry for _, _, entry in ranked]
    return ordered[:limit], ordered[limit:]
