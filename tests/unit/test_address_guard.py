"""The private-address guard's pure half: IPv6 forms that carry an IPv4 address are judged by it."""

from __future__ import annotations

import pytest

from pipeline.config import parse_config
from pipeline.io.http import is_public_address
from pipeline.sources.opml import with_opml_feeds


@pytest.mark.parametrize("address", [
    "::7f00:1",            # IPv4-compatible 127.0.0.1
    "::ffff:0:127.0.0.1",  # IPv4-translated
    "::ffff:127.0.0.1",    # IPv4-mapped
    "::ffff:10.0.0.1",
    "2002:7f00:1::",       # 6to4 of 127.0.0.1
    "2002:a9fe:a9fe::1",   # 6to4 of 169.254.169.254 (cloud metadata)
    "64:ff9b::7f00:1",     # NAT64 of 127.0.0.1
    "64:ff9b::a00:1",
    "2001:0:4136:e378:8000:63bf:3fff:fdd2",  # Teredo
    "127.0.0.1", "10.1.2.3", "169.254.169.254", "::1", "::", "fe80::1%eth0", "fc00::1", "224.0.0.1",
])
def test_private_addresses(address: str) -> None:
    assert not is_public_address(address)


@pytest.mark.parametrize("address", ["8.8.8.8", "2606:4700::1111", "::ffff:8.8.8.8", "64:ff9b::808:808",
                                     "2002:808:808::1"])
def test_public_addresses(address: str) -> None:
    assert is_public_address(address)


OPML = (b'<?xml version="1.0"?><opml version="2.0"><body>'
        b'<outline text="a" xmlUrl="http://10.0.0.5/feed.xml"/></body></opml>')


def test_feeds_from_an_opml_fetched_from_a_url_are_untrusted() -> None:
    base = parse_config({"feeds": [{"url": "https://news.example.org/rss"}], "output": {"path": "/tmp/x"}})
    remote = with_opml_feeds(base, [("https://lists.example.net/list.opml", OPML)])
    local = with_opml_feeds(base, [("lists/list.opml", OPML)])
    assert [f.trusted for f in remote.feeds] == [True, False]
    assert [f.trusted for f in local.feeds] == [True, True]
