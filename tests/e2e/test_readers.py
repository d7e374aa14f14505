"""Every reader sees the same rows, types and partition values, Arabic folder names included:
DuckDB, Polars, pyarrow.dataset, pandas and Spark over one demo run partitioned by
[ingest_date, source] (the Arabic feeds' sources are their Arabic titles). Spark starts once."""

from __future__ import annotations

import datetime as dt
import os
from collections.abc import Iterator
from pathlib import Path

import duckdb
import pandas as pd
import polars as pl
import pyarrow as pa
import pytest

from pipeline.commands.demo import demo_config
from pipeline.commands.demo_server import DEMO_DIR, FixtureServer
from pipeline.io.read import dataset, partitioning, schema
from pipeline.run import run_batch

COLUMNS = ["article_id", "source", "ingest_date", "language", "title", "word_count", "published_at"]
SPECIAL = "Harbor: 100% Daily/News?"  # characters Hive escapes in folder names


@pytest.fixture(scope="module")
def articles(tmp_path_factory: pytest.TempPathFactory) -> str:
    out = tmp_path_factory.mktemp("readers")
    with FixtureServer(DEMO_DIR / "site") as server:
        cfg = demo_config(server.base, str(out))
        feeds = (cfg.feeds[0].model_copy(update={"name": SPECIAL}), *cfg.feeds[1:])
        cfg = cfg.model_copy(update={"feeds": feeds, "output": cfg.output.model_copy(
            update={"partition_by": ("ingest_date", "source")})})
        run_batch(cfg)
    return str(out / "articles")


@pytest.fixture(scope="module")
def spark() -> Iterator[object]:
    os.environ["SPARK_LOCAL_IP"] = "127.0.0.1"
    from pyspark.sql import SparkSession

    session = (SparkSession.builder.master("local[1]").appName("news-ingest-readers")
               .config("spark.sql.session.timeZone", "UTC")
               .config("spark.driver.bindAddress", "127.0.0.1").config("spark.driver.host", "127.0.0.1")
               .config("spark.ui.enabled", "false").getOrCreate())
    yield session
    from pyspark import SparkContext

    gateway = SparkContext._gateway
    session.stop()
    if gateway is not None:  # stop() leaves the JVM running: end it too, it is ours
        gateway.shutdown()
        gateway.proc.terminate()
        gateway.proc.wait(timeout=30)
        SparkContext._gateway = SparkContext._jvm = None


def _utc(value: object) -> object:
    """Timestamps as naive UTC: Spark hands back naive times in its session zone (set to UTC)."""
    if isinstance(value, pd.Timestamp):
        value = value.to_pydatetime()
    if isinstance(value, dt.datetime) and value.tzinfo is not None:
        value = value.astimezone(dt.UTC).replace(tzinfo=None)
    return None if value is pd.NaT else value


def _rows(records: list[dict]) -> list[tuple]:
    return sorted(tuple(_utc(r[c]) for c in COLUMNS) for r in records)


def _polars(path: str) -> pl.DataFrame:
    """Polars takes the first file's columns unless given the schema (`missing_columns` then fills nulls)."""
    return pl.scan_parquet(f"{path}/**/*.parquet", hive_partitioning=True, missing_columns="insert",
                           schema=pl.from_arrow(schema(path).empty_table()).schema).collect()


def read_all(path: str, spark) -> dict[str, tuple[list[tuple], object]]:
    """Each reader's rows and the type it gives `ingest_date`, with the calls the README documents."""
    con = duckdb.connect()
    rel = con.sql(f"SELECT * FROM read_parquet('{path}/**/*.parquet', hive_partitioning=true, union_by_name=true)")
    duck_type = con.sql(f"SELECT DISTINCT typeof(ingest_date) FROM read_parquet('{path}/**/*.parquet', "
                        "hive_partitioning=true, union_by_name=true)").fetchall()
    duck = [dict(zip(rel.columns, r, strict=True)) for r in rel.fetchall()]
    polars = _polars(path)
    table = dataset(path).to_table()
    frame = pd.read_parquet(path, partitioning=partitioning(path))
    sdf = spark.read.option("mergeSchema", "true").parquet(path)
    return {
        "duckdb": (_rows(duck), duck_type),
        "polars": (_rows(polars.to_dicts()), polars.schema["ingest_date"]),
        "pyarrow": (_rows(table.to_pylist()), table.schema.field("ingest_date").type),
        "pandas": (_rows(frame.astype(object).where(frame.notna(), None).to_dict("records")),
                   {type(v) for v in frame["ingest_date"]}),
        "spark": (_rows([r.asDict() for r in sdf.collect()]), sdf.schema["ingest_date"].dataType.simpleString()),
    }


def test_five_readers_return_identical_rows_types_and_partition_values(articles: str, spark) -> None:
    folders = {p.name for p in Path(articles).glob("ingest_date=*/source=*")}
    assert "source=Harbor%3A 100%25 Daily%2FNews%3F" in folders
    arabic = [f for f in folders if any("\u0600" <= ch <= "\u06ff" for ch in f)]
    assert len(arabic) == 2 and not any("%" in f for f in arabic)  # UTF-8 letters raw

    seen = read_all(articles, spark)

    expected = seen["duckdb"][0]
    assert len(expected) >= 10
    sources = {r[1] for r in expected}
    assert SPECIAL in sources and sum(any("\u0600" <= ch <= "\u06ff" for ch in s) for s in sources) == 2
    assert all(isinstance(r[2], dt.date) and not isinstance(r[2], dt.datetime) for r in expected)
    for reader, (rows, _) in seen.items():
        assert rows == expected, reader
    assert seen["duckdb"][1] == [("DATE",)]
    assert seen["polars"][1] == pl.Date
    assert seen["pyarrow"][1] == pa.date32()
    assert seen["pandas"][1] == {dt.date}
    assert seen["spark"][1] == "date"


def test_a_file_without_the_newest_column_reads_as_nulls(articles: str, spark, tmp_path: Path) -> None:
    """The evolution rule: columns are only added, and readers unify by name."""
    import shutil

    import pyarrow.parquet as pq

    root = tmp_path / "articles"
    shutil.copytree(articles, root)
    newest = next(iter(root.rglob("*.parquet")))
    old = pq.read_table(newest).drop_columns(["version", "updated_at", "previous_content_hash"])  # schema 1
    old_folder = root / "ingest_date=2025-01-01" / "source=Old"  # sorts first: the schema a naive reader takes
    old_folder.mkdir(parents=True)
    pq.write_table(old, old_folder / "part-old.parquet")
    path = str(root)

    duck = duckdb.sql(f"SELECT version IS NULL AS missing, count(*) FROM read_parquet('{path}/**/*.parquet', "
                      "hive_partitioning=true, union_by_name=true) GROUP BY ALL ORDER BY missing").fetchall()
    total = sum(n for _, n in duck)
    assert duck == [(False, total - old.num_rows), (True, old.num_rows)]
    unified = pa.unify_schemas([pq.read_schema(f) for f in sorted(root.rglob("*.parquet"))])
    assert "version" in unified.names
    table = dataset(path).to_table(columns=["version", "source"])
    assert table.filter(pa.compute.equal(table["source"], "Old"))["version"].null_count == old.num_rows
    assert table.num_rows == total
    frame = _polars(path)
    assert frame.filter(pl.col("source") == "Old")["version"].null_count() == old.num_rows
    sdf = spark.read.option("mergeSchema", "true").parquet(path)
    assert sdf.filter("source = 'Old' AND version IS NULL").count() == old.num_rows
