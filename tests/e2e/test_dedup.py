"""Exact dedup with keyed state, in real Beam pipelines: buckets seeded from the seen store, a
deterministic pick within a run, and the store's bucket layout, rebuild and compaction."""

from __future__ import annotations

import os
import time
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path

import apache_beam as beam
import pyarrow as pa
import pyarrow.parquet as pq
from apache_beam.testing.util import assert_that, equal_to

from pipeline.articles.versions import version_key
from pipeline.io import state
from pipeline.records import Article, FeedEntry
from pipeline.run import pipeline_options
from pipeline.transforms.dedup import DropDuplicateArticles, SkipSeenLinks
from pipeline.urls import canonicalize_url, url_key

CLEAN = "https://news.example/a/story.html"
TRACKED = f"{CLEAN}?utm_source=rss"


def _entry(link: str, feed: str, day: int) -> FeedEntry:
    day_ = datetime(2026, 11, day, tzinfo=UTC)
    return FeedEntry(feed, feed, link, url_key(canonicalize_url(link)), published_at=day_)


def _run(entries: list[FeedEntry], state_path: str, expected_links: list[str]) -> dict[str, int]:
    """SkipSeenLinks on `entries`; asserts the links let through, returns the counters."""
    p = beam.Pipeline(options=pipeline_options([]))
    unique = p | beam.Create(entries) | SkipSeenLinks(state_path)
    assert_that(unique | beam.Map(lambda e: e.link), equal_to(expected_links))
    result = p.run()
    result.wait_until_finish()
    return {c.key.metric.name: c.committed for c in result.metrics().query()["counters"]}


def test_buckets_are_seeded_from_the_store_and_the_pick_is_deterministic(tmp_path: Path) -> None:
    stored = "https://news.example/old.html"
    state.SEEN.write(str(tmp_path), [state.seen_row(state.URL, url_key(canonicalize_url(stored)), "r0")], "r0")
    fresh = [f"https://news.example/new-{i}.html" for i in range(40)]  # spread over many buckets
    entries = [_entry(TRACKED, "https://a.example/feed", 1), _entry(CLEAN, "https://b.example/feed", 2),
               _entry(stored, "https://a.example/feed", 1), *(_entry(u, "https://a.example/feed", 3) for u in fresh)]
    for order in (entries, entries[::-1]):  # the clean link wins whatever arrives first
        counters = _run(order, str(tmp_path), [CLEAN, *fresh])
        assert counters["already_seen"] == 1 and counters["duplicates_dropped"] == 1


def test_deduplication_checks_urls_and_bodies_and_numbers_refetches(tmp_path: Path) -> None:
    """One pass over new articles and refetches: a text-less article is no body duplicate of
    another; a shared or stored body is kept once; a refetch with a changed body is its article's
    next version, an unchanged one nothing, a second one let go (not dropped: its keys are not
    recorded); a refetch of an article never written competes with the new copy."""
    def article(i: int, content_hash: str, source: str = "page") -> Article:
        return Article(f"id{i}", f"https://news.example/{i}", f"https://news.example/{i}", "f", "s", "news.example",
                       None, "t", "text" if content_hash else None, None, content_hash=content_hash,
                       body_source=source if content_hash else "none", published_at=datetime(2026, 11, i, tzinfo=UTC))
    written = [(state.URL, f"id{i}") for i in (6, 8)] + [
        (state.VERSION, version_key(f"id{i}", 1, body, f"id{i}", "page")) for i, body in ((6, "old6"), (8, "h8"))]
    state.SEEN.write(str(tmp_path), [state.seen_row(kind, key, "r0")
                                     for kind, key in [(state.CONTENT, "stored"), *written]], "r0")
    second = replace(article(6, "newer6"), published_at=datetime(2026, 11, 9, tzinfo=UTC))
    pairs = [(False, article(1, "")), (False, article(2, "")), (False, article(3, "shared")),
             (False, article(4, "shared")), (False, article(5, "stored")),
             (True, article(6, "new6")), (True, second), (True, article(7, "h7")),
             (False, article(7, "h7feed", "feed_summary")), (True, article(8, "h8"))]
    p = beam.Pipeline(options=pipeline_options([]))
    unique, dropped = p | beam.Create(pairs) | DropDuplicateArticles(str(tmp_path))
    assert_that(unique | "Unique" >> beam.Map(
                    lambda a: (a.article_id, a.version, a.content_hash, a.previous_content_hash)),
                equal_to([("id1", 1, "", None), ("id2", 1, "", None), ("id3", 1, "shared", None),
                          ("id6", 2, "new6", "old6"), ("id7", 1, "h7", None)]), label="UniqueOut")
    assert_that(dropped | "Dropped" >> beam.Map(lambda a: (a.article_id, a.content_hash)),
                equal_to([("id4", "shared"), ("id5", "stored"), ("id7", "h7feed")]), label="DroppedOut")
    result = p.run()
    result.wait_until_finish()
    counters = {c.key.metric.name: c.committed for c in result.metrics().query()["counters"]}
    assert counters["versions_written"] == 1 and counters["refetches_unchanged"] == 1


