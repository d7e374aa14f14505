"""Corrections and updates: a feed entry that says it changed is fetched again, and a changed body
becomes a new version row (same article_id, version 2, 3, ...); an unchanged body writes nothing,
versions of one article stay one near-duplicate cluster, survive a lost seen store and a rerun,
and compaction keeps them. In a streaming run a feed with `poll_every` is polled on that cadence."""

from __future__ import annotations

import itertools
import os
import shutil
import signal
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from conftest import query

from pipeline.commands.demo_server import FixtureServer, send
from pipeline.commands.sql import run_sql
from pipeline.config import parse_config
from pipeline.io.analytics import group_stats
from pipeline.io.compaction import compact
from pipeline.run import run_batch
from pipeline.streaming import run_local

WORDS = ["harbour", "council", "ferry", "timetable", "winter", "dredging", "quay", "cargo", "tide", "pilot"]


def _story(name: str, edit: int) -> str:
    """120 words of its own; `edit` rewrites the last 10 (a correction)."""
    words = [f"{WORDS[k % len(WORDS)]}{name}x{k}" for k in range(110)]
    words += [f"{'fixed' if edit else 'draft'}{edit}{name}y{k}" for k in range(10)]
    return " ".join(words)


class ChangingSite:
    """An Atom feed of stories `a` and `b` whose `updated` dates and page bodies a test moves."""

    def __init__(self, server: FixtureServer, published: datetime):
        self.server, self.published = server, published
        self.updated = {"a": published, "b": published}
        self.bodies = {"a": _story("a", 0), "b": _story("b", 0)}
        self.feed_polls: list[tuple[str, float]] = []
        self.moving = False  # each poll moves story a's `updated` and corrects its body
        self.stop_after_polls: int | None = None  # then SIGINT: the streaming run ends after its tick
        server.routes["/feed.xml"] = self.feed
        server.routes["/a.html"] = server.routes["/b.html"] = self.page

    def feed(self, h) -> None:
        self.feed_polls.append((h.path, time.monotonic()))
        if self.moving:
            self.change("a", _story("a", len(self.feed_polls)))
        if len(self.feed_polls) == self.stop_after_polls:
            os.kill(os.getpid(), signal.SIGINT)
        entries = "".join(
            f"<entry><title>Story {n}</title><id>urn:{n}</id><link href='{self.server.base}/{n}.html'/>"
            f"<published>{self.published.isoformat()}</published><updated>{self.updated[n].isoformat()}</updated>"
            f"<summary>Story {n} in brief</summary></entry>" for n in self.updated)
        send(h, 200, (f"<feed xmlns='http://www.w3.org/2005/Atom'><title>T</title><id>urn:t</id>"
                      f"<updated>{max(self.updated.values()).isoformat()}</updated>{entries}</feed>").encode(),
             "application/atom+xml")

    def page(self, h) -> None:
        name = h.path[1]
        send(h, 200, f"<html><body><article><h1>Story {name}</h1><p>{self.bodies[name]}</p></article></body>"
                     f"</html>".encode(), "text/html")

    def change(self, name: str, body: str | None = None, by: timedelta = timedelta(minutes=10)) -> None:
        self.updated[name] += by
        if body is not None:
            self.bodies[name] = body

    def fetches(self, name: str) -> int:
        return self.server.requests.count(f"/{name}.html")


def _config(server: FixtureServer, out: Path, **feed) -> dict:
    return {"feeds": [{"url": server.url("feed.xml"), "language": "en", **feed}], "output": {"path": str(out)},
            "http": {"allow_private_networks": True, "per_host_delay_s": 0, "retries": 0},
            "polling": {"respect_schedule": False}}


VERSIONS = ("SELECT version, content_hash, previous_content_hash, updated_at, cluster_id, duplicate_of, article_id "
            "FROM t WHERE url LIKE '%/a.html' ORDER BY version")


