"""OPML import: nested folders, categories, duplicates, hostile input, and the YAML round trip."""

from __future__ import annotations

import doctest

import pytest
import yaml

import pipeline.sources.opml
from pipeline.config import parse_config
from pipeline.sources.opml import OpmlError, opml_to_yaml, parse_opml

OPML = """<?xml version="1.0" encoding="UTF-8"?>
<opml version="2.0">
  <head><title>My subscriptions</title></head>
  <body>
    <outline text="News" title="News">
      <outline text="World">
        <outline type="rss" text="Harbor Daily text" title="Harbor Daily" xmlUrl="https://harbor.example.org/rss"
                 htmlUrl="https://harbor.example.org/" category="/Regional/Coast,ports" language="en-GB"/>
        <outline type="rss" text="أخبار" xmlUrl="https://akhbar.example.net/feed.xml" language="ar"/>
      </outline>
      <outline text="Business">
        <outline type="rss" text="Harbor again" xmlURL="HTTPS://Harbor.Example.org:443/rss#top"/>
        <outline type="rss" text="Markets" xmlUrl="feed://markets.example.com/atom"/>
      </outline>
    </outline>
    <outline type="rss" xmlUrl="https://bare.example.com/feed" language="unknown"/>
    <outline text="Not a feed" htmlUrl="https://blog.example.com/"/>
    <outline text="Mail" xmlUrl="mailto:someone@example.com"/>
    <outline text="Relative" xmlUrl="/feed.xml"/>
    <outline text="Empty folder"/>
  </body>
</opml>
"""


def test_nested_outlines_become_feed_configs() -> None:
    feeds = parse_opml(OPML.encode())
    assert feeds == [
        {"url": "https://harbor.example.org/rss", "name": "Harbor Daily",
         "tags": ["News", "World", "Regional", "Coast", "ports", "Business"], "language": "en"},
        {"url": "https://akhbar.example.net/feed.xml", "name": "أخبار", "tags": ["News", "World"],
         "language": "ar"},
        {"url": "http://markets.example.com/atom", "name": "Markets", "tags": ["News", "Business"]},
        {"url": "https://bare.example.com/feed", "name": None, "tags": []},
    ]


def test_yaml_snippet_loads_as_config() -> None:
    snippet = opml_to_yaml(parse_opml(OPML.encode()))
    data = yaml.safe_load(snippet)
    assert list(data) == ["feeds"]
    cfg = parse_config({**data, "output": {"path": "/tmp/out"}})
    assert [str(f.url) for f in cfg.feeds] == ["https://harbor.example.org/rss", "https://akhbar.example.net/feed.xml",
                                               "http://markets.example.com/atom", "https://bare.example.com/feed"]
    assert cfg.feeds[0].tags[:2] == ("News", "World") and cfg.feeds[0].language == "en"
    assert cfg.feeds[1].name == "أخبار" and "أخبار" in snippet  # written as text, not escapes
    assert cfg.feeds[3].name is None and cfg.feeds[3].tags == ()
    # appended to an existing config file's other sections, the text is still one valid config
    combined = yaml.safe_load("output:\n  path: ./data\n" + snippet)
    assert len(parse_config(combined).feeds) == 4


def test_opml_1_without_head_and_case_variants() -> None:
    feeds = parse_opml(b'<opml version="1.0"><body><outline TEXT="x" title="T" XMLURL="http://a.example/f"/>'
                       b"</body></opml>")
    assert feeds == [{"url": "http://a.example/f", "name": "T", "tags": []}]


@pytest.mark.parametrize("data", [
    b"",
    b"not xml",
    b"<rss version='2.0'><channel/></rss>",
    b"<opml version='2.0'><head/></opml>",
    b'<?xml version="1.0"?><!DOCTYPE opml [<!ENTITY a "aaaaaaaaaa"><!ENTITY b "&a;&a;&a;&a;&a;&a;">]>'
    b'<opml><body><outline text="&b;" xmlUrl="https://x.example/f"/></body></opml>',
    b'<?xml version="1.0"?><!DOCTYPE opml [<!ENTITY x SYSTEM "file:///etc/hostname">]>'
    b'<opml><body><outline text="&x;" xmlUrl="https://x.example/f"/></body></opml>',
])
def test_unusable_documents_raise(data: bytes) -> None:
    with pytest.raises(OpmlError):
        parse_opml(data)


def test_deep_nesting_is_bounded() -> None:
    depth = 200
    doc = ("<opml><body>" + '<outline text="f">' * depth + '<outline text="deep" xmlUrl="https://d.example/f"/>'
           + "</outline>" * depth + '<outline text="top" xmlUrl="https://t.example/f"/></body></opml>')
    assert [f["name"] for f in parse_opml(doc.encode())] == ["top"]


def test_module_doctest() -> None:
    assert doctest.testmod(pipeline.sources.opml).failed == 0
