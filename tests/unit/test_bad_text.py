"""One bad character never costs more than its entry: lone surrogates, forbidden character
references and invalid UTF-8 bytes in feeds, sitemaps and JSON Feeds."""

from __future__ import annotations

import json

from pipeline.records import FeedEntry, FeedSource, Reject
from pipeline.sources.feeds import parse_feed
from pipeline.sources.repair import neutralize_char_refs, repair_utf8
from pipeline.sources.sitemaps import parse_sitemap
from pipeline.text import scrub

FEED_URL = "https://news.example.org/feed.xml"
SOURCE = FeedSource(FEED_URL)


def _rss(items: list[tuple[str, str]], encoding: str = "utf-8") -> str:
    body = "".join(f"<item><title>{t}</title><link>{link}</link></item>" for t, link in items)
    return (f'<?xml version="1.0" encoding="{encoding}"?><rss version="2.0"><channel><title>T</title>'
            f"{body}</channel></rss>")


def test_scrub_replaces_surrogates_and_drops_controls() -> None:
    assert scrub("a\ud800b\udfffc") == "a\ufffdb\ufffdc"
    assert scrub("x\x00y\x0bz\ufffe\tok\n") == "xyz\tok\n"
    assert scrub("مرحبا 😀") == "مرحبا 😀"


def test_records_are_valid_unicode_however_built() -> None:
    entry = FeedEntry("f", "s\ud800", "https://x.org/a", "k", authors=("a\udc00",), categories=("t\ud800",))
    assert (entry.source, entry.authors, entry.categories) == ("s\ufffd", ("a\ufffd",), ("t\ufffd",))
    reject = Reject("https://x.org/\ud800", None, "poll", "no_link", detail="d\udfff")
    assert (reject.url + reject.detail).encode("utf-8")


def test_neutralize_char_refs_only_touches_forbidden_code_points() -> None:
    assert neutralize_char_refs(b"&#xD800;&#55296;&#x110000;&#0;") == b"&#xFFFD;" * 4
    assert neutralize_char_refs(b"&#x41;&#1576;&#x1F600;&#10;") == b"&#x41;&#1576;&#x1F600;&#10;"


def test_lone_surrogate_reference_rejects_its_entry_only() -> None:
    parsed = parse_feed(_rss([("bad &#xD800; one", "https://news.example.org/a&#xD800;"),
                              ("good &#55296; title", "https://news.example.org/b"),
                              ("fine", "https://news.example.org/c")]).encode(), SOURCE, FEED_URL)
    assert [e.link for e in parsed.entries] == ["https://news.example.org/b", "https://news.example.org/c"]
    assert parsed.entries[0].title == "good \ufffd title"
    assert [(r.reason, r.feed_url) for r in parsed.rejects] == [("parse_error", FEED_URL)]
    assert "invalid character" in parsed.rejects[0].detail


def test_code_point_beyond_unicode_does_not_raise() -> None:
    parsed = parse_feed(_rss([("x &#x110000;", "https://news.example.org/a")]).encode(), SOURCE, FEED_URL)
    assert [e.title for e in parsed.entries] == ["x \ufffd"]


def test_invalid_utf8_byte_damages_its_own_title_only() -> None:
    body = _rss([("مرحبا بكم", "https://news.example.org/a"), ("خبر BAD ثان", "https://news.example.org/b"),
                 ("الطقس اليوم", "https://news.example.org/c")]).encode().replace(b"BAD", b"\xff")
    titles = [e.title for e in parse_feed(body, SOURCE, FEED_URL, "application/rss+xml").entries]
    assert titles == ["مرحبا بكم", "خبر \ufffd ثان", "الطقس اليوم"]


def test_repair_utf8_leaves_other_encodings_alone() -> None:
    cp1256 = _rss([("مرحبا", "https://x.org/a")], "windows-1256").encode("cp1256")
    assert repair_utf8(cp1256) == cp1256
    assert repair_utf8(b"caf\xe9", "text/xml; charset=iso-8859-1") == b"caf\xe9"
    assert repair_utf8("ok é".encode()) == "ok é".encode()
    assert repair_utf8("é à ç \xff".encode().replace(b"\xc3\xbf", b"\xff")) == "é à ç \ufffd".encode()


