"""Streaming on an engine in other processes: Beam's portable job service and an SDK worker pool,
each its own process on 127.0.0.1. Ticks overlap there (the job service runs them together), which
is what showed that per-tick-window dedup state writes an article once per tick: these tests fail
when "seen" or "feed claimed" state is kept per window again."""

from __future__ import annotations

import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
import yaml
from conftest import GrowingFeed, query

from pipeline.commands.demo_server import FixtureServer


class SlowPages(GrowingFeed):
    """A growing feed whose pages take `delay_s` each, so a poll cycle outlasts a tick; it remembers
    every link it has listed."""

    def __init__(self, server: FixtureServer, start: int, every_s: float, delay_s: float):
        super().__init__(server, start, every_s)
        self.delay_s, self.listed = delay_s, 0
        self.lock = threading.Lock()

    def page(self, h) -> None:
        time.sleep(self.delay_s)
        super().page(h)

    def feed(self, h) -> None:
        with self.lock:
            self.listed = max(self.listed, self.count())
        super().feed(h)


def _config(path: Path, server: FixtureServer, out: Path, **polling) -> Path:
    path.write_text(yaml.safe_dump({
        "feeds": [{"url": server.url("feed.xml"), "language": "en"}], "output": {"path": str(out)},
        "http": {"allow_private_networks": True, "per_host_delay_s": 0, "retries": 0},
        "polling": {"min_interval_s": 1, "default_interval_s": 1, **polling}}))
    return path


def _stream(config: Path, job_service: int, worker_pool: int, seconds: int, tick_s: int = 1) -> None:
    proc = subprocess.run(
        [sys.executable, "-m", "pipeline", "run", "--config", str(config), "--streaming",
         "--stop-after", f"{seconds}s", "--tick", f"{tick_s}s", "--runner=PortableRunner",
         f"--job_endpoint=127.0.0.1:{job_service}", "--environment_type=EXTERNAL",
         f"--environment_config=127.0.0.1:{worker_pool}"],
        capture_output=True, text=True, timeout=240)
    assert proc.returncode == 0, proc.stderr[-2000:]


def _written(out: Path) -> tuple[int, int, set[str]]:
    rows = query(out, "SELECT article_id, url FROM t")
    return len(rows), len({r[0] for r in rows}), {r[1] for r in rows}


@pytest.mark.timeout(600)
def test_overlapping_ticks_write_every_entry_once_and_a_restart_adds_only_what_is_new(
        job_service: int, worker_pool: int, tmp_path: Path) -> None:
    out = tmp_path / "out"
    with FixtureServer(tmp_path) as server:
        feed = SlowPages(server, start=4, every_s=1.5, delay_s=0.4)  # a poll cycle takes seconds
        config = _config(tmp_path / "c.yaml", server, out, respect_schedule=False)  # every tick polls
        _stream(config, job_service, worker_pool, seconds=8)
        rows, ids, urls = _written(out)
        assert feed.polls >= 4  # the ticks really overlapped: several polls of the same entries
        assert rows == ids == len(urls) == feed.listed  # every listed entry, once, without compaction
        first = feed.listed

        _stream(config, job_service, worker_pool, seconds=5)  # a restart reads its state from the store
        rows, ids, urls = _written(out)
        assert feed.listed > first
        assert rows == ids == len(urls) == feed.listed
        assert urls == {server.url(f"p{i}.html") for i in range(feed.listed)}


@pytest.mark.timeout(600)
def test_a_feed_claimed_by_a_running_tick_is_not_polled_again_by_the_next(
        job_service: int, worker_pool: int, tmp_path: Path) -> None:
    out = tmp_path / "out"
    with FixtureServer(tmp_path) as server:
        feed = SlowPages(server, start=3, every_s=100, delay_s=0.3)
        config = _config(tmp_path / "c.yaml", server, out, min_interval_s=6, default_interval_s=6)
        _stream(config, job_service, worker_pool, seconds=8)
    # 8 one-second ticks, a feed that may be polled every 6 s at the most: 2 polls, not one per tick
    assert 1 <= feed.polls <= 2
    rows, ids, _ = _written(out)
    assert rows == ids == 3
