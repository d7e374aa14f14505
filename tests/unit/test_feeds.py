"""parse_feed on small documents written inline: every flavour, every rule, and hostile input."""

from __future__ import annotations

import json
import time
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime

import pytest

from pipeline.commands.demo_server import DEMO_DIR
from pipeline.records import FeedSource
from pipeline.sources.feeds import ParsedFeed, parse_feed
from pipeline.sources.xmlsafe import safe_xml_root, xml_hazard

FEED_URL = "https://news.example.org/feeds/main.xml"
SOURCE = FeedSource(FEED_URL, tags=("test",))
FUTURE = datetime.now(UTC) + timedelta(days=30)


def _parse(body: str | bytes, content_type: str = "", url: str = FEED_URL) -> ParsedFeed:
    data = body.encode("utf-8") if isinstance(body, str) else body
    return parse_feed(data, SOURCE, url, content_type)


def _rss(items: str, channel_extra: str = "") -> str:
    return (f'<?xml version="1.0" encoding="utf-8"?><rss version="2.0"><channel><title>Main</title>'
            f"<link>https://news.example.org/</link>{channel_extra}{items}</channel></rss>")


def _reasons(parsed: ParsedFeed) -> list[str]:
    return [r.reason for r in parsed.rejects]


# --- RSS 2.0 ---------------------------------------------------------------------------------

def test_rss2_entry_fields_title_and_ttl() -> None:
    parsed = _parse(_rss(
        """<item><title> First &amp; best </title><link>https://news.example.org/a?utm_source=rss</link>
        <guid isPermaLink="false">id-1</guid><pubDate>Tue, 24 Nov 2026 10:05:00 +0200</pubDate>
        <author>desk@example.org (Ruth Adeyemi)</author><category>World</category><category>World</category>
        <description>&lt;p&gt;One.&lt;/p&gt;&lt;p&gt;Two.&lt;/p&gt;</description></item>""",
        "<ttl>45</ttl><language>en-GB</language>"))
    assert parsed.title == "Main" and parsed.ttl_minutes == 45 and parsed.rejects == []
    (e,) = parsed.entries
    assert e.link == "https://news.example.org/a?utm_source=rss" and e.entry_id == "id-1"
    assert e.title == "First & best" and e.summary == "One.\nTwo."
    assert e.published_at == datetime(2026, 11, 24, 8, 5, tzinfo=UTC)
    assert e.categories == ("World",) and e.language_hint == "en" and e.tags == ("test",)
    assert e.source == "Main" and e.feed_url == FEED_URL and len(e.url_key) == 32


def test_ttl_absent_bad_or_from_syndication_module() -> None:
    assert _parse(_rss("")).ttl_minutes is None
    assert _parse(_rss("", "<ttl>soon</ttl>")).ttl_minutes is None
    assert _parse(_rss("", "<ttl>0</ttl>")).ttl_minutes is None
    sy = ('<rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#" xmlns="http://purl.org/rss/1.0/"'
          ' xmlns:sy="http://purl.org/rss/1.0/modules/syndication/"><channel rdf:about="https://x.org/">'
          "<title>T</title><link>https://x.org/</link><sy:updatePeriod>hourly</sy:updatePeriod>"
          "<sy:updateFrequency>4</sy:updateFrequency></channel></rdf:RDF>")
    assert _parse(sy).ttl_minutes == 15


def test_demo_feed_parses_with_its_ttl() -> None:
    body = (DEMO_DIR / "site/feeds/world-en.xml").read_bytes().replace(b"{{BASE}}", b"http://127.0.0.1:1")
    parsed = parse_feed(body, FeedSource("http://127.0.0.1:1/feeds/world-en.xml"),
                        "http://127.0.0.1:1/feeds/world-en.xml", "application/xml")
    assert parsed.ttl_minutes == 15 and parsed.entries and not parsed.rejects


# --- other flavours ----------------------------------------------------------------------------

