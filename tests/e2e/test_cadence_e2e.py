"""Per-feed cadence end to end: `poll_every` and `max_interval` land in the stored schedule, and
a feed is not polled again before its own interval."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

from conftest import GrowingFeed

from pipeline.commands.demo_server import FixtureServer
from pipeline.config import parse_config
from pipeline.io.state import read_feed_states
from pipeline.run import run_batch


def test_poll_every_and_max_interval_set_the_next_poll(empty_site: FixtureServer, tmp_path: Path) -> None:
    GrowingFeed(empty_site, start=2)
    feed = empty_site.url("feed.xml")
    cfg = parse_config({
        "feeds": [{"url": feed, "poll_every": "30s"},
                  {"url": feed + "?capped", "max_interval": "10m"}],  # undated: the 1 h default, capped
        "output": {"path": str(tmp_path / "out")},
        "http": {"allow_private_networks": True, "per_host_delay_s": 0, "retries": 0, "timeout_s": 2},
        "polling": {"jitter": 0},
    })
    first = run_batch(cfg)
    assert first.counters["feeds_polled"] == 2
    states = read_feed_states(cfg.state_path)
    every, capped = states[feed], states[feed + "?capped"]
    assert (every.schedule_reason, every.next_due_at - every.last_polled_at) == ("fixed", timedelta(seconds=30))
    assert (capped.schedule_reason, capped.next_due_at - capped.last_polled_at) == ("default", timedelta(minutes=10))
    again = run_batch(cfg)  # seconds later: neither is due yet
    assert again.counters["feeds_polled"] == 0 and again.counters["feeds_not_due"] == 2
