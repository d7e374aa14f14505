"""Which entries a capped run takes: newest first within a feed, round-robin over feeds."""

from __future__ import annotations

import random
from datetime import UTC, datetime

from pipeline.records import FeedEntry
from pipeline.sources.backlog import split_backlog


def _entry(feed: str, n: int, day: int | None) -> FeedEntry:
    link = f"https://{feed}.example/{n}"
    return FeedEntry(feed, feed, link, link, published_at=datetime(2026, 11, day, tzinfo=UTC) if day else None)


def test_newest_first_round_robin_over_feeds_and_the_rest_deferred() -> None:
    entries = [_entry("a", 1, 1), _entry("a", 2, 3), _entry("a", 3, None), _entry("b", 1, 2), _entry("c", 1, 5)]
    taken, deferred = split_backlog(reversed(entries), 4)
    assert [(e.feed_url, e.link[-1]) for e in taken] == [("a", "2"), ("b", "1"), ("c", "1"), ("a", "1")]
    assert [e.link[-1] for e in deferred] == ["3"]  # undated entries come last


def test_under_the_limit_everything_is_taken_once() -> None:
    entries = [_entry(f, n, n) for f in "xyz" for n in range(1, 4)]
    taken, deferred = split_backlog(entries, 100)
    assert sorted(taken, key=lambda e: e.link) == sorted(entries, key=lambda e: e.link) and deferred == []


def test_newly_polled_entries_only_move_a_waiting_entry_further_back() -> None:
    """ReadBacklog passes over the backlog's entries past its first `limit` without checking them:
    that is only right if no entry past `limit` in the backlog alone is taken once a poll adds more."""
    rng = random.Random(0)
    for _ in range(200):
        backlog = [_entry(rng.choice("abcde"), n, rng.choice([None, *range(1, 29)])) for n in range(rng.randint(0, 30))]
        polled = [_entry(rng.choice("abcdef"), 100 + n, rng.choice([None, *range(1, 29)]))
                  for n in range(rng.randint(0, 30))]
        limit = rng.randint(1, 20)
        first, passed_over = split_backlog(backlog, limit)
        taken, _ = split_backlog(backlog + polled, limit)
        assert not set(taken) & set(passed_over)
        assert split_backlog(first + polled, limit)[0] == taken