def test_atom_0_3() -> None:
    parsed = _parse("""<?xml version="1.0"?><feed version="0.3" xmlns="http://purl.org/atom/ns#">
      <title>Old Atom</title><link rel="alternate" type="text/html" href="https://old.example.org/"/>
      <modified>2024-03-01T12:00:00Z</modified>
      <entry><title>Atom 0.3 entry</title><link rel="alternate" type="text/html" href="https://old.example.org/e1"/>
        <id>tag:old.example.org,2024:1</id><issued>2024-03-01T10:00:00Z</issued>
        <modified>2024-03-01T11:00:00Z</modified><author><name>Ada</name></author>
        <summary>Short.</summary></entry></feed>""")
    (e,) = parsed.entries
    assert parsed.title == "Old Atom" and e.link == "https://old.example.org/e1"
    assert e.entry_id == "tag:old.example.org,2024:1" and e.authors == ("Ada",)
    assert e.published_at == datetime(2024, 3, 1, 10, tzinfo=UTC)
    assert e.updated_at == datetime(2024, 3, 1, 11, tzinfo=UTC)


def test_rss_0_91() -> None:
    parsed = _parse("""<?xml version="1.0"?>
    <!DOCTYPE rss PUBLIC "-//Netscape Communications//DTD RSS 0.91//EN"
      "http://my.netscape.com/publish/formats/rss-0.91.dtd">
    <rss version="0.91"><channel><title>Ninety-one</title><link>https://n.example.org/</link>
      <description>d</description><language>fr</language>
      <item><title>Vieux</title><link>https://n.example.org/vieux</link><description>texte</description></item>
    </channel></rss>""")
    (e,) = parsed.entries
    assert parsed.title == "Ninety-one" and e.link == "https://n.example.org/vieux"
    assert e.summary == "texte" and e.language_hint == "fr" and e.entry_id is None


def test_rss_1_0_rdf() -> None:
    parsed = _parse("""<?xml version="1.0"?>
    <rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#" xmlns="http://purl.org/rss/1.0/"
             xmlns:dc="http://purl.org/dc/elements/1.1/">
      <channel rdf:about="https://r.example.org/"><title>RDF site</title><link>https://r.example.org/</link>
        <items><rdf:Seq><rdf:li resource="https://r.example.org/1"/></rdf:Seq></items></channel>
      <item rdf:about="https://r.example.org/1"><title>One</title><link>https://r.example.org/1</link>
        <dc:date>2025-01-02T03:04:05Z</dc:date><dc:creator>Bo</dc:creator><dc:subject>Tech</dc:subject></item>
    </rdf:RDF>""")
    (e,) = parsed.entries
    assert parsed.title == "RDF site" and e.link == "https://r.example.org/1"
    # feedparser reads dc:date as the entry's `updated`; downstream falls back to it
    assert e.updated_at == datetime(2025, 1, 2, 3, 4, 5, tzinfo=UTC)
    assert e.authors == ("Bo",) and e.categories == ("Tech",)


# --- entry rules -------------------------------------------------------------------------------

def test_relative_links_resolve_against_feed_url_and_xml_base() -> None:
    rss = _parse(_rss("<item><title>r</title><link>../story/1</link><guid>g1</guid></item>"
                      "<item><title>s</title><link>/story/2</link><guid>g2</guid></item>"))
    assert [e.link for e in rss.entries] == ["https://news.example.org/story/1",
                                             "https://news.example.org/story/2"]
    atom = _parse("""<feed xmlns="http://www.w3.org/2005/Atom" xml:base="https://cdn.example.net/blog/">
      <title>A</title><id>urn:a</id><updated>2025-01-01T00:00:00Z</updated>
      <entry xml:base="posts/"><title>p</title><id>urn:p</id><link href="first.html"/>
        <updated>2025-01-01T00:00:00Z</updated></entry>
      <entry><title>q</title><id>urn:q</id><link href="second.html"/><updated>2025-01-01T00:00:00Z</updated></entry>
    </feed>""")
    assert [e.link for e in atom.entries] == ["https://cdn.example.net/blog/posts/first.html",
                                              "https://cdn.example.net/blog/second.html"]


def test_entries_without_links_are_rejected_not_invented() -> None:
    parsed = _parse(_rss("<item><title>No link</title><guid isPermaLink='false'>nl-1</guid></item>"
                         "<item><title>Mail link</title><link>mailto:desk@example.org</link></item>"
                         "<item><title>Permalink guid</title><guid>https://news.example.org/p</guid></item>"))
    assert [e.link for e in parsed.entries] == ["https://news.example.org/p"]
    assert _reasons(parsed) == ["no_link", "no_link"]
    assert parsed.rejects[0].url == "nl-1" and parsed.rejects[0].feed_url == FEED_URL
    assert "No link" in parsed.rejects[0].detail