def test_changed_entries_become_versions_once(empty_site: FixtureServer, tmp_path: Path) -> None:
    out = tmp_path / "out"
    site = ChangingSite(empty_site, datetime.now(UTC).replace(microsecond=0) - timedelta(hours=2))
    cfg = parse_config(_config(empty_site, out))
    assert run_batch(cfg).counters["articles_written"] == 2

    site.change("a", _story("a", 1))  # `updated` moves, the body changes: version 2
    second = run_batch(cfg)
    assert (second.counters["entries_changed"], second.counters["versions_written"]) == (1, 1)
    assert site.fetches("a") == 2 and site.fetches("b") == 1  # b did not change: not fetched again

    site.change("a", _story("a", 1).upper().replace(" ", ", "))  # moves, same body after normalization
    third = run_batch(cfg)
    assert (third.counters["articles_written"], third.counters["refetches_unchanged"]) == (0, 1)
    assert site.fetches("a") == 3

    kept_feeds = tmp_path / "feeds-before-4"
    shutil.copytree(out / "_state" / "feeds", kept_feeds)
    site.change("a", _story("a", 2))  # changes a second time: version 3
    assert run_batch(cfg).counters["versions_written"] == 1
    assert query(out, "SELECT count(*) FROM t")[0][0] == 4

    rows = query(out, VERSIONS)
    assert [r[0] for r in rows] == [1, 2, 3]
    assert [r[2] for r in rows] == [None, rows[0][1], rows[1][1]]  # each names the body it replaces
    assert len({r[1] for r in rows}) == 3
    assert rows[1][3] == site.published + timedelta(minutes=10) and rows[2][3] == site.published + timedelta(minutes=30)
    assert {(r[4], r[5]) for r in rows} == {(rows[0][6], None)}  # one cluster, its own first article
    assert {r[6] for r in rows} == {rows[0][6]}

    # nothing changed: a rerun adds nothing and fetches nothing
    assert run_batch(cfg).counters["articles_written"] == 0 and site.fetches("a") == 4

    # crash after version 3's file, before its state: the feed's state from before, the seen store lost
    shutil.rmtree(out / "_state" / "feeds")
    shutil.copytree(kept_feeds, out / "_state" / "feeds")
    shutil.rmtree(out / "_state" / "seen")
    rerun = run_batch(cfg)
    assert site.fetches("a") == 5  # the change is seen again and the page refetched...
    assert rerun.counters["articles_written"] == 0  # ...but version 3 is known: not written twice
    assert query(out, "SELECT count(*) FROM t")[0][0] == 4

    # compaction keeps every version; the latest view and stats count the article once
    compact(str(out / "articles"), ("article_id", "version"), "test", min_age_s=0)
    assert [r[0] for r in query(out, VERSIONS)] == [1, 2, 3]
    assert "│            2 │" in run_sql("SELECT count(*) FROM articles_latest", str(out))
    latest = run_sql("SELECT version FROM articles_latest WHERE url LIKE '%/a.html'", str(out))
    assert "│       3 │" in latest
    assert [r["articles"] for r in group_stats(str(out), "source")] == [2]


def test_refetch_limit_and_window(empty_site: FixtureServer, tmp_path: Path) -> None:
    out = tmp_path / "out"
    site = ChangingSite(empty_site, datetime.now(UTC).replace(microsecond=0) - timedelta(hours=2))
    cfg = parse_config(_config(empty_site, out, max_refetches=1))
    run_batch(cfg)
    for edit in (1, 2):
        site.change("a", _story("a", edit))
        run_batch(cfg)
    assert site.fetches("a") == 2  # the second change is past this feed's limit of one refetch
    assert [r[0] for r in query(out, VERSIONS)] == [1, 2]

    old = tmp_path / "old"
    stale = ChangingSite(FixtureServer(tmp_path), datetime.now(UTC) - timedelta(days=8))
    with stale.server:
        stale_cfg = parse_config(_config(stale.server, old))
        run_batch(stale_cfg)
        stale.change("a", _story("a", 1))
        run_batch(stale_cfg)
        assert stale.fetches("a") == 1  # published 8 days ago: past the 7-day window, never refetched


@pytest.mark.timeout(300)
def test_poll_every_sets_the_cadence_of_a_streaming_run(empty_site: FixtureServer, tmp_path: Path) -> None:
    """`poll_every: 3s` (30 s in real life; short so the test stays short) beside a feed on the
    adaptive schedule (at least `polling.min_interval_s`, 300 s): in a streaming run with 1 s ticks
    the first is polled every 3 s or a little later, never sooner, the second once; and the story
    corrected at every poll gains a version at every poll. Bounded in ticks: the 5th poll (the
    fourth of the fast feed) sends SIGINT, which ends the run after that tick."""
    out = tmp_path / "out"
    site = ChangingSite(empty_site, datetime.now(UTC).replace(microsecond=0) - timedelta(hours=2))
    site.moving, site.stop_after_polls = True, 5
    feed = empty_site.url("feed.xml")
    cfg = parse_config({**_config(empty_site, out, poll_every="3s"),
                        "feeds": [{"url": feed, "poll_every": "3s"}, {"url": feed + "?adaptive"}],
                        "polling": {"jitter": 0}, "streaming": {"tick_s": 1, "status_every_s": 0}})
    summary = run_local(cfg, [], stop_after_s=240, say=lambda _: None)

    assert summary.stopped_by == "SIGINT"
    every = [t for path, t in site.feed_polls if path == "/feed.xml"]
    assert [path for path, _ in site.feed_polls].count("/feed.xml?adaptive") == 1
    assert len(every) == 4
    assert all(b - a >= 2.5 for a, b in itertools.pairwise(every))  # never before it is due
    assert summary.counters["feeds_not_due"] >= summary.ticks - 1  # the adaptive feed at every later tick
    # one version per poll of the fast feed (the first poll wrote version 1)
    versions = [r[0] for r in query(out, "SELECT version FROM t WHERE url LIKE '%/a.html' ORDER BY version")]
    assert versions == [1, 2, 3, 4]
    assert query(out, "SELECT count(DISTINCT cluster_id), count(*) FROM t WHERE url LIKE '%/b.html'")[0] == (1, 1)
