"""Streaming: the unbounded graph under TestStream, and the local long-running job end to end."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import apache_beam as beam
import httpx
import pytest
import yaml
from apache_beam.options.pipeline_options import PipelineOptions
from apache_beam.testing.test_stream import TestStream as Ticks  # not collected as a test class
from apache_beam.transforms import window
from conftest import GrowingFeed, query
from deltalake import DeltaTable
from prometheus_client.parser import text_string_to_metric_families

from pipeline.commands.demo_server import FixtureServer
from pipeline.config import parse_config
from pipeline.pipeline import IngestFeeds
from pipeline.run import prepared


def _config(server: FixtureServer, out: Path, **streaming) -> dict:
    return {"feeds": [{"url": server.url("feed.xml"), "language": "en"}], "output": {"path": str(out)},
            "http": {"allow_private_networks": True, "per_host_delay_s": 0},
            "polling": {"respect_schedule": False}, "streaming": streaming}


@pytest.mark.parametrize("table_format", ["parquet", "delta"])
def test_teststream_windows_ticks_and_dedups_across_them(tmp_path: Path, table_format: str) -> None:
    with FixtureServer(tmp_path) as server:
        feed = GrowingFeed(server, start=2)  # 2 entries at the first tick, 3 at the second
        config = _config(server, tmp_path / "out")
        cfg = prepared(parse_config({**config, "output": {**config["output"], "format": table_format}}), "teststream")
        ticks = (Ticks()
                 .advance_watermark_to(0).add_elements([window.TimestampedValue("tick-1", 1)])
                 .advance_watermark_to(60).add_elements([window.TimestampedValue("tick-2", 61)])
                 .advance_watermark_to_infinity())
        p = beam.Pipeline(options=PipelineOptions(["--streaming", "--runner=DirectRunner"]))
        tick_windows = window.FixedWindows(60)
        _ = p | ticks | beam.WindowInto(tick_windows) | IngestFeeds(cfg, "teststream", tick_windows)
        p.run().wait_until_finish()
    assert feed.polls == 2
    pages = [r for r in server.requests if r.startswith("/p")]
    assert sorted(pages) == ["/p0.html", "/p1.html", "/p2.html"]  # the second tick fetched only the new one
    if table_format == "delta":  # one commit per window, its transaction version the window's
        table = DeltaTable(str(tmp_path / "out" / "articles"))
        assert sorted((c["version"], c["operation"], c.get("news_ingest.txn_version")) for c in table.history()) == [
            (0, "CREATE TABLE", None), (1, "WRITE", "1"), (2, "WRITE", "2")]
        urls = sorted(table.to_pyarrow_table(columns=["url"])["url"].to_pylist())
    else:
        urls = [r[0] for r in query(tmp_path / "out", "SELECT url FROM t ORDER BY url")]
    assert [u.rsplit("/", 1)[1] for u in urls] == ["p0.html", "p1.html", "p2.html"]


def _files(root: Path) -> tuple[list[Path], list[Path]]:
    every = [p for p in root.rglob("*") if p.is_file()]
    return [p for p in every if p.suffix == ".parquet" and not p.name.startswith(".")], \
           [p for p in every if p.name.startswith(".") and p.name != ".lock"]  # .lock: the state lock


def _stream(config: Path, *extra: str) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-m", "pipeline", "run", "--config", str(config), "--streaming",
                             *extra], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


@pytest.mark.timeout(240)
def test_streaming_lands_entries_while_running_stops_cleanly_and_restarts(tmp_path: Path) -> None:
    out = tmp_path / "out"
    with FixtureServer(tmp_path) as server:
        feed = GrowingFeed(server, start=3, every_s=2.0)
        config = tmp_path / "c.yaml"
        config.write_text(yaml.safe_dump(_config(server, out, tick_s=2, status_every_s=0, metrics_port=0)))
        job = _stream(config, "--stop-after", "120s")
        assert job.stdout.readline().startswith("streaming:")
        metrics_url = job.stdout.readline().split("metrics: ", 1)[1].strip()  # a free loopback port
        assert metrics_url.startswith("http://127.0.0.1:")
        # Entries land while the job runs: wait (bounded) until rows show up twice, growing.
        landed: list[int] = []
        deadline = time.monotonic() + 90
        while time.monotonic() < deadline and len(set(landed)) < 3:
            time.sleep(1)
            if _files(out / "articles")[0]:
                landed.append(query(out, "SELECT count(*) FROM t")[0][0])
        assert len(set(landed)) >= 3, f"rows did not grow while the job ran: {landed}"
        scraped = {(s.name, tuple(s.labels.items())): s.value
                   for family in text_string_to_metric_families(httpx.get(metrics_url, timeout=10).text)
                   for s in family.samples}
        assert scraped[("news_ingest_stream_ticks", ())] >= 1
        assert scraped[("news_ingest_stream_count", (("counter", "articles_written"),))] >= 1
        job.send_signal(signal.SIGTERM)
        stdout, stderr = job.communicate(timeout=60)
        assert job.returncode == 0, stderr
        assert "stopped (SIGTERM)" in stdout and "tick 1:" in stdout
        stopped_at = feed.count()
        assert server.requests.count("/robots.txt") == 1  # the ticks share it, as a day's cache

        _, hidden = _files(out)
        assert hidden == []  # no partial or temporary file left behind
        rows = query(out, "SELECT count(*), count(DISTINCT url), count(DISTINCT article_id) FROM t")[0]
        assert rows[0] == rows[1] == rows[2]  # every entry exactly once
        before = rows[0]
        assert before >= 3

        restart = _stream(config, "--stop-after", "5s")
        stdout, stderr = restart.communicate(timeout=120)
        assert restart.returncode == 0, stderr
    after = query(out, "SELECT count(*), count(DISTINCT url), max(run_id) FROM t")[0]
    assert after[0] == after[1]  # still no repeats after the restart
    assert before <= after[0] <= feed.count()
    assert after[0] >= stopped_at  # whatever the feed listed when the first job stopped is in


def test_unwritable_output_stops_streaming_with_one_line(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("x")
    config = tmp_path / "c.yaml"
    config.write_text(f"feeds: [{{url: 'http://127.0.0.1:9/f.xml'}}]\noutput: {{path: '{blocker}/out'}}\n")
    proc = subprocess.run([sys.executable, "-m", "pipeline", "run", "--config", str(config), "--streaming",
                           "--stop-after", "5s"], capture_output=True, text=True, timeout=60,
                          env={**os.environ})
    assert proc.returncode == 1 and "cannot write to" in proc.stderr


def test_stop_signal_handling_in_process(tmp_path: Path) -> None:
    """SIGINT during a tick lets it finish; the loop then ends on its own."""
    from pipeline import streaming

    with FixtureServer(tmp_path) as server:
        GrowingFeed(server, start=2)
        cfg = parse_config(_config(server, tmp_path / "out", tick_s=30, status_every_s=0))
        lines: list[str] = []
        timer = threading.Timer(0.5, lambda: os.kill(os.getpid(), signal.SIGINT))
        timer.start()
        summary = streaming.run_local(cfg, [], stop_after_s=60, say=lines.append)
    assert summary.stopped_by == "SIGINT" and summary.ticks == 1
    assert summary.counters["articles_written"] == 2
    assert any("finishing the current tick" in line for line in lines)