def test_duplicate_guids_and_links_kept_once() -> None:
    parsed = _parse(_rss(
        "<item><title>first</title><link>https://news.example.org/1</link><guid>same</guid></item>"
        "<item><title>second</title><link>https://news.example.org/2</link><guid>same</guid></item>"
        "<item><title>no guid</title><link>https://news.example.org/3</link></item>"
        "<item><title>no guid again</title><link>https://news.example.org/3</link></item>"))
    assert [(e.title, e.link) for e in parsed.entries] == [
        ("first", "https://news.example.org/1"), ("no guid", "https://news.example.org/3")]
    assert parsed.rejects == []


def test_future_dates_are_dropped_not_trusted() -> None:
    soon = datetime.now(UTC) + timedelta(hours=2)
    parsed = _parse(_rss(
        f"<item><title>f</title><link>https://news.example.org/f</link><pubDate>{format_datetime(FUTURE)}</pubDate></item>"
        f"<item><title>s</title><link>https://news.example.org/s</link><pubDate>{format_datetime(soon)}</pubDate></item>"
        "<item><title>old</title><link>https://news.example.org/o</link>"
        "<pubDate>Mon, 01 Jan 1979 00:00:00 GMT</pubDate></item>"))
    future, skewed, ancient = parsed.entries
    assert future.published_at is None and ancient.published_at is None
    assert skewed.published_at is not None  # within the day of tolerated clock skew


# --- broken and hostile documents ----------------------------------------------------------------

def test_malformed_xml_still_yields_the_entries_before_the_break() -> None:
    parsed = _parse(_rss("<item><title>kept</title><link>https://news.example.org/k</link></item>"
                         "<item><title>broken & bare</title><link>https://news.example.org/b</link></item>")
                    .replace("</channel></rss>", "<item><title>unclosed"))
    assert "https://news.example.org/k" in [e.link for e in parsed.entries]


def test_malformed_xml_without_entries_is_one_reject() -> None:
    parsed = _parse('<rss version="2.0"><channel><title>x</b></rss')
    assert parsed.entries == [] and _reasons(parsed) == ["malformed_feed"]
    assert parsed.rejects[0].detail


def test_valid_feed_without_items_is_not_a_failure() -> None:
    for content_type in ("application/rss+xml", "text/plain", "application/xml; charset=utf-8"):
        parsed = _parse(_rss("", "<ttl>60</ttl>").replace("utf-8", "iso-8859-1"), content_type)
        assert parsed == ParsedFeed("Main", [], [], 60)


@pytest.mark.parametrize("body", [b"", b"   \r\n\t", b"\xef\xbb\xbf\n"])
def test_empty_body(body: bytes) -> None:
    assert _reasons(_parse(body)) == ["empty_feed"]


@pytest.mark.parametrize("content_type", ["text/html; charset=utf-8", "application/xml", ""])
def test_html_page_is_not_a_feed(content_type: str) -> None:
    page = ("<!DOCTYPE html><html><head><title>Home</title></head><body><h1>News</h1>"
            '<a href="/story/1">Story</a><p>Text</p></body></html>')
    parsed = _parse(page, content_type)
    assert parsed.entries == [] and _reasons(parsed) == ["not_a_feed"]


def _nested_bomb(levels: int = 10, fanout: int = 10, quote: str = '"', sep: str = "\n") -> bytes:
    ents = [f"<!ENTITY lol0 {quote}lol{quote}>"]
    ents += [f"<!ENTITY lol{i} {quote}{f'&lol{i - 1};' * fanout}{quote}>" for i in range(1, levels)]
    return (f'<?xml version="1.0"?>{sep}<!DOCTYPE rss [{sep}{sep.join(ents)}{sep}]>{sep}'
            f'<rss version="2.0"><channel><title>&lol{levels - 1};</title><item><title>&lol{levels - 1};</title>'
            "<link>https://news.example.org/x</link></item></channel></rss>").encode()