def test_seen_keys_live_in_their_hash_bucket_folder_and_compaction_keeps_them(tmp_path: Path) -> None:
    keys = [f"key-{i}" for i in range(200)]
    for run in range(10):  # ten runs: ten files in each bucket folder
        state.SEEN.write(str(tmp_path), [state.seen_row(state.CONTENT, k, f"r{run}") for k in keys], f"r{run}")
    for bucket in range(state.BUCKETS):
        assert state.read_seen_bucket(str(tmp_path), bucket)[state.CONTENT] == \
            {k for k in keys if state.bucket_of(k) == bucket}
    state.compact_seen(str(tmp_path), "c1")
    folders = list((tmp_path / "seen").iterdir())
    assert len(folders) == state.BUCKETS and all(len(list(f.glob("*.parquet"))) == 1 for f in folders)
    assert set().union(*(state.read_seen_bucket(str(tmp_path), b)[state.CONTENT]
                         for b in range(state.BUCKETS))) == set(keys)


def test_a_lost_seen_store_is_rebuilt_from_the_articles(tmp_path: Path) -> None:
    out, st = tmp_path / "out", tmp_path / "state"
    folder = out / "articles" / "ingest_date=2026-11-29" / "language=en"
    folder.mkdir(parents=True)
    pq.write_table(pa.table({"article_id": ["a1", "a2"], "content_hash": ["h1", None]}), folder / "part-x.parquet")
    assert state.rebuild_seen(str(out), str(st), "r1") == 5
    found = [state.read_seen_bucket(str(st), b) for b in range(state.BUCKETS)]
    assert set().union(*(f[state.URL] for f in found)) == {"a1", "a2"}
    assert set().union(*(f[state.CONTENT] for f in found)) == {"h1"}
    # each article's version, in its article's bucket (files from before versions: version 1)
    assert found[state.bucket_of("a1")][state.VERSION] >= {"a1:1:h1:a1:page"}
    assert set().union(*(f[state.VERSION] for f in found)) == {"a1:1:h1:a1:page", "a2:1::a2:page"}


def test_article_files_a_run_did_not_record_are_found_by_the_next(tmp_path: Path) -> None:
    """Only files committed since the last run that recorded its keys started are read again."""
    out, st = tmp_path / "out", tmp_path / "state"
    folder = out / "articles" / "ingest_date=2026-11-29" / "language=en"
    folder.mkdir(parents=True)
    old = folder / "part-old.parquet"
    pq.write_table(pa.table({"article_id": ["a1"], "content_hash": ["h1"]}), old)
    os.utime(old, (time.time() - 7200, time.time() - 7200))
    assert state.rebuild_seen(str(out), str(st), "r1") == 3  # an empty store: everything
    state.mark_seen_covered(str(st), time.time())
    assert state.rebuild_seen(str(out), str(st), "r2") == 0  # covered
    pq.write_table(pa.table({"article_id": ["a2"], "content_hash": ["h2"], "url": ["https://e.org/a2?utm_source=x"]}),
                   folder / "part-killed.parquet")  # committed by a run killed before its seen keys
    assert state.rebuild_seen(str(out), str(st), "r3") == 4
    found = [state.read_seen_bucket(str(st), b) for b in range(state.BUCKETS)]
    assert set().union(*(f[state.URL] for f in found)) == {"a1", "a2", url_key("https://e.org/a2")}
