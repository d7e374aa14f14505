"""The real Beam pipeline against the demo site on loopback, read back with DuckDB."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import lxml.html
import pytest
from conftest import query

from pipeline.commands.demo import demo_config
from pipeline.commands.demo_server import FixtureServer
from pipeline.run import run_batch
from pipeline.transforms import extract

_REAL_BUILD = extract.build


@pytest.fixture(scope="module")
def demo_runs(tmp_path_factory: pytest.TempPathFactory):
    """Two runs over the same unchanged feeds; the server counts requests between them."""
    from pipeline.commands.demo_server import DEMO_DIR

    out = tmp_path_factory.mktemp("out")
    with FixtureServer(DEMO_DIR / "site") as server:
        cfg = demo_config(server.base, str(out))
        first = run_batch(cfg)
        first_requests = list(server.requests)
        server.requests.clear()
        second = run_batch(cfg)
        return out, server.base, first, second, first_requests, list(server.requests)


def test_articles_land_in_hive_partitions_with_declared_types(demo_runs) -> None:
    out, *_ = demo_runs
    partitions = {p.relative_to(out / "articles").parent.as_posix()
                  for p in Path(out, "articles").rglob("*.parquet")}
    assert {p.split("/")[1] for p in partitions} == {"language=ar", "language=en"}
    assert all(p.startswith("ingest_date=") for p in partitions)
    types = dict((r[0], r[1]) for r in query(out, "DESCRIBE t"))
    assert types["published_at"] == "TIMESTAMP WITH TIME ZONE"
    assert types["authors"] == "VARCHAR[]" and types["word_count"] == "INTEGER"


def test_arabic_rows_are_intact_and_detected(demo_runs) -> None:
    out, *_ = demo_runs
    rows = query(out, "SELECT title, body, source FROM t WHERE language = 'ar'")
    assert len(rows) >= 5
    assert any(title.startswith("مهرجان التمور") for title, _, _ in rows)  # the windows-1256 page
    assert all("\ufffd" not in (body or "") and "Ø" not in (body or "") for _, body, _ in rows)
    assert query(out, "SELECT count(*) FROM t WHERE language = 'und'")[0][0] == 0


def test_no_arabic_page_comes_back_empty_or_cut_short(demo_runs) -> None:
    """Every Arabic page's body runs from its first paragraph to its last (windows-1256 included)."""
    from pipeline.articles.decoding import decode_html
    from pipeline.commands.demo_server import DEMO_DIR

    out, *_ = demo_runs
    rows = query(out, "SELECT url, body, body_source FROM t WHERE language = 'ar'")
    pages = {p.name: p for p in (DEMO_DIR / "site" / "articles" / "ar").glob("*.html")}
    checked = 0
    for url, body, source in rows:
        page = pages.get(url.rsplit("/", 1)[1].split("?")[0])
        if page is None:
            continue
        tree = lxml.html.fromstring(decode_html(page.read_bytes(), "text/html")[0])
        paragraphs = [" ".join(p.text_content().split()) for p in tree.xpath("//div[@class='story-body']//p")]
        assert source == "page", url
        flat = " ".join(body.split())
        assert paragraphs[0] in flat and paragraphs[-1] in flat, url
        checked += 1
    assert checked >= 5


def test_exact_duplicates_are_dropped(demo_runs) -> None:
    out, _, first, *_ = demo_runs
    assert query(out, "SELECT count(*) - count(DISTINCT canonical_url) FROM t")[0][0] == 0
    assert query(out, "SELECT count(*) - count(DISTINCT content_hash) FROM t")[0][0] == 0
    assert query(out, "SELECT count(*) FROM t WHERE url LIKE '%utm_%'")[0][0] == 0
    wire = query(out, "SELECT url FROM t WHERE url LIKE '%wire-copy-%'")
    assert len(wire) == 1  # the same body under two URLs
    assert first.counters["duplicates_dropped"] == 2
    assert first.counters["articles_written"] == query(out, "SELECT count(*) FROM t")[0][0]


def test_failures_are_rejects_and_fall_back_to_feed_text(demo_runs) -> None:
    out, *_ = demo_runs
    rejects = dict(query(out, "SELECT reason, url FROM t", dataset="rejects"))
    assert rejects["http_404"].endswith("/articles/en/missing-page.html")
    assert rejects["not_html"].endswith("/files/report.pdf")
    fallbacks = query(out, "SELECT body_source, http_status, word_count FROM t "
                           "WHERE url LIKE '%missing-page%' OR url LIKE '%report.pdf'")
    assert sorted(f[:2] for f in fallbacks) == [("feed_summary", 200), ("feed_summary", 404)]
    assert all(words > 20 for *_, words in fallbacks)


def test_rerun_adds_nothing_and_fetches_no_article_again(demo_runs) -> None:
    out, _, first, second, first_requests, second_requests = demo_runs
    assert first.counters["articles_written"] > 10
    assert second.counters["articles_written"] == 0 and second.counters["rejects_written"] == 0
    assert query(out, "SELECT count(DISTINCT run_id) FROM t")[0][0] == 1
    assert any(p.startswith("/articles/") for p in first_requests)
    assert [p for p in second_requests if not p.startswith("/feeds/")] == []


def test_losing_the_state_folder_costs_refetches_never_duplicate_rows(tmp_path: Path) -> None:
    from pipeline.commands.demo_server import DEMO_DIR

    with FixtureServer(DEMO_DIR / "site") as server:
        cfg = demo_config(server.base, str(tmp_path))
        first = run_batch(cfg)
        stored = query(tmp_path, "SELECT article_id, cluster_id FROM t", dataset="_state/signatures")
        shutil.rmtree(cfg.state_path)
        again = run_batch(cfg)
    assert first.counters["articles_written"] > 10 and again.counters["articles_written"] == 0
    assert again.counters["already_seen"] >= first.counters["articles_written"]
    assert query(tmp_path, "SELECT count(*) - count(DISTINCT article_id) FROM t")[0][0] == 0
    # near-duplicate signatures are rebuilt from the articles too, with their clusters
    rebuilt = query(tmp_path, "SELECT article_id, cluster_id FROM t", dataset="_state/signatures")
    assert sorted(rebuilt) == sorted(stored) and len(rebuilt) == first.counters["articles_written"]


