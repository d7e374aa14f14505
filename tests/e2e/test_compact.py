"""Compaction keeps the exact set of article_ids and every column value (checked with DuckDB)."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

from conftest import query

from pipeline.commands.demo import demo_config
from pipeline.commands.demo_server import DEMO_DIR, FixtureServer
from pipeline.io.compaction import compact
from pipeline.run import run_batch

DISTINCT_ROWS = ("SELECT DISTINCT ON (article_id) * EXCLUDE (ingest_date) FROM t "
                 "ORDER BY article_id, fetched_at")


def _age(root: Path, seconds: float) -> None:
    past = time.time() - seconds
    for f in root.rglob("*.parquet"):
        os.utime(f, (past, past))


def test_compaction_merges_files_drops_repeats_and_keeps_every_value(tmp_path: Path) -> None:
    with FixtureServer(DEMO_DIR / "site") as server:
        run_batch(demo_config(server.base, str(tmp_path)))
    articles = tmp_path / "articles"
    # A retried bundle on a distributed runner can commit the same rows twice: simulate it.
    for f in list(articles.rglob("*.parquet")):
        shutil.copy(f, f.with_name(f.name.replace("part-", "part-retry-")))
    before = query(tmp_path, DISTINCT_ROWS)
    assert query(tmp_path, "SELECT count(*) FROM t")[0][0] == 2 * len(before)
    _age(articles, 3600)

    done = compact(str(articles), ("article_id", "version"), "test")

    assert {d.files_in for d in done} == {2} and all(d.rows_out * 2 == d.rows_in for d in done)
    assert query(tmp_path, DISTINCT_ROWS) == before
    assert query(tmp_path, "SELECT count(*), count(DISTINCT article_id) FROM t")[0] == (len(before),) * 2
    assert len(list(articles.rglob("*.parquet"))) == len(done)
    assert not list(articles.rglob(".*"))  # no temporary file left behind


def test_young_files_are_left_alone_and_cli_reports(tmp_path: Path) -> None:
    with FixtureServer(DEMO_DIR / "site") as server:
        cfg = demo_config(server.base, str(tmp_path))
        run_batch(cfg)
    files = sorted((tmp_path / "articles").rglob("*.parquet"))
    for f in files:
        shutil.copy(f, f.with_name(f.name.replace("part-", "part-again-")))
    assert compact(str(tmp_path / "articles"), ("article_id", "version"), "t", min_age_s=3600) == []
    _age(tmp_path, 7200)
    proc = subprocess.run([sys.executable, "-m", "pipeline", "compact", "--output", str(tmp_path),
                           "--partition", "language=ar", "--min-age", "1h"],
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert "language=ar" in proc.stdout and "language=en" not in proc.stdout
    assert query(tmp_path, "SELECT count(*) - count(DISTINCT article_id) FROM t WHERE language = 'ar'")[0][0] == 0
    assert query(tmp_path, "SELECT count(*) - count(DISTINCT article_id) FROM t WHERE language = 'en'")[0][0] > 0
