"""Google News sitemaps and sitemap indexes, written inline."""

from __future__ import annotations

import gzip
import time
from datetime import UTC, datetime, timedelta

import pytest

from pipeline.records import FeedSource
from pipeline.sources import sitemaps
from pipeline.sources.sitemaps import parse_sitemap

SITEMAP_URL = "https://news.example.org/sitemaps/news.xml"
SOURCE = FeedSource(SITEMAP_URL, tags=("sitemap",))
FUTURE = (datetime.now(UTC) + timedelta(days=10)).isoformat()


def _parse_news(body: bytes, source, url: str, **kw):
    return parse_sitemap(body, source, url, **kw).feed


def _urlset(urls: str) -> bytes:
    return ('<?xml version="1.0" encoding="UTF-8"?>'
            '<urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9" '
            'xmlns:news="http://www.google.com/schemas/sitemap-news/0.9" '
            f'xmlns:image="http://www.google.com/schemas/sitemap-image/1.1">{urls}</urlset>').encode()


def _news(loc: str, title: str = "Headline", date: str = "2026-11-26T09:30:00+01:00", name: str = "Harbor Daily",
          language: str = "en", keywords: str | None = None, extra: str = "") -> str:
    kw = f"<news:keywords>{keywords}</news:keywords>" if keywords is not None else ""
    return (f"<url><loc>{loc}</loc>{extra}<news:news><news:publication><news:name>{name}</news:name>"
            f"<news:language>{language}</news:language></news:publication>"
            f"<news:publication_date>{date}</news:publication_date><news:title>{title}</news:title>{kw}"
            "</news:news></url>")


def test_news_entries_carry_the_news_fields() -> None:
    parsed = _parse_news(_urlset(
        _news("https://news.example.org/a?utm_campaign=x", title="Ferry &amp; strike", keywords="ports, strikes,ports",
              extra="<lastmod>2026-11-26T10:00:00Z</lastmod><image:image><image:loc>https://i/x.jpg</image:loc>"
                    "</image:image>")
        + _news("https://news.example.org/b", date="2026-11-25", language="zh-tw", name="Harbor Daily")),
        SOURCE, SITEMAP_URL)
    assert parsed.title == "Harbor Daily" and parsed.rejects == [] and parsed.ttl_minutes is None
    a, b = parsed.entries
    assert a.link == "https://news.example.org/a?utm_campaign=x" and a.title == "Ferry & strike"
    assert a.published_at == datetime(2026, 11, 26, 8, 30, tzinfo=UTC)
    assert a.updated_at == datetime(2026, 11, 26, 10, tzinfo=UTC)
    assert a.categories == ("ports", "strikes") and a.language_hint == "en"
    assert a.source == "Harbor Daily" and a.tags == ("sitemap",) and a.feed_url == SITEMAP_URL
    assert a.entry_id is None and len(a.url_key) == 32
    assert b.published_at == datetime(2026, 11, 25, tzinfo=UTC) and b.language_hint == "zh"


def test_feed_rules_apply() -> None:
    parsed = _parse_news(_urlset(
        _news("/relative/story", title="rel")
        + _news("https://news.example.org/dup", title="first")
        + _news("https://news.example.org/dup", title="second")
        + _news("https://news.example.org/future", date=FUTURE)
        + _news("ftp://news.example.org/file", title="ftp")
        + "<url><news:news xmlns:news='http://www.google.com/schemas/sitemap-news/0.9'><news:title>no loc"
          "</news:title></news:news></url>"
        + _news("https://news.example.org/bad-date", date="yesterday-ish")),
        FeedSource(SITEMAP_URL, name="Configured", language="ar"), SITEMAP_URL)
    links = [e.link for e in parsed.entries]
    assert links == ["https://news.example.org/relative/story", "https://news.example.org/dup",
                     "https://news.example.org/future", "https://news.example.org/bad-date"]
    assert parsed.entries[1].title == "first"
    assert parsed.entries[2].published_at is None and parsed.entries[3].published_at is None
    assert {e.source for e in parsed.entries} == {"Configured"} and {e.language_hint for e in parsed.entries} == {"ar"}
    assert [r.reason for r in parsed.rejects] == ["no_link", "no_link"]


def test_plain_urls_are_skipped() -> None:
    body = _urlset("<url><loc>https://news.example.org/archive/1</loc><lastmod>2020-01-01</lastmod></url>"
                   + _news("https://news.example.org/new"))
    assert [e.link for e in _parse_news(body, SOURCE, SITEMAP_URL).entries] == ["https://news.example.org/new"]


