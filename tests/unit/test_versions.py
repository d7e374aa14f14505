"""Which re-listed entries changed (`sources.revisions`) and how a refetch is numbered (`articles.versions`)."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta

from pipeline.articles.versions import Latest, key_of, latest_versions, next_version, version_key
from pipeline.config import RefetchLimits
from pipeline.records import Article, FeedEntry
from pipeline.sources.revisions import change_signal, mark_revisions
from pipeline.sources.schedule import FeedState

NOW = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)
DEFAULT = RefetchLimits()


def _entry(key: str, updated: datetime | None = None, summary: str | None = "brief", **kw) -> FeedEntry:
    return FeedEntry("https://f.example/rss", "F", f"https://f.example/{key}", key * 8, updated_at=updated,
                     summary=summary, published_at=kw.pop("published_at", NOW - timedelta(hours=1)), **kw)


def _poll(marks, entries, now=NOW, limits=DEFAULT):
    out, marks = mark_revisions(marks, entries, now, limits)
    return [e.revision for e in out], marks


def test_first_sighting_remembers_a_later_change_is_a_revision_once() -> None:
    flags, marks = _poll((), [_entry("a", NOW), _entry("b", NOW)])
    assert flags == [False, False] and len(marks) == 2
    later = NOW + timedelta(minutes=5)
    out, marks = mark_revisions(marks, [_entry("a", later, first_seen_at=later), _entry("b", NOW)], later,
                                RefetchLimits())
    assert [e.revision for e in out] == [True, False]
    assert out[0].first_seen_at == NOW  # still first seen at the first poll
    flags, _ = _poll(marks, [_entry("a", NOW + timedelta(minutes=5)), _entry("b", NOW)])
    assert flags == [False, False]  # the same signal again: nothing to refetch


def test_summary_or_content_change_counts_but_not_case_or_punctuation() -> None:
    _, marks = _poll((), [_entry("a", summary="Ferry delayed.")])
    assert _poll(marks, [_entry("a", summary="FERRY, delayed")])[0] == [False]
    assert _poll(marks, [_entry("a", summary="Ferry cancelled")])[0] == [True]
    assert _poll(marks, [_entry("a", summary="Ferry delayed.", content="full text")])[0] == [True]
    assert change_signal(_entry("a", summary=None)) is None


def test_limits_count_window_and_pruning() -> None:
    limits = RefetchLimits(max_refetches=2, window=timedelta(days=7))
    _, marks = _poll((), [_entry("a", NOW)], limits=limits)
    for i in (1, 2, 3):
        flags, marks = _poll(marks, [_entry("a", NOW + timedelta(hours=i))], limits=limits)
        assert flags == [i <= 2]
    old = _entry("o", NOW, published_at=NOW - timedelta(days=8))
    _, marks = _poll((), [old], limits=limits)
    assert _poll(marks, [replace(old, updated_at=NOW + timedelta(hours=1))], limits=limits)[0] == [False]
    # memory of entries first seen before the window is dropped
    assert _poll(marks, [], now=NOW + timedelta(days=8), limits=limits)[1] == ()
    assert _poll((), [_entry("a", NOW)], limits=RefetchLimits(max_refetches=0))[1] == ()


def test_marks_survive_the_state_store_round_trip() -> None:
    _, marks = _poll((), [_entry("a", NOW)])
    state = FeedState("https://f.example/rss", entry_marks=marks)
    assert FeedState.from_dict(state.to_dict()) == state
    assert FeedState.from_dict({"feed_url": "u"}).entry_marks == ()  # a state from before marks


def _article(body_hash: str, source: str = "page") -> Article:
    return Article("id1", "u", "u", "f", "F", "d", None, "t", "body", None, content_hash=body_hash,
                   body_source=source, fetched_at=NOW)


def test_next_version_numbers_a_changed_body_only() -> None:
    latest = latest_versions([version_key("id1", 1, "h1", "c", "page"), version_key("id1", 2, "h2", "c", "page"),
                              key_of(replace(_article("x"), article_id="id2"))])
    assert latest["id1"] == Latest(2, "h2", "c", "page")
    assert next_version(latest["id1"], _article("h2")) is None  # unchanged
    assert next_version(latest["id1"], _article("h3", "feed_summary")) is None  # a failed refetch is no correction
    assert next_version(Latest(2, "h2", "c", "page_recall"), _article("h3", "feed_content")) is None
    assert next_version(latest["id1"], _article("h3", "page_recall")).version == 3  # any page pass is the page
    v3 = next_version(latest["id1"], _article("h3"))
    assert (v3.version, v3.previous_content_hash, v3.cluster_id, v3.updated_at) == (3, "h2", "c", NOW)
    assert latest_versions([version_key("id1", None, "h", None, None)])["id1"] == Latest(1, "h", "id1", "page")