BOMBS = {
    "billion_laughs": _nested_bomb(),
    "one_line": _nested_bomb(sep=""),
    "single_quotes": _nested_bomb(quote="'", sep=" "),
    "short_values": _nested_bomb(levels=30, fanout=2),  # each value short, still 2**29 expansion
    "quadratic": (b'<?xml version="1.0"?><!DOCTYPE rss [<!ENTITY a "' + b"x" * 50_000 + b'">]>'
                  b'<rss version="2.0"><channel><title>t</title><item><title>' + b"&a;" * 50_000
                  + b"</title><link>https://news.example.org/q</link></item></channel></rss>"),
    "parameter_entities": (b'<?xml version="1.0"?><!DOCTYPE rss [<!ENTITY % p "<!ENTITY a \'b\'>"> %p;]>'
                           b'<rss version="2.0"><channel><title>&a;</title></channel></rss>'),
    "external_entity": (b'<?xml version="1.0"?><!DOCTYPE rss [<!ENTITY xxe SYSTEM "file:///etc/passwd">]>'
                        b'<rss version="2.0"><channel><title>&xxe;</title><item><title>&xxe;</title>'
                        b"<link>https://news.example.org/x</link></item></channel></rss>"),
    "utf16": _nested_bomb().decode().replace('version="1.0"?>', 'version="1.0" encoding="utf-16"?>')
    .encode("utf-16"),
}


@pytest.mark.timeout(20)
@pytest.mark.parametrize("name", sorted(BOMBS))
def test_entity_expansion_is_refused_quickly(name: str) -> None:
    started = time.monotonic()
    parsed = _parse(BOMBS[name])
    assert time.monotonic() - started < 3
    assert _reasons(parsed) == ["unsafe_xml"] and parsed.entries == []
    assert xml_hazard(BOMBS[name])
    with pytest.raises(ValueError):
        safe_xml_root(BOMBS[name])


def test_harmless_dtds_are_allowed() -> None:
    parsed = _parse('<?xml version="1.0"?><!DOCTYPE rss [<!-- a ]> comment --><!ENTITY nbsp "&#160;">'
                    '<!ENTITY co "Acme (c)">]><rss version="2.0"><channel><title>A&nbsp;B</title>'
                    "<item><title>&co;</title><link>https://news.example.org/e</link></item></channel></rss>")
    assert parsed.title == "A\xa0B" and [e.title for e in parsed.entries] == ["Acme (c)"]
    assert xml_hazard(b"<!DOCTYPE html><html></html>") is None
    assert xml_hazard(b"<?xml version='1.0'?><!-- c --><rss/>") is None


def test_safe_xml_root_recovers_or_refuses() -> None:
    assert safe_xml_root(b"<a><b>ok</b><c>broken</a>").find("b").text == "ok"
    with pytest.raises(ValueError):
        safe_xml_root(b"<a><b>broken</a>", recover=False)
    with pytest.raises(ValueError):
        safe_xml_root(b"not xml at all")


# --- JSON Feed -----------------------------------------------------------------------------------

def _json_feed(items: list, **feed: object) -> bytes:
    return json.dumps({"version": "https://jsonfeed.org/version/1.1", "title": "JSON News",
                       "home_page_url": "https://news.example.org/blog/", "items": items, **feed}).encode()


def test_json_feed_1_1_fields() -> None:
    parsed = _parse(_json_feed([{
        "id": "item-1", "url": "posts/1?utm_medium=feed", "title": " Hello ",
        "content_html": "<p>Para one.</p><p>Para two.</p>", "summary": "Short summary.",
        "date_published": "2025-02-03T04:05:06+01:00", "date_modified": "2025-02-04T00:00:00Z",
        "authors": [{"name": "Ada"}, {"name": "Ada"}, {"url": "https://x"}, {"name": "Bo"}],
        "tags": ["economy", "economy", "", 3, "ports"], "language": "ar-EG",
    }], language="en-US"), "application/feed+json")
    assert parsed.title == "JSON News" and parsed.ttl_minutes is None and parsed.rejects == []
    (e,) = parsed.entries
    assert e.link == "https://news.example.org/blog/posts/1?utm_medium=feed" and e.entry_id == "item-1"
    assert e.title == "Hello" and e.content == "Para one.\nPara two." and e.summary == "Short summary."
    assert e.published_at == datetime(2025, 2, 3, 3, 5, 6, tzinfo=UTC)
    assert e.updated_at == datetime(2025, 2, 4, tzinfo=UTC)
    assert e.authors == ("Ada", "Bo") and e.categories == ("economy", "ports")
    assert e.language_hint == "ar" and e.source == "JSON News" and e.tags == ("test",)


