"""The per-request wall-clock deadline holds where a run meets it: a trickled feed through a poll
and a trickled article link through a real pipeline end in bounded time as `timeout` rejects."""

from __future__ import annotations

import time
from pathlib import Path

from conftest import TrickleServer, query

from pipeline.commands.demo_server import FixtureServer, send
from pipeline.config import HttpConfig, PollingConfig, parse_config
from pipeline.io.http import HttpFetcher
from pipeline.records import FeedSource
from pipeline.run import run_batch
from pipeline.sources.poll import poll_feed
from pipeline.sources.schedule import FeedState

TIMEOUT_S = 2.0


def test_trickled_feed_poll_fails_as_timeout_within_the_deadline(trickle_server: TrickleServer) -> None:
    source = FeedSource(trickle_server.url("/feed.xml"))
    started = time.monotonic()
    with HttpFetcher(HttpConfig(timeout_s=TIMEOUT_S, retries=0, allow_private_networks=True)) as http:
        outcome = poll_feed(http, None, source, FeedState(source.url), PollingConfig())
    assert time.monotonic() - started < TIMEOUT_S + 1.5
    assert outcome.status == "failed" and [r.reason for r in outcome.rejects] == ["timeout"]


def test_trickled_article_link_is_a_timeout_reject_and_the_run_ends(
        empty_site: FixtureServer, trickle_server: TrickleServer, tmp_path: Path) -> None:
    slow = trickle_server.url("/story.html")
    feed = (f'<?xml version="1.0"?><rss version="2.0"><channel><title>T</title><item><title>Slow story</title>'
            f"<link>{slow}</link><description>The council met and agreed the timetable.</description>"
            "</item></channel></rss>").encode()
    empty_site.routes["/feed.xml"] = lambda h: send(h, 200, feed, "application/rss+xml")
    cfg = parse_config({
        "feeds": [{"url": empty_site.url("feed.xml"), "check_robots": False}],
        "output": {"path": str(tmp_path / "out")},
        "http": {"allow_private_networks": True, "per_host_delay_s": 0, "retries": 0, "timeout_s": TIMEOUT_S},
        "polling": {"respect_robots": False},
    })
    started = time.monotonic()
    summary = run_batch(cfg)
    elapsed = time.monotonic() - started
    assert summary.counters["articles_written"] == 1  # from the feed's text
    assert query(tmp_path / "out", "SELECT reason, url FROM t", dataset="rejects") == [("timeout", slow)]
    assert trickle_server.connections == 1
    assert elapsed < 30  # about 5 s measured; the trickle alone would last 300 bytes x 0.2 s = 60 s