def test_json_feed_lone_surrogates_are_scrubbed_and_bad_links_rejected() -> None:
    doc = {"version": "https://jsonfeed.org/version/1.1", "title": "J", "items": [
        {"id": "1", "url": "https://news.example.org/a", "title": "t\ud800",
         "authors": [{"name": "Ann\udc00"}], "tags": ["x\ud800y"]},
        {"id": "2", "url": "https://news.example.org/b\ud800", "title": "bad link"},
    ]}
    body = json.dumps(doc).encode()  # ensure_ascii: the surrogates travel as \\ud800 escapes
    parsed = parse_feed(body, SOURCE, FEED_URL, "application/feed+json")
    [entry] = parsed.entries
    assert (entry.title, entry.authors, entry.categories) == ("t\ufffd", ("Ann\ufffd",), ("x\ufffdy",))
    assert [r.reason for r in parsed.rejects] == ["parse_error"]


def test_parser_exception_is_a_parse_error_reject(monkeypatch) -> None:
    import pipeline.sources.feeds as feeds

    def boom(*_a, **_k):
        raise RuntimeError("parser bug")

    monkeypatch.setattr(feeds.feedparser, "parse", boom)
    parsed = parse_feed(_rss([("a", "https://x.org/a")]).encode(), SOURCE, FEED_URL)
    assert [(r.reason, r.detail) for r in parsed.rejects] == [("parse_error", "RuntimeError: parser bug")]


def test_one_broken_entry_is_a_reject_and_the_rest_stay(monkeypatch) -> None:
    import pipeline.sources.feeds as feeds

    real = feeds._content

    def flaky(raw):
        if raw.get("title") == "boom":
            raise KeyError("content")
        return real(raw)

    monkeypatch.setattr(feeds, "_content", flaky)
    parsed = parse_feed(_rss([("boom", "https://x.org/a"), ("ok", "https://x.org/b")]).encode(), SOURCE, FEED_URL)
    assert [e.title for e in parsed.entries] == ["ok"]
    assert [(r.reason, r.url) for r in parsed.rejects] == [("parse_error", "https://x.org/a")]


def test_sitemap_surrogate_reference_rejects_its_url_only() -> None:
    body = (b'<?xml version="1.0"?><urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9" '
            b'xmlns:news="http://www.google.com/schemas/sitemap-news/0.9">'
            b"<url><loc>https://x.org/a&#xD800;</loc><news:news><news:title>bad</news:title></news:news></url>"
            b"<url><loc>https://x.org/b</loc><news:news><news:title>t &#xD800;</news:title></news:news></url>"
            b"</urlset>")
    parsed = parse_sitemap(body, FeedSource("https://x.org/s.xml", kind="news_sitemap"), "https://x.org/s.xml").feed
    assert [(e.link, e.title) for e in parsed.entries] == [("https://x.org/b", "t \ufffd")]
    assert [r.reason for r in parsed.rejects] == ["parse_error"]


class _Fetcher:
    """A fake `Fetcher` serving one body, or raising for every request."""

    user_agent = "test"

    def __init__(self, body: bytes | None = None, error: Exception | None = None):
        self.body, self.error = body, error

    def get(self, url, *, trusted=False, accept="*/*", headers=None):
        from pipeline.fetching import FetchResult

        if self.error is not None:
            raise self.error
        return FetchResult(url, url, 200, {"content-type": "application/rss+xml"}, self.body)

    def set_host_delay(self, host, seconds):
        pass


def test_poll_turns_a_surrogate_feed_and_any_exception_into_rejects() -> None:
    from pipeline.config import PollingConfig
    from pipeline.sources.poll import poll_feed
    from pipeline.sources.schedule import FeedState

    body = _rss([("bad &#xD800;", "https://news.example.org/a&#xD800;"), ("ok", "https://news.example.org/b")])
    outcome = poll_feed(_Fetcher(body.encode()), None, SOURCE, FeedState(FEED_URL), PollingConfig())
    assert outcome.status == "ok" and [e.title for e in outcome.entries] == ["ok"]
    assert [r.reason for r in outcome.rejects] == ["parse_error"]
    broken = poll_feed(_Fetcher(error=RuntimeError("bug")), None, SOURCE, FeedState(FEED_URL), PollingConfig())
    assert broken.status == "failed" and [(r.reason, r.detail) for r in broken.rejects] == [
        ("poll_error", "RuntimeError: bug")]
    assert broken.state.consecutive_failures == 1
