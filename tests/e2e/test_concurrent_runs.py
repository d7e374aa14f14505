"""Two runs on one state folder with the run lock bypassed (the Python API takes none) never write
an article twice: article files are made visible one at a time under `<state>/.commit`, each
without the rows another run committed since this one started.

The test holds the claim itself until both runs say they wait for it: both have then passed their
seen checks with nothing recorded, whatever the machine's speed, and must meet at the commit."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
import yaml
from conftest import _page, query

from pipeline.commands.demo_server import FixtureServer, send
from pipeline.io.lock import commit_claim

ENTRIES = 10
RUN = ("import json, sys\n"
       "from pipeline.config import load_config\n"
       "from pipeline.run import run_batch\n"
       "print(json.dumps(run_batch(load_config(sys.argv[1])).counters))\n")


class BothPolled:
    """A feed answered only once two runs asked for it (bounded): both runs hold the same entries."""

    def __init__(self, server: FixtureServer):
        self.server, self.polls, self.both = server, 0, threading.Event()
        server.routes["/feed.xml"] = self.feed
        for i in range(ENTRIES):
            server.routes[f"/p{i}.html"] = lambda h: send(h, 200, _page(int(h.path[2:].split(".")[0])), "text/html")

    def feed(self, h) -> None:
        self.polls += 1
        if self.polls >= 2:
            self.both.set()
        self.both.wait(timeout=60)
        items = "".join(f"<item><title>Story {i}</title><link>{self.server.base}/p{i}.html</link>"
                        f"<guid>g{i}</guid></item>" for i in range(ENTRIES))
        send(h, 200, f"<rss version='2.0'><channel><title>T</title>{items}</channel></rss>".encode(),
             "application/rss+xml")


def _read_stderr(process: subprocess.Popen, lines: list[str], waiting: threading.Event) -> None:
    """A run's stderr as it comes; `waiting` is set once the run logs that it waits for the claim."""
    for line in process.stderr:
        lines.append(line)
        if "waiting for the commit claim" in line:
            waiting.set()


@pytest.mark.timeout(300)
def test_two_runs_on_one_state_folder_without_the_lock_write_every_article_once(tmp_path: Path) -> None:
    out = tmp_path / "out"
    with FixtureServer(tmp_path) as server:
        feed = BothPolled(server)
        config = tmp_path / "c.yaml"
        config.write_text(yaml.safe_dump({
            "feeds": [{"url": server.url("feed.xml"), "language": "en"}], "output": {"path": str(out)},
            "http": {"allow_private_networks": True, "per_host_delay_s": 0, "retries": 0}}))
        state = out / "_state"
        with commit_claim(str(state)):  # held until both runs wait for it (bounded)
            runs = [subprocess.Popen([sys.executable, "-c", RUN, str(config)], stdout=subprocess.PIPE,
                                     stderr=subprocess.PIPE, text=True) for _ in range(2)]
            logs = [([], threading.Event()) for _ in runs]
            readers = [threading.Thread(target=_read_stderr, args=(run, *log), daemon=True)
                       for run, log in zip(runs, logs, strict=True)]
            for reader in readers:
                reader.start()
            both_wait = all(waiting.wait(timeout=180) for _, waiting in logs)
        results = []
        for run, reader, (lines, _) in zip(runs, readers, logs, strict=True):
            stdout = run.stdout.read()  # small; stderr is drained by its reader
            run.wait(timeout=120)
            reader.join(timeout=10)
            assert run.returncode == 0, "".join(lines)[-2000:]
            results.append(json.loads(stdout.strip().splitlines()[-1]))
        assert both_wait, [("".join(lines))[-1000:] for lines, _ in logs]
        assert feed.polls == 2
    rows = query(out, "SELECT article_id, url FROM t")
    assert len(rows) == len({r[0] for r in rows}) == len({r[1] for r in rows}) == ENTRIES  # once, all
    assert sum(r["articles_written"] for r in results) == ENTRIES
    assert sum(r["committed_by_another_run"] for r in results) == ENTRIES  # both fetched everything
    assert not (Path(out) / "_state" / ".commit").exists()


def test_the_commit_claim_is_exclusive_and_a_dead_holders_claim_is_broken(tmp_path: Path, caplog) -> None:
    inside, most = [0], [0]

    def commit() -> None:
        for _ in range(20):
            with commit_claim(str(tmp_path)):
                inside[0] += 1
                most[0] = max(most[0], inside[0])
                time.sleep(0.001)
                inside[0] -= 1

    threads = [threading.Thread(target=commit) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    assert most[0] == 1
    assert not [r for r in caplog.records if getattr(r, "event", None) == "claim_wait"]  # only its own threads
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True)
    claim = tmp_path / ".commit"
    claim.write_text(json.dumps({"pid": int(dead.stdout), "host": socket.gethostname(), "token": "x"}))
    with commit_claim(str(tmp_path)) as held:  # would wait CLAIM_STALE_S for a live holder
        assert json.loads(held.read_text())["pid"] == os.getpid()
    assert not claim.exists()
