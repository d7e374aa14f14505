"""Exactly once across crashes: a run killed with SIGKILL anywhere, then a rerun, leaves every
article once, without compaction. The window that matters is between a run's article files and
its seen keys, which are written after them (for a Delta table, the files are not in it before the
run's commit)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import yaml
from conftest import GrowingFeed, query

from pipeline.commands.demo_server import FixtureServer
from pipeline.io.read import dataset


def _articles(out: Path) -> list[Path]:
    return [p for p in (out / "articles").rglob("*.parquet") if not p.name.startswith(".")]


def _run(config: Path) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-m", "pipeline", "run", "--config", str(config)],
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, start_new_session=True)


@pytest.mark.timeout(300)
@pytest.mark.parametrize(("table_format", "after_s"), [  # None: before any article file of the run
    ("parquet", 0.0), ("parquet", 0.3), ("parquet", None), ("delta", 0.0), ("delta", 0.3)])
def test_a_run_killed_anywhere_then_rerun_writes_every_article_once(tmp_path: Path, table_format: str,
                                                                   after_s: float | None) -> None:
    out = tmp_path / "out"
    with FixtureServer(tmp_path) as server:
        feed = GrowingFeed(server, start=6)  # one more entry at every poll
        config = tmp_path / "c.yaml"
        config.write_text(yaml.safe_dump({
            "feeds": [{"url": server.url("feed.xml"), "language": "en"}],
            "output": {"path": str(out), "format": table_format},
            "http": {"allow_private_networks": True, "per_host_delay_s": 0, "retries": 0},
            "polling": {"respect_schedule": False}}))
        assert _run(config).wait(timeout=120) == 0
        first = len(_articles(out))
        feed.start += 8  # the second run finds 8 new entries (and the next poll one more)
        job = _run(config)
        deadline = time.monotonic() + 120
        if after_s is None:
            while time.monotonic() < deadline and feed.polls < 2:  # polled, nothing written yet
                time.sleep(0.01)
        else:
            while time.monotonic() < deadline and len(_articles(out)) == first and job.poll() is None:
                time.sleep(0.01)
            time.sleep(after_s)
        os.killpg(job.pid, signal.SIGKILL)
        job.wait(timeout=30)
        assert _run(config).wait(timeout=120) == 0
        listed = feed.count() - 1  # entries of the last poll
    rows = ([tuple(r.values()) for r in dataset(str(out / "articles")).to_table(columns=["article_id", "url"])
             .to_pylist()] if table_format == "delta" else query(out, "SELECT article_id, url FROM t"))
    assert len(rows) == len({r[0] for r in rows}) == len({r[1] for r in rows})  # nothing twice
    assert len(rows) == listed  # nothing lost
