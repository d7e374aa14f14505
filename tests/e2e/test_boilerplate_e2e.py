"""Site boilerplate end to end: a line one site repeats inside its article markup leaves every body
of that site, in the run that first sees it and (from the state store) in later runs; text that
appears once stays, and the stored hash, counts and near-duplicate signature are those of the
cleaned body."""

from __future__ import annotations

from datetime import date
from pathlib import Path

from conftest import query

from pipeline.articles import neardup
from pipeline.commands.demo_server import FixtureServer, send
from pipeline.config import parse_config
from pipeline.io import state
from pipeline.run import run_batch
from pipeline.text import content_hash, count_words

NEWSLETTER = "Sign up for the Harbour Daily newsletter and get the island's news every morning."
PAGE = ("<html><head><title>{t}</title></head><body><article><h1>{t}</h1>"
        "<p>{t}: the harbour council met on Tuesday to agree the winter timetable for ferry {i}, "
        "after months of complaints from the island about cancelled crossings and late boats.</p>"
        f"<p>{NEWSLETTER}</p>"
        "<p>Ferry {i} will now leave at {i} o'clock, the operator said, and a second boat is on order.</p>"
        "</article></body></html>")


def _serve(server: FixtureServer, count: int) -> None:
    for i in range(count):
        server.routes[f"/s{i}.html"] = lambda h, i=i: send(h, 200, PAGE.format(t=f"Story {i}", i=i).encode(),
                                                            "text/html")
    items = "".join(f"<item><title>Story {i}</title><link>{server.base}/s{i}.html</link></item>"
                    for i in range(count))
    server.routes["/feed.xml"] = lambda h: send(
        h, 200, f"<rss version='2.0'><channel><title>H</title>{items}</channel></rss>".encode(), "application/rss+xml")


def test_a_sites_repeated_line_leaves_its_bodies_across_runs(empty_site: FixtureServer, tmp_path: Path) -> None:
    out = tmp_path / "out"
    cfg = parse_config({
        "feeds": [{"url": empty_site.url("feed.xml")}], "output": {"path": str(out)},
        "http": {"allow_private_networks": True, "per_host_delay_s": 0, "retries": 0, "timeout_s": 5},
        "polling": {"respect_schedule": False}})
    _serve(empty_site, 4)
    first = run_batch(cfg)
    assert first.counters["articles_written"] == 4 and first.counters["boilerplate_lines_dropped"] == 4
    _serve(empty_site, 5)  # one new story: its site's earlier pages come from the state store
    second = run_batch(cfg)
    assert second.counters["articles_written"] == 1
    rows = query(out, "SELECT article_id, body, content_hash, word_count FROM t")
    assert len(rows) == 5
    # the extraction pool signed the bodies before the boilerplate left them: signed again here
    signatures = {r["article_id"]: r["signature"] for root, file in state.signature_files(cfg.state_path, date.min)
                  for r in state.read_signatures(root, file)}
    for article_id, body, digest, words in rows:
        assert "newsletter" not in body
        assert "will now leave at" in body and "winter timetable" in body  # each story's own lines stay
        assert (digest, words) == (content_hash(body), count_words(body))
        assert signatures[article_id] == neardup.signature(body)


def test_the_store_is_compacted_to_each_sites_newest_pages(tmp_path: Path) -> None:
    from datetime import UTC, datetime, timedelta

    from pipeline.io import state

    start = datetime(2026, 11, 1, tzinfo=UTC)
    for i in range(10):  # one file per run, as RecordState writes them
        state.BOILERPLATE.write(str(tmp_path), [state.boilerplate_row(
            "harbour.example", f"a{i}", {f"k{i}"}, start + timedelta(hours=i), f"r{i}")], f"r{i}")
    bucket = state.bucket_of("harbour.example")
    state.compact_boilerplate(str(tmp_path), "c", keep=3)
    folder = tmp_path / "boilerplate" / f"bucket={bucket}"
    assert len(list(folder.glob("*.parquet"))) == 1
    assert state.read_boilerplate_bucket(str(tmp_path), bucket, keep=100) == {
        "harbour.example": {f"a{i}": frozenset({f"k{i}"}) for i in (7, 8, 9)}}