def test_links_to_private_addresses_are_refused_by_default(tmp_path: Path) -> None:
    from pipeline.commands.demo_server import DEMO_DIR

    with FixtureServer(DEMO_DIR / "site") as server:
        cfg = demo_config(server.base, str(tmp_path))
        strict = cfg.model_copy(update={"http": cfg.http.model_copy(update={"allow_private_networks": False})})
        summary = run_batch(strict)
        assert not [p for p in server.requests if not p.startswith(("/feeds/", "/robots.txt"))]
    reasons = {r for (r,) in query(tmp_path, "SELECT DISTINCT reason FROM t", dataset="rejects")}
    assert reasons == {"private_address"}
    # Nothing is lost: every entry still becomes a row, from the feed's own text.
    assert query(tmp_path, "SELECT DISTINCT body_source FROM t") == [("feed_summary",)]
    assert summary.counters["articles_written"] > 10


def test_a_dying_extraction_process_costs_its_pages_not_the_run(tmp_path: Path) -> None:
    """A page that kills its extraction process (here: the process exits) ends as a reject with the
    feed's text; the other pages the broken pool held are retried and extracted; the run completes."""
    from pipeline.commands.demo_server import DEMO_DIR

    with FixtureServer(DEMO_DIR / "site") as server:
        cfg = demo_config(server.base, str(tmp_path))
        cfg = cfg.model_copy(update={"extract": cfg.extract.model_copy(update={"processes": 2})})
        try:
            extract.build = _die_on_comet
            summary = run_batch(cfg)
        finally:
            extract.build = _REAL_BUILD
    rejects = query(tmp_path, "SELECT url, reason, detail FROM t WHERE stage = 'extract'", dataset="rejects")
    assert len(rejects) == 1 and "comet" in rejects[0][0] and "process died" in rejects[0][2]
    assert query(tmp_path, "SELECT body_source FROM t WHERE url LIKE '%comet%'") == [("feed_summary",)]
    assert query(tmp_path, "SELECT count(*) FROM t WHERE body_source = 'page'")[0][0] == 13
    assert summary.counters["articles_written"] == 16


def _die_on_comet(page, sign):
    if "comet" in page.final_url:
        os._exit(1)
    return _REAL_BUILD(page, sign)


def test_extraction_processes_end_when_their_worker_is_killed(tmp_path: Path) -> None:
    """A killed worker (SIGKILL, or SIGTERM in a batch run) must not leave its pool behind."""
    script = ("import os, sys\nfrom pipeline.transforms.pool import start_pool\n"
              "pool = start_pool(2)\n"
              "pids = {pool.submit(os.getpid).result() for _ in range(20)}\n"
              "print(' '.join(map(str, pids)), flush=True)\nsys.stdin.read()\n")
    worker = subprocess.Popen([sys.executable, "-c", script], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    pids = [int(p) for p in worker.stdout.readline().split()]
    assert pids and all(_alive(p) for p in pids)
    worker.kill()
    worker.wait(timeout=10)
    deadline = time.monotonic() + 15
    while any(_alive(p) for p in pids) and time.monotonic() < deadline:
        time.sleep(0.2)
    assert not any(_alive(p) for p in pids)


def _alive(pid: int) -> bool:
    try:
        status = Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return False
    return "State:\tZ" not in status


def test_an_idle_extraction_pool_is_shut_down_and_comes_back_for_the_next_bundle() -> None:
    """Between bundles (a batch run's tail, a stream's quiet spell) the pool's processes, a
    parser's memory each, are let go; the next bundle's pages are extracted by a new pool."""
    import apache_beam as beam
    from apache_beam.transforms.window import GlobalWindow

    from pipeline.articles import neardup
    from pipeline.commands.demo_server import DEMO_DIR
    from pipeline.records import FeedEntry, Page

    url = "http://127.0.0.1:9/articles/en/"
    pages = [Page(FeedEntry("http://127.0.0.1:9/feed", "demo", url + p.name, p.name), url + p.name, 200,
                  p.read_bytes(), "text/html; charset=utf-8")
             for p in sorted((DEMO_DIR / "site/articles/en").iterdir())[:4]]
    fn = extract._ExtractFn(2, sign=True)
    fn.idle_s = 0.3
    fn.setup()
    try:
        for round_ in range(2):
            fn.start_bundle()
            out = [o for page in pages for o in fn.process(page, GlobalWindow(), 0)] + list(fn.finish_bundle())
            articles = [o.value[1] for o in out if not isinstance(o, beam.pvalue.TaggedOutput)]
            tagged = [o for o in out if isinstance(o, beam.pvalue.TaggedOutput)]
            signed = dict(o.value.value for o in tagged if o.tag == extract.SIGNED)
            assert len(articles) == len(pages) and all(a.body for a in articles), round_
            assert all(signed[a.content_hash] == neardup.signature(a.body) for a in articles), round_
            pids = list(fn.pool._processes)
            assert len(pids) == 2 and all(_alive(p) for p in pids)
            deadline = time.monotonic() + 15
            while (fn.pool is not None or any(_alive(p) for p in pids)) and time.monotonic() < deadline:
                time.sleep(0.1)
            assert fn.pool is None and not any(_alive(p) for p in pids)
    finally:
        fn.teardown()
