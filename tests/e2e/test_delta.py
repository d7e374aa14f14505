"""`output.format: delta`: the demo written as Delta tables holds the same rows as the Parquet run,
each run is one commit with a transaction id and a rerun commits nothing (also with the state store
lost), a retried commit adds nothing, files no commit took are invisible and their rows written
again, and stats, compact and the layout check work."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import duckdb
import polars as pl
import pyarrow as pa
import pytest
from deltalake import DeltaTable

from pipeline.commands.demo import demo_config
from pipeline.commands.demo_server import DEMO_DIR, FixtureServer
from pipeline.config import Config, ConfigError
from pipeline.io import delta
from pipeline.io.parquet import dataset_files
from pipeline.io.read import dataset
from pipeline.run import prepared, run_batch

KEY = ["article_id", "source", "language", "title", "cluster_id", "body_source", "ingest_date"]


def _rows(path: Path) -> list[tuple]:
    return sorted(tuple(r.values()) for r in dataset(str(path)).to_table(columns=KEY).to_pylist())


def _stats(output: Path) -> list[dict]:
    proc = subprocess.run([sys.executable, "-m", "pipeline", "stats", "--output", str(output), "--format", "json"],
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    return json.loads(proc.stdout)


def _as_delta(config: Config, output: Path) -> Config:
    return config.model_copy(update={"output": config.output.model_copy(update={"format": "delta"})}).with_paths(
        output=str(output))


def _writes(table: Path) -> list[tuple[int, str]]:
    """(version, operation) of every commit, oldest first."""
    return sorted((c["version"], c["operation"]) for c in DeltaTable(str(table)).history())


@pytest.fixture(scope="module")
def runs(tmp_path_factory: pytest.TempPathFactory):
    """The demo as Parquet, then as Delta three times: first, again, and again with `_state/` lost."""
    tmp = tmp_path_factory.mktemp("delta")
    with FixtureServer(DEMO_DIR / "site") as server:
        plain = demo_config(server.base, str(tmp / "parquet"))
        cfg = _as_delta(plain, tmp / "delta")
        run_batch(plain)
        first = run_batch(cfg)
        history = {name: _writes(tmp / "delta" / name) for name in ("articles", "rejects")}
        again = run_batch(cfg)
        shutil.rmtree(tmp / "delta" / "_state")  # the seen store is rebuilt from the committed files
        lost = run_batch(cfg)
    return tmp, plain, (first, again, lost), history


def test_each_run_is_one_commit_with_a_transaction_id_and_a_rerun_commits_nothing(runs) -> None:
    tmp, _, (first, again, lost), history = runs
    articles, rejects = tmp / "delta" / "articles", tmp / "delta" / "rejects"
    # the table is created before the run; the run's files (several bundles, both languages) are one commit
    assert history["articles"] == history["rejects"] == [(0, "CREATE TABLE"), (1, "WRITE")]
    table = DeltaTable(str(articles))
    assert len(table.file_uris()) >= 2 and len({p.rsplit("/", 2)[1] for p in table.file_uris()}) == 2
    assert table.transaction_version("news-ingest/articles") == 1
    assert DeltaTable(str(rejects)).transaction_version("news-ingest/rejects") == 1
    # reruns, also with the state store lost, write nothing and so commit nothing
    assert first.counters["articles_written"] >= 10
    assert [s.counters["articles_written"] + s.counters["rejects_written"] for s in (again, lost)] == [0, 0]
    assert _writes(articles) == _writes(rejects) == [(0, "CREATE TABLE"), (1, "WRITE")]
    assert table.schema().to_arrow().field("ingest_date").type == pa.date32()
    assert _rows(articles) == _rows(tmp / "parquet" / "articles")
    assert len(_rows(articles)) == first.counters["articles_written"]
    assert json.loads((articles / "_news_ingest.json").read_text())["format"] == "delta"


def test_rejects_are_kept_and_arabic_is_intact_for_every_reader(runs) -> None:
    tmp, *_ = runs
    articles, rejects = tmp / "delta" / "articles", tmp / "delta" / "rejects"
    reasons = dict(pl.read_delta(str(rejects)).select("reason", "url").iter_rows())
    assert reasons["http_404"].endswith("/articles/en/missing-page.html")
    assert reasons["not_html"].endswith("/files/report.pdf")
    polars = sorted(pl.scan_delta(str(articles)).filter(pl.col("language") == "ar")
                    .select("title", "body").collect().iter_rows())
    con = duckdb.connect()
    con.register("t", delta.dataset(str(articles)))  # DuckDB over the files the log lists
    duck = sorted(con.execute("SELECT title, body FROM t WHERE language = 'ar'").fetchall())
    assert polars == duck and len(polars) >= 5
    assert any(title.startswith("مهرجان التمور") for title, _ in polars)  # the windows-1256 page
    assert all("\ufffd" not in (body or "") and "Ø" not in (body or "") for _, body in polars)


def test_stats_compact_and_the_layout_check(runs) -> None:
    tmp, plain, *_ = runs
    output = tmp / "delta"
    assert _stats(output) == _stats(tmp / "parquet")
    before = _rows(output / "articles")
    proc = subprocess.run([sys.executable, "-m", "pipeline", "compact", "--output", str(output)],
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0 and "(delta)" in proc.stdout, proc.stderr
    assert _rows(output / "articles") == before
    with pytest.raises(ConfigError, match=r"output\.format is parquet"):
        prepared(plain.with_paths(output=str(output)), "check")


SPARK_DELTA = Path(__file__).resolve().parents[2] / "build" / "spark-delta"  # `make spark-delta`
SPARK_READS = """
import json, sys
from pyspark.sql import SparkSession
spark = (SparkSession.builder.master("local[1]").config("spark.jars", sys.argv[1])
         .config("spark.sql.extensions", "io.delta.sql.DeltaSparkSessionExtension")
         .config("spark.sql.catalog.spark_catalog", "org.apache.spark.sql.delta.catalog.DeltaCatalog")
         .config("spark.sql.session.timeZone", "UTC").config("spark.ui.enabled", "false")
         .config("spark.sql.shuffle.partitions", "1").config("spark.databricks.delta.snapshotPartitions", "1")
         .config("spark.driver.bindAddress", "127.0.0.1").config("spark.driver.host", "127.0.0.1").getOrCreate())
