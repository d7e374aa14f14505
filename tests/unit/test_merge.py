"""Where an article's date comes from: the page, the feed entry, or when the entry was first seen."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime

from pipeline.articles.merge import merge_article
from pipeline.records import Extracted, FeedEntry

SEEN = datetime(2026, 11, 20, 8, 0, tzinfo=UTC)
FETCHED = datetime(2026, 11, 26, 12, 0, tzinfo=UTC)
ENTRY = FeedEntry("https://e.org/rss", "E", "https://e.org/a", "k", first_seen_at=SEEN)


def test_undated_entry_is_dated_when_first_seen_and_says_so() -> None:
    article = merge_article(ENTRY, ENTRY.link, Extracted(text="body"), 200, FETCHED)
    assert (article.published_at, article.date_source) == (SEEN, "first_seen")  # not the fetch time


def test_page_and_feed_dates_come_first() -> None:
    dated = replace(ENTRY, published_at=datetime(2026, 11, 19, tzinfo=UTC))
    assert merge_article(dated, dated.link, None, None, FETCHED).date_source == "feed"
    page = merge_article(ENTRY, ENTRY.link, Extracted(text="b", date="2026-11-18"), 200, FETCHED)
    assert page.date_source == "page" and page.published_at == datetime(2026, 11, 18, tzinfo=UTC)
    unknown = merge_article(replace(ENTRY, first_seen_at=None), ENTRY.link, None, None, FETCHED)
    assert (unknown.published_at, unknown.date_source) == (None, None)


def test_the_body_says_which_text_it_is() -> None:
    long_page = " ".join(["word"] * 50)
    full = replace(ENTRY, content="the whole story " * 10, summary="the lead")
    assert merge_article(full, full.link, Extracted(text=long_page, text_source="page_recall"), 200,
                         FETCHED).body_source == "page_recall"
    teaser = merge_article(full, full.link, Extracted(text="Subscribe to read"), 200, FETCHED)
    assert (teaser.body, teaser.body_source) == (full.content, "feed_content")
    summary_only = replace(ENTRY, summary="the lead of the story")
    assert merge_article(summary_only, ENTRY.link, None, None, FETCHED).body_source == "feed_summary"
    assert merge_article(ENTRY, ENTRY.link, None, None, FETCHED).body_source == "none"