def test_gzipped_sitemap_is_inflated_with_a_cap(monkeypatch: pytest.MonkeyPatch) -> None:
    body = gzip.compress(_urlset(_news("https://news.example.org/gz")))
    assert [e.link for e in _parse_news(body, SOURCE, SITEMAP_URL).entries] == ["https://news.example.org/gz"]
    monkeypatch.setattr(sitemaps, "MAX_INFLATED_BYTES", 100_000)
    bomb = gzip.compress(b"<urlset>" + b" " * 10_000_000 + b"</urlset>")
    assert len(bomb) < 20_000
    assert [r.reason for r in _parse_news(bomb, SOURCE, SITEMAP_URL).rejects] == ["malformed_feed"]


def test_sitemap_index_lists_children_newest_first_and_bounded() -> None:
    body = b"""<?xml version="1.0"?><sitemapindex xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">
      <sitemap><loc>https://news.example.org/sitemap-2019.xml</loc><lastmod>2019-12-31</lastmod></sitemap>
      <sitemap><loc>/sitemap-news.xml</loc><lastmod>2026-11-26T08:00:00Z</lastmod></sitemap>
      <sitemap><loc>https://news.example.org/sitemap-undated.xml</loc></sitemap>
      <sitemap><loc>https://news.example.org/sitemap-2025.xml</loc><lastmod>2025-06-01</lastmod></sitemap>
      <sitemap><loc>https://news.example.org/sitemap-2019.xml</loc></sitemap>
      <sitemap><loc>javascript:void(0)</loc></sitemap>
    </sitemapindex>"""
    parsed = parse_sitemap(body, SOURCE, SITEMAP_URL)
    assert parsed.is_index and parsed.feed.entries == [] and parsed.feed.rejects == []
    assert parsed.children == ["https://news.example.org/sitemap-news.xml", "https://news.example.org/sitemap-2025.xml",
                               "https://news.example.org/sitemap-2019.xml",
                               "https://news.example.org/sitemap-undated.xml"]
    assert parse_sitemap(body, SOURCE, SITEMAP_URL, max_children=2).children == parsed.children[:2]
    assert _parse_news(body, SOURCE, SITEMAP_URL).entries == []
    many = ("<sitemapindex>" + "".join(f"<sitemap><loc>https://n.example/{i}.xml</loc></sitemap>"
                                       for i in range(500)) + "</sitemapindex>").encode()
    assert len(parse_sitemap(many, SOURCE, SITEMAP_URL).children) == 50


@pytest.mark.parametrize(("body", "reason"), [
    (b"", "empty_feed"),
    (b"<html><body>nope</body></html>", "not_a_feed"),
    (b"\x00\x01binary", "malformed_feed"),
    (b"\x1f\x8bnot really gzip", "malformed_feed"),
    (b'<?xml version="1.0"?><!DOCTYPE urlset [<!ENTITY a "x"><!ENTITY b "&a;&a;&a;&a;">]><urlset>'
     b"<url><loc>https://e.org/&b;</loc></url></urlset>", "unsafe_xml"),
])
def test_unusable_documents_are_one_reject(body: bytes, reason: str) -> None:
    parsed = parse_sitemap(body, SOURCE, SITEMAP_URL)
    assert parsed.feed.entries == [] and parsed.children == []
    assert [r.reason for r in parsed.feed.rejects] == [reason]
    assert parse_sitemap(body, SOURCE, SITEMAP_URL).children == []


@pytest.mark.timeout(20)
def test_billion_laughs_sitemap_is_refused_quickly() -> None:
    ents = ['<!ENTITY l0 "lol">'] + [f'<!ENTITY l{i} "{f"&l{i - 1};" * 10}">' for i in range(1, 10)]
    body = (f'<?xml version="1.0"?><!DOCTYPE urlset [{"".join(ents)}]><urlset><url><loc>https://e.org/&l9;</loc>'
            "</url></urlset>").encode()
    started = time.monotonic()
    parsed = _parse_news(body, SOURCE, SITEMAP_URL)
    assert time.monotonic() - started < 3
    assert parsed.entries == [] and [r.reason for r in parsed.rejects] == ["unsafe_xml"]


def test_broken_sitemap_keeps_what_can_be_read() -> None:
    body = _urlset(_news("https://news.example.org/ok")).replace(b"</urlset>", b"<url><loc>https://news.exa")
    assert [e.link for e in _parse_news(body, SOURCE, SITEMAP_URL).entries] == ["https://news.example.org/ok"]
