"""Soak test for `news-ingest run --streaming`: is memory flat, and how soon does a new entry land?

    python benchmarks/soak.py --minutes 30 --tick 60 --feeds 20

Serves `--feeds` feeds on 127.0.0.1 that each gain an entry every `--entry-every` seconds, runs
the streaming job as a subprocess for `--minutes`, samples its resident memory (VmRSS, the job and
its children) every few seconds, and at the end reads the output with DuckDB to report, per entry,
the delay from the moment the entry appeared in its feed to its row's `fetched_at` (at most one
tick plus the tick's own run time is the target). Bounded: the job
stops itself, and the script kills it if it overruns by two ticks.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from datetime import UTC, datetime
from pathlib import Path

import duckdb
import yaml

from pipeline.commands.demo_server import FixtureServer, send


class Feeds:
    """`count` feeds; feed f lists entries 0..n(t), n growing by one every `every_s` seconds."""

    def __init__(self, server: FixtureServer, count: int, every_s: float):
        self.server, self.count, self.every_s = server, count, every_s
        self.born = time.time()
        self.first_listed: dict[str, float] = {}
        self.lock = threading.Lock()
        for f in range(count):
            server.routes[f"/f{f}.xml"] = self.feed
        server.routes["/p"] = self.page

    def feed(self, h) -> None:
        f = int(h.path[2:].split(".")[0])
        n = 1 + int((time.time() - self.born) / self.every_s)
        items = []
        for i in range(n):
            url = f"{self.server.base}/p?f={f}&i={i}"
            with self.lock:  # when the entry appeared in the feed, whether or not anyone polled then
                self.first_listed.setdefault(url, self.born + i * self.every_s)
            items.append(f"<item><title>Feed {f} story {i}</title><link>{url}</link><guid>{f}-{i}</guid></item>")
        send(h, 200, f"<rss version='2.0'><channel><title>F{f}</title>{''.join(items)}</channel></rss>".encode(),
             "application/rss+xml")

    def page(self, h) -> None:
        query = h.path.split("?", 1)[1]
        words = " ".join(f"w{query}k{k}" for k in range(300))
        send(h, 200, f"<html><body><article><h1>{query}</h1><p>{words}</p></article></body></html>".encode(),
             "text/html")


def rss_kb(pid: int) -> int:
    """Resident memory of a process and its descendants, in KiB (Beam may start helpers)."""
    total, todo = 0, [pid]
    while todo:
        p = todo.pop()
        try:
            status = Path(f"/proc/{p}/status").read_text()
            children = Path(f"/proc/{p}/task/{p}/children").read_text().split()
        except OSError:
            continue
        total += int(next(line.split()[1] for line in status.splitlines() if line.startswith("VmRSS")))
        todo += [int(c) for c in children]
    return total


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--minutes", type=float, default=30)
    ap.add_argument("--tick", type=float, default=60)
    ap.add_argument("--feeds", type=int, default=20)
    ap.add_argument("--entry-every", type=float, default=97,
                    help="seconds between new entries per feed (not a tick multiple: every phase)")
    ap.add_argument("--json", help="write the results here too")
    args = ap.parse_args()
    work = Path(tempfile.mkdtemp(prefix="soak-"))
    samples: list[tuple[float, int]] = []
    with FixtureServer(work) as server:
        feeds = Feeds(server, args.feeds, args.entry_every)
        config = work / "soak.yaml"
        config.write_text(yaml.safe_dump({
            "feeds": [{"url": server.url(f"f{f}.xml"), "language": "en"} for f in range(args.feeds)],
            "output": {"path": str(work / "out")},
            "http": {"allow_private_networks": True, "per_host_delay_s": 0},
            "polling": {"respect_schedule": False},
            "streaming": {"tick_s": args.tick, "status_every_s": args.tick}}))
        started = time.monotonic()
        job = subprocess.Popen([sys.executable, "-m", "pipeline", "run", "--config", str(config), "--streaming",
                                "--stop-after", f"{args.minutes * 60:.0f}s"], stdout=subprocess.PIPE, text=True)
        limit = args.minutes * 60 + 2 * args.tick + 60
        while job.poll() is None and time.monotonic() - started < limit:
            samples.append((time.monotonic() - started, rss_kb(job.pid)))
            time.sleep(5)
        if job.poll() is None:
            job.kill()
        output = job.communicate()[0]
        listed = dict(feeds.first_listed)
    rows = duckdb.sql(f"SELECT url, epoch(fetched_at) FROM read_parquet('{work}/out/articles/**/*.parquet', "
                      "hive_partitioning=true)").fetchall()
    delays = [fetched - listed[url] for url, fetched in rows if url in listed]
    buckets: dict[int, list[int]] = {}
    for t, kb in samples:
        buckets.setdefault(int(t // 300), []).append(kb)
    result = {
        "minutes": args.minutes, "tick_s": args.tick, "feeds": args.feeds, "rows": len(rows),
        "distinct_urls": len({u for u, _ in rows}), "entries_listed": len(listed),
        "rss_mb_per_5min": [round(max(v) / 1024, 1) for _, v in sorted(buckets.items())],
        "delay_s_median": round(statistics.median(delays), 1) if delays else None,
        "delay_s_max": round(max(delays), 1) if delays else None,
        "finished": datetime.now(UTC).isoformat(timespec="seconds"),
    }
    print(output.strip().splitlines()[-1] if output.strip() else "(no output)")
    print(json.dumps(result, indent=2))
    if args.json:
        Path(args.json).write_text(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
