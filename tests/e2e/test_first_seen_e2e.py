"""Entries dated by the publisher wrongly or not at all, end to end: undated entries are dated when
first seen (`date_source first_seen`), and new entries with stale dates still speed the schedule up."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

from conftest import query

from pipeline.commands.demo_server import FixtureServer, send
from pipeline.config import parse_config
from pipeline.io.state import read_feed_states
from pipeline.records import utc_now
from pipeline.run import run_batch

PAGE = ("<html><head><title>{t}</title></head><body><article><h1>{t}</h1>"
        + "<p>{t}: the harbour council met on Tuesday to agree the winter timetable for the ferries. " * 10
        + "</p></article></body></html>")


class Feeds:
    """/stale.xml: every entry stamped 1 Jan 2020; /undated.xml: entries without any date."""

    def __init__(self, server: FixtureServer):
        self.server, self.count = server, 3
        stale = "<pubDate>Wed, 01 Jan 2020 00:00:00 GMT</pubDate>"
        server.routes["/stale.xml"] = lambda h: self.feed(h, "stale", stale)
        server.routes["/undated.xml"] = lambda h: self.feed(h, "undated", "")
        for name in ("stale", "undated"):
            for i in range(10):
                server.routes[f"/{name}-{i}.html"] = lambda h, t=f"{name} story {i}": send(
                    h, 200, PAGE.format(t=t).encode(), "text/html")

    def feed(self, h, name: str, date: str) -> None:
        items = "".join(f"<item><title>{name} {i}</title><link>{self.server.base}/{name}-{i}.html</link>{date}</item>"
                        for i in range(self.count))
        send(h, 200, f"<rss version='2.0'><channel><title>{name}</title>{items}</channel></rss>".encode(),
             "application/rss+xml")


def test_first_seen_dates_and_stale_dated_entries_shorten_the_interval(empty_site: FixtureServer,
                                                                       tmp_path: Path) -> None:
    feeds = Feeds(empty_site)
    out = tmp_path / "out"
    cfg = parse_config({
        "feeds": [{"url": empty_site.url("stale.xml")}, {"url": empty_site.url("undated.xml")}],
        "output": {"path": str(out)},
        "http": {"allow_private_networks": True, "per_host_delay_s": 0, "retries": 0, "timeout_s": 2},
        "polling": {"respect_schedule": False, "jitter": 0},
    })
    started = utc_now()
    run_batch(cfg)
    first = read_feed_states(cfg.state_path)[empty_site.url("stale.xml")]
    assert first.schedule_reason == "max"  # three entries over six years: nothing to learn yet
    undated = query(out, "SELECT DISTINCT date_source, published_at FROM t WHERE url LIKE '%undated%'")
    assert len(undated) == 1 and undated[0][0] == "first_seen"
    assert started <= undated[0][1] <= utc_now()  # the poll's time, the same for the whole document

    feeds.count = 4  # one new entry, stamped 2020 like the rest
    run_batch(cfg)
    second = read_feed_states(cfg.state_path)[empty_site.url("stale.xml")]
    assert second.recent_seen_times == (second.last_polled_at,)
    assert second.schedule_reason == "adaptive"
    assert second.next_due_at - second.last_polled_at == timedelta(minutes=30)  # 1 new in the first hour
    assert query(out, "SELECT date_source, count(*) FROM t WHERE url LIKE '%stale%' GROUP BY ALL") == [("feed", 4)]
