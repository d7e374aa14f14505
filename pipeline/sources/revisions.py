"""Which entries of a poll changed since an earlier poll listed them: corrections, developing
stories, a new headline. Pure: the memory is the feed's state (`FeedState.entry_marks`).

An entry's change signal is a short hash of what the feed says about it: its `updated` date and
the text of its content and summary. The first poll that lists an entry only remembers the
signal (so a feed polled before this existed does not refetch its whole history at once); a later
poll whose signal differs flags the entry as a `revision`, which is fetched again past the link
check, and whose body, when it differs, becomes a new version of the article
(`pipeline.articles.versions`). An entry whose signal never moves costs nothing.

Politeness: one article is refetched at most `max_refetches` times, and only while it is younger
than `window` (its publication date, else when it was first seen); the memory of older entries
is dropped, so the state stays as small as the window.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import replace
from datetime import UTC, datetime

from pipeline.config import RefetchLimits
from pipeline.records import FeedEntry
from pipeline.text import normalize_for_hash

# (url_key prefix, change signal, refetches so far, first seen as epoch seconds)
Mark = tuple[str, str, int, int]
KEY_CHARS = 12  # of a url_key, as FeedState.recent_keys keeps them


def change_signal(entry: FeedEntry) -> str | None:
    """What the feed says about the entry, hashed; None when it says nothing that could change."""
    updated = entry.updated_at.isoformat() if entry.updated_at else ""
    texts = [normalize_for_hash(t) if t else "" for t in (entry.content, entry.summary)]
    if not updated and not any(texts):
        return None
    return hashlib.sha256("\x1f".join([updated, *texts]).encode()).hexdigest()[:12]


def _published(entry: FeedEntry, first_seen: int) -> datetime:
    return entry.published_at or datetime.fromtimestamp(first_seen, UTC)


def mark_revisions(marks: Sequence[Mark], entries: Sequence[FeedEntry], now: datetime, limits: RefetchLimits,
                   keep: int = 500) -> tuple[list[FeedEntry], tuple[Mark, ...]]:
    """(the entries, those that changed flagged `revision`; the marks to keep). Marks of entries
    first seen longer than `limits.window` ago are dropped, and at most `keep` are kept (newest
    first seen first)."""
    known = {m[0]: tuple(m) for m in marks}
    stamp = int(now.timestamp())
    out: list[FeedEntry] = []
    updated: dict[str, Mark] = {}
    for entry in entries:
        key, signal = entry.url_key[:KEY_CHARS], change_signal(entry)
        old = updated.get(key) or known.get(key)
        if old is None:
            if signal and limits.max_refetches:
                updated[key] = (key, signal, 0, stamp)
            out.append(entry)
            continue
        _, before, refetches, first_seen = old
        if (signal and signal != before and refetches < limits.max_refetches
                and now - _published(entry, first_seen) <= limits.window):
            updated[key] = (key, signal, refetches + 1, first_seen)
            # still first seen when it was: an undated article keeps its date in every version
            entry = replace(entry, revision=True, first_seen_at=datetime.fromtimestamp(first_seen, UTC))
        out.append(entry)
    merged = {**known, **updated}
    horizon = stamp - limits.window.total_seconds()
    kept = sorted((m for m in merged.values() if m[3] >= horizon), key=lambda m: (-m[3], m[0]))[:keep]
    return out, tuple(kept)