try:
    for root, columns in json.loads(sys.argv[2]).items():
        frame = spark.read.format("delta").load(root)
        rows = [list(r) for r in frame.select(*columns).collect()]
        print(json.dumps({"root": root, "types": dict(frame.dtypes), "rows": rows}, default=str, ensure_ascii=False))
finally:
    spark.stop()
"""


@pytest.mark.timeout(600)  # a JVM start on a loaded machine
def test_spark_with_delta_spark_reads_the_table(runs) -> None:
    if not (SPARK_DELTA / "ready").exists():
        if os.environ.get("CI"):
            pytest.fail(f"{SPARK_DELTA} is missing: `make test` runs `make spark-delta` first")
        pytest.skip("Spark with delta-spark is installed by `make spark-delta` (`make test` runs it)")
    tmp, *_ = runs
    tables = {str(tmp / "delta" / "articles"): KEY,
              str(tmp / "delta" / "rejects"): ["stage", "reason", "url", "ingest_date"]}
    jars = ",".join(str(p) for p in sorted((SPARK_DELTA / "jars").glob("*.jar")))
    env = {k: v for k, v in os.environ.items() if k != "SPARK_HOME"}
    env.update(PYTHONPATH=str(SPARK_DELTA / "python"), SPARK_LOCAL_IP="127.0.0.1")
    proc = subprocess.run([sys.executable, "-c", SPARK_READS, jars, json.dumps(tables)],
                          capture_output=True, text=True, timeout=540, env=env)
    assert proc.returncode == 0, proc.stderr[-3000:]
    seen = [json.loads(line) for line in proc.stdout.splitlines() if line.startswith('{"root"')]
    assert [s["root"] for s in seen] == list(tables)
    for read in seen:
        assert read["types"]["ingest_date"] == "date"
        expected = dataset(read["root"]).to_table(columns=tables[read["root"]]).to_pylist()
        assert sorted(map(tuple, read["rows"])) == sorted(tuple(str(v) if k == "ingest_date" else v
                                                                for k, v in r.items()) for r in expected)
    assert any(r[3].startswith("مهرجان التمور") for r in seen[0]["rows"])  # Arabic titles intact in Spark


SCHEMA = pa.schema([("article_id", pa.string()), ("title", pa.string()), ("ingest_date", pa.string())])


def _file(root: str, ids: list[str], run_id: str) -> dict:
    table = pa.table({"article_id": ids, "title": [f"عنوان {i}" for i in ids]})
    return delta.write_file(root, {"ingest_date": "2026-12-01"}, table, run_id)


def test_a_retried_commit_adds_nothing_also_out_of_order(tmp_path: Path) -> None:
    root = str(tmp_path / "articles")
    delta.prepare(root, SCHEMA, ("ingest_date",))
    window_5 = [_file(root, ["a", "b"], "w5"), _file(root, ["c"], "w5")]
    assert delta.commit(root, window_5, SCHEMA, ("ingest_date",), 5)
    assert not delta.commit(root, window_5, SCHEMA, ("ingest_date",), 5)  # the runner retried the commit
    assert DeltaTable(root).version() == 1 and len(DeltaTable(root).to_pyarrow_table()) == 3
    # an earlier window committing after a later one: added, the table's latest version kept
    window_3 = [_file(root, ["d"], "w3")]
    assert delta.commit(root, window_3, SCHEMA, ("ingest_date",), 3)
    assert not delta.commit(root, window_3, SCHEMA, ("ingest_date",), 3)
    assert not delta.commit(root, window_5, SCHEMA, ("ingest_date",), 5)
    table = DeltaTable(root)
    assert table.transaction_version("news-ingest/articles") == 5 and delta.next_version(root) == 6
    assert sorted(table.to_pyarrow_table()["article_id"].to_pylist()) == ["a", "b", "c", "d"]
    assert table.to_pyarrow_table().filter(pa.compute.field("article_id") == "d")["title"].to_pylist() == ["عنوان d"]


def test_files_no_commit_took_are_invisible_written_again_and_removed(tmp_path: Path) -> None:
    with FixtureServer(DEMO_DIR / "site") as server:
        cfg = _as_delta(demo_config(server.base, str(tmp_path / "x")), tmp_path / "out")
        first = run_batch(cfg)
        # a run killed before its commit: its data files are on disk, its commit and state are not
        for name in ("articles", "rejects"):
            (tmp_path / "out" / name / "_delta_log" / f"{1:020d}.json").unlink()
        shutil.rmtree(cfg.state_path)
        articles = str(tmp_path / "out" / "articles")
        orphans = dataset_files(articles)
        assert len(orphans) >= 2 and len(DeltaTable(articles).to_pyarrow_table()) == 0
        assert _sql_count(tmp_path / "out") == 0
        again = run_batch(cfg)
        assert again.counters["articles_written"] == first.counters["articles_written"]
        assert again.counters["rejects_written"] == first.counters["rejects_written"]
        ids = DeltaTable(articles).to_pyarrow_table()["article_id"].to_pylist()
        assert len(ids) == len(set(ids)) == first.counters["articles_written"]
        assert set(orphans) <= set(dataset_files(articles))  # younger than a day: maybe a running job's
        old = time.time() - 2 * 86400
        for path in orphans:
            os.utime(path, (old, old))
        third = run_batch(cfg)
    assert third.counters["articles_written"] == 0
    assert not set(orphans) & set(dataset_files(articles))
    assert sorted(dataset_files(articles)) == delta.committed_files(articles)
    assert len(DeltaTable(articles).to_pyarrow_table()) == first.counters["articles_written"]
    assert _sql_count(tmp_path / "out") == first.counters["articles_written"]


def _sql_count(output: Path) -> int:
    proc = subprocess.run([sys.executable, "-m", "pipeline", "sql", "SELECT count(*) AS n FROM articles",
                           "--output", str(output)], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    return int(proc.stdout.split("│")[-2])  # the one cell of DuckDB's box


def test_a_table_from_before_a_schema_change_gets_the_new_columns(tmp_path: Path) -> None:
    """A table created before the version columns existed: the next run adds them to the table's
    schema (one ADD COLUMN commit), so readers through the log see them; older rows read null."""
    from pipeline.io.parquet import articles_root
    from pipeline.schema import ARTICLE_SCHEMA

    out = tmp_path / "out"
    with FixtureServer(DEMO_DIR / "site") as server:
        cfg = _as_delta(demo_config(server.base, str(out)), out)
        new = ("version", "updated_at", "previous_content_hash")
        old = pa.schema([f for f in ARTICLE_SCHEMA if f.name not in new])
        root = articles_root(str(out))
        DeltaTable.create(delta._uri(root), delta.table_schema(old, cfg.output.partition_by),
                          partition_by=list(cfg.output.partition_by))
        assert run_batch(cfg).counters["articles_written"] == 16
    table = DeltaTable(delta._uri(root))
    assert set(new) <= {f.name for f in table.schema().fields}
    assert [h["operation"] for h in table.history()] == ["WRITE", "ADD COLUMN", "CREATE TABLE"]
    assert set(table.to_pyarrow_table(columns=["version"]).column("version").to_pylist()) == {1}
