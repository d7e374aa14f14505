"""Feed discovery against a fake fetcher: tiers, verification, ranking, trust and robots."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace
from datetime import UTC, datetime, timedelta

from pipeline.config import PollingConfig
from pipeline.fetching import FetchResult
from pipeline.records import FeedSource
from pipeline.sources.discovery import alternate_links, discover, needs_discovery, rank, robots_sitemap_lines
from pipeline.sources.poll import poll_feed
from pipeline.sources.schedule import FeedState

SITE = "https://news.example/"
NOW = datetime(2026, 11, 26, 12, 0, tzinfo=UTC)


def _rss(n: int, language: str = "en", day: int = 25) -> bytes:
    items = "".join(f"<item><title>S{i}</title><link>https://news.example/a{i}</link>"
                    f"<pubDate>{day} Nov 2026 10:0{i % 10}:00 GMT</pubDate></item>" for i in range(n))
    return (f"<rss version='2.0'><channel><title>Feed {n}</title><language>{language}</language>"
            f"{items}</channel></rss>").encode()


def _home(*links: tuple[str, str]) -> bytes:
    tags = "".join(f'<link rel="alternate" type="{t}" href="{h}">' for h, t in links)
    return f"<html><head>{tags}</head><body>hi</body></html>".encode()


class FakeFetcher:
    user_agent = "test-bot"

    def __init__(self, pages: Mapping[str, bytes]):
        self.pages, self.calls = dict(pages), []

    def get(self, url, *, trusted=False, accept="*/*", headers=None) -> FetchResult:
        self.calls.append((url, trusted))
        if url not in self.pages:
            return FetchResult(url, url, 404, error="http_404")
        return FetchResult(url, url, 200, {"content-type": "application/xml"}, self.pages[url])

    def set_host_delay(self, host, seconds) -> None:
        pass


class FakeRobots:
    def __init__(self, disallow: tuple[str, ...] = (), sitemaps: tuple[str, ...] = ()):
        self.disallow, self._sitemaps, self.asked = disallow, list(sitemaps), []

    def permits(self, url, user_agent, *, trusted=False) -> bool:
        self.asked.append(url)
        return not any(url.startswith(d) for d in self.disallow)

    def crawl_delay(self, url, user_agent, *, trusted=False):
        return None

    def refusal(self, url, *, trusted=False):
        return "robots_disallowed", "no"

    def sitemaps(self, url, *, trusted=False):
        return self._sitemaps


def test_alternate_links_keep_feed_types_and_resolve_against_base() -> None:
    html = (b'<html><head><base href="https://cdn.example/x/">'
            b'<link rel="alternate" type="application/rss+xml" href="rss.xml">'
            b'<link rel="Alternate stylesheet" type="application/atom+xml; charset=utf-8" href="/atom">'
            b'<link rel="alternate" type="text/html" href="/fr/">'
            b'<link rel="canonical" type="application/rss+xml" href="/no">'
            b'<link rel="alternate" type="application/feed+json" href="https://news.example/feed.json">'
            b"</head></html>")
    assert alternate_links(html, SITE) == ["https://cdn.example/x/rss.xml", "https://cdn.example/atom",
                                           "https://news.example/feed.json"]
    assert alternate_links(b"", SITE) == []


def test_dead_link_is_skipped_and_the_live_one_chosen_without_probing_paths() -> None:
    http = FakeFetcher({SITE: _home(("/dead.xml", "application/rss+xml"), ("/live.xml", "application/rss+xml")),
                        "https://news.example/live.xml": _rss(3), "https://news.example/feed": _rss(9)})
    found = discover(http, FakeRobots(), SITE)
    assert found.chosen is not None and found.chosen.url == "https://news.example/live.xml"
    assert found.chosen.found_by == "link" and found.chosen.entries == 3
    assert ("https://news.example/dead.xml", "http_404") in found.tried
    assert "https://news.example/feed" not in [u for u, _ in http.calls]  # the link tier answered


def test_usual_paths_then_robots_news_sitemap() -> None:
    only_path = FakeFetcher({SITE: b"<html></html>", "https://news.example/rss.xml": _rss(2)})
    found = discover(only_path, None, SITE)
    assert found.chosen is not None and (found.chosen.url, found.chosen.found_by) == (
        "https://news.example/rss.xml", "path")

    sitemap = (b'<urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9" '
               b'xmlns:news="http://www.google.com/schemas/sitemap-news/0.9"><url><loc>https://news.example/a</loc>'
               b"<news:news><news:publication><news:name>N</news:name><news:language>en</news:language>"
               b"</news:publication><news:publication_date>2026-11-26T09:00:00Z</news:publication_date>"
               b"<news:title>A</news:title></news:news></url></urlset>")
    index = (b'<sitemapindex xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">'
             b"<sitemap><loc>https://news.example/posts.xml</loc></sitemap>"
             b"<sitemap><loc>https://news.example/news-sitemap.xml</loc></sitemap></sitemapindex>")
    http = FakeFetcher({"https://news.example/sitemap.xml": index, "https://news.example/news-sitemap.xml": sitemap})
    found = discover(http, FakeRobots(sitemaps=("https://news.example/sitemap.xml",)), SITE)
    assert found.chosen is not None
    assert (found.chosen.url, found.chosen.kind) == ("https://news.example/news-sitemap.xml", "news_sitemap")
    assert "https://news.example/posts.xml" not in [u for u, _ in http.calls]  # "news" children first


def test_nothing_found_lists_what_was_tried() -> None:
    found = discover(FakeFetcher({SITE: b"<html></html>"}), FakeRobots(), SITE)
    assert found.chosen is None and len(found.tried) == 7 and "http_404" in found.summary()


def test_only_the_site_origin_is_trusted_and_robots_is_asked_for_every_probe() -> None:
    http = FakeFetcher({SITE: _home(("https://feeds.other.example/f", "application/rss+xml")),
                        "https://feeds.other.example/f": _rss(2)})
    robots = FakeRobots(disallow=("https://news.example/feed",))
    found = discover(http, robots, SITE)
    assert found.chosen is not None and found.chosen.url == "https://feeds.other.example/f"
    assert dict(http.calls) == {SITE: True, "https://feeds.other.example/f": False}
    assert robots.asked == [SITE, "https://feeds.other.example/f"]

    blocked = FakeFetcher({SITE: b"<html></html>", "https://news.example/feed": _rss(2)})
    found = discover(blocked, FakeRobots(disallow=("https://news.example/feed",)), SITE)
    assert "https://news.example/feed" not in [u for u, _ in blocked.calls]
    assert ("https://news.example/feed", "robots_disallowed") in found.tried


def test_rank_prefers_the_language_hint_then_entries_then_freshness() -> None:
    http = FakeFetcher({SITE: _home(("/en.xml", "application/rss+xml"), ("/ar.xml", "application/rss+xml"),
                                    ("/ar-old.xml", "application/rss+xml")),
                        "https://news.example/en.xml": _rss(9, "en"), "https://news.example/ar.xml": _rss(3, "ar"),
                        "https://news.example/ar-old.xml": _rss(3, "ar", day=1)})
    found = discover(http, None, SITE, language="ar")
    assert [c.url.rsplit("/", 1)[1] for c in found.candidates] == ["ar.xml", "ar-old.xml", "en.xml"]
    assert rank(found.candidates, None)[0].url.endswith("/en.xml")


def test_robots_sitemap_lines() -> None:
    assert robots_sitemap_lines(b"User-agent: *\nSitemap: https://a/s.xml\nsitemap:/rel.xml\nDisallow: /x\n") == [
        "https://a/s.xml", "/rel.xml"]


def test_rediscovery_only_after_days_of_failure() -> None:
    chosen = FeedState(SITE, discovered_url="https://news.example/rss", discovered_at=NOW - timedelta(days=10),
                       last_success_at=NOW - timedelta(days=1))
    assert needs_discovery(FeedState(SITE), NOW)
    assert not needs_discovery(chosen, NOW)
    assert not needs_discovery(replace(chosen, consecutive_failures=5), NOW)  # a day down: keep it
    assert needs_discovery(replace(chosen, consecutive_failures=5, last_success_at=NOW - timedelta(days=4)), NOW)


def test_site_poll_discovers_once_then_polls_the_chosen_feed() -> None:
    http = FakeFetcher({SITE: _home(("/live.xml", "application/rss+xml")), "https://news.example/live.xml": _rss(2)})
    source = FeedSource(SITE, site=True)
    first = poll_feed(http, None, source, FeedState(SITE), PollingConfig(), now=NOW)
    assert first.status == "ok" and first.state.feed_url == SITE
    assert first.state.discovered_url == "https://news.example/live.xml"
    assert {e.feed_url for e in first.entries} == {"https://news.example/live.xml"}
    http.calls.clear()
    again = poll_feed(http, None, source, first.state, PollingConfig(), now=NOW + timedelta(hours=1))
    assert again.status == "ok" and [u for u, _ in http.calls] == ["https://news.example/live.xml"]

    nothing = poll_feed(FakeFetcher({}), None, source, FeedState(SITE), PollingConfig(), now=NOW)
    assert nothing.status == "failed" and [(r.stage, r.reason) for r in nothing.rejects] == [("poll", "no_feed_found")]
    assert nothing.state.consecutive_failures == 1


def test_a_site_whose_feed_failed_for_days_is_searched_again() -> None:
    old, new = "https://news.example/old.xml", "https://news.example/new.xml"
    http = FakeFetcher({SITE: _home(("/new.xml", "application/rss+xml")), new: _rss(2)})
    stale = FeedState(SITE, etag='"x"', discovered_url=old, discovered_kind="feed",
                      discovered_at=NOW - timedelta(days=9), last_success_at=NOW - timedelta(days=4),
                      consecutive_failures=6, recent_keys=("abc",), seen_since=NOW - timedelta(days=9))
    outcome = poll_feed(http, None, FeedSource(SITE, site=True), stale, PollingConfig(), now=NOW)
    assert outcome.status == "ok" and outcome.state.discovered_url == new
    assert outcome.state.discovered_at == NOW and old not in [u for u, _ in http.calls]
    assert outcome.state.seen_since == NOW  # keys of the old feed are not compared with the new one's
    assert [c for c in http.calls if c[0] == new] == [(new, True)]  # verified, and that response polled

    recent = replace(stale, last_success_at=NOW - timedelta(days=1))
    http.calls.clear()
    kept = poll_feed(http, None, FeedSource(SITE, site=True), recent, PollingConfig(), now=NOW)
    assert kept.status == "failed" and [u for u, _ in http.calls] == [old]  # down a day: no re-probing