def test_json_feed_1_0_detected_by_body_with_feed_level_fallbacks() -> None:
    body = json.dumps({
        "version": "https://jsonfeed.org/version/1", "title": "Old JSON", "author": {"name": "Desk"},
        "items": [
            {"id": 7, "url": "/a", "content_text": "  plain text  "},
            {"id": "8", "external_url": "https://elsewhere.example.com/b", "title": "linked"},
        ],
    }).encode()
    parsed = _parse(b"\n  " + body, "text/plain", url="https://j.example.org/feed.json")
    first, second = parsed.entries
    assert first.entry_id == "7" and first.link == "https://j.example.org/a"  # no home_page_url
    assert first.content == "plain text" and first.authors == ("Desk",) and first.language_hint is None
    assert second.link == "https://elsewhere.example.com/b"


def test_json_feed_rules_match_rss() -> None:
    parsed = _parse(_json_feed([
        {"id": "1", "url": "https://news.example.org/1", "date_published": FUTURE.isoformat()},
        {"id": "1", "url": "https://news.example.org/dup"},
        {"id": "2", "title": "no link"},
        {"id": "3", "url": "javascript:alert(1)"},
        {"url": "https://news.example.org/4"},
        {"url": "https://news.example.org/4"},
        "not an object",
    ]), "application/json")
    assert [e.link for e in parsed.entries] == ["https://news.example.org/1", "https://news.example.org/4"]
    assert parsed.entries[0].published_at is None
    assert _reasons(parsed) == ["no_link", "no_link", "malformed_entry"]


def test_json_feed_language_hint_from_config_wins() -> None:
    parsed = parse_feed(_json_feed([{"id": "1", "url": "/x", "language": "en"}]),
                        FeedSource(FEED_URL, language="ar"), FEED_URL, "application/feed+json")
    assert parsed.entries[0].language_hint == "ar"


@pytest.mark.parametrize(("body", "content_type", "reason"), [
    (b'{"version": "https://jsonfeed.org/version/1.1", "items": [', "application/feed+json", "malformed_feed"),
    (b"\xff\xfe{not json", "application/json", "malformed_feed"),
    (b"[" * 100_000, "application/json", "malformed_feed"),
    (b'{"version": "https://jsonfeed.org/version/1.1", "items": {}}', "", "malformed_feed"),
    (b'{"hello": "world"}', "application/json", "not_a_feed"),
    (b'{"version": "2.0", "items": []}', "application/feed+json", "not_a_feed"),
])
def test_bad_json_is_one_reject(body: bytes, content_type: str, reason: str) -> None:
    parsed = _parse(body, content_type)
    assert parsed.entries == [] and _reasons(parsed) == [reason]


def test_xml_served_as_json_is_still_read_as_xml() -> None:
    parsed = _parse(_rss("<item><title>x</title><link>https://news.example.org/x</link></item>"),
                    "application/json")
    assert [e.link for e in parsed.entries] == ["https://news.example.org/x"]


def test_arabic_month_names_in_feed_dates_parse() -> None:
    body = ('<?xml version="1.0" encoding="utf-8"?><rss version="2.0"><channel><title>t</title>'
            '<item><title>x</title><link>http://e.org/a</link><pubDate>الثلاثاء 24 نوفمبر 2026 - 10:30</pubDate></item>'
            '<item><title>y</title><link>http://e.org/b</link><pubDate>٢٤ تشرين الثاني ٢٠٢٦</pubDate></item>'
            '</channel></rss>').encode()
    parsed = parse_feed(body, FeedSource("http://e.org/f"), "http://e.org/f")
    assert [e.published_at.isoformat() for e in parsed.entries] == [
        "2026-11-24T10:30:00+00:00", "2026-11-24T00:00:00+00:00"]
