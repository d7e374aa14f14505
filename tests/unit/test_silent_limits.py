"""Limits that used to be silent say so: an OPML list past MAX_FEEDS, binary files served as
text/html, and links refused for their scheme."""

from __future__ import annotations

import pytest

import pipeline.sources.opml as opml
from pipeline.articles.decoding import binary_kind, is_html
from pipeline.config import parse_config
from pipeline.records import FeedSource
from pipeline.sources.feeds import parse_feed


def _opml(n: int) -> bytes:
    outlines = "".join(f'<outline text="f{i}" xmlUrl="https://f{i}.example.org/rss"/>' for i in range(n))
    return f'<?xml version="1.0"?><opml version="2.0"><body>{outlines}</body></opml>'.encode()


def test_opml_over_the_limit_says_how_many_were_ignored(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(opml, "MAX_FEEDS", 5)
    feeds = opml.parse_opml(_opml(8))
    assert len(feeds) == 5 and feeds.dropped == 3
    assert "lists 8 feeds; only the first 5 are used (3 ignored)" in feeds.limit_note("big.opml")
    assert opml.parse_opml(_opml(5)).limit_note("ok.opml") is None
    base = parse_config({"feeds": [{"url": "https://news.example.org/rss"}], "output": {"path": "/tmp/x"}})
    notes: list[str] = []
    merged = opml.with_opml_feeds(base, [("big.opml", _opml(8))], notes)
    assert len(merged.feeds) == 6 and len(notes) == 1 and notes[0].startswith("big.opml: lists 8 feeds")


@pytest.mark.parametrize("body", [b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n1 0 obj", b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR",
                                  b"\xff\xd8\xff\xe0\0\x10JFIF", b"GIF89a\x01\0\x01\0", b"PK\x03\x04\x14\0\0\0",
                                  b"\n  %PDF-1.4"])
def test_binary_files_served_as_html_are_not_html(body: bytes) -> None:
    assert binary_kind(body) is not None
    assert not is_html("text/html; charset=utf-8", body)
    assert not is_html("", body)


def test_real_html_is_still_html() -> None:
    assert binary_kind(b"<!doctype html><p>PK and %PDF- in text</p>") is None
    assert is_html("text/html", b"<!doctype html><p>PK\x03\x04</p>")


def test_a_refused_link_is_named_in_its_reject_not_the_guid() -> None:
    body = (b'<?xml version="1.0"?><rss version="2.0"><channel><title>T</title>'
            b'<item><title>js</title><link>javascript:alert(1)</link><guid isPermaLink="false">g-1</guid></item>'
            b'<item><title>data</title><link>data:text/html,hi</link><guid isPermaLink="false">g-2</guid></item>'
            b'<item><title>none</title><guid isPermaLink="false">g-3</guid></item>'
            b"</channel></rss>")
    parsed = parse_feed(body, FeedSource("https://x.org/f"), "https://x.org/f")
    assert [(r.url, r.reason) for r in parsed.rejects] == [
        ("javascript:alert(1)", "no_link"), ("data:text/html,hi", "no_link"), ("g-3", "no_link")]
