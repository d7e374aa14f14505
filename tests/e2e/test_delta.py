"""`output.format: delta`: the demo written as Delta tables holds the same rows as the Parquet run,
reruns add nothing (also with the state store lost), and stats, compact and the layout check work."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pyarrow as pa
import pytest
from deltalake import DeltaTable

from pipeline.commands.demo import demo_config
from pipeline.commands.demo_server import DEMO_DIR, FixtureServer
from pipeline.config import ConfigError
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


def test_delta_output_matches_parquet_and_reruns_add_nothing(tmp_path: Path) -> None:
    with FixtureServer(DEMO_DIR / "site") as server:
        plain = demo_config(server.base, str(tmp_path / "parquet"))
        cfg = plain.model_copy(update={"output": plain.output.model_copy(update={"format": "delta"})}).with_paths(
            output=str(tmp_path / "delta"))
        run_batch(plain)
        first = run_batch(cfg)
        shutil.rmtree(tmp_path / "delta" / "_state")  # the seen store is rebuilt from the Delta files
        again = run_batch(cfg)

    articles = tmp_path / "delta" / "articles"
    assert DeltaTable(str(articles)).version() >= 0 and DeltaTable(str(tmp_path / "delta" / "rejects")).version() >= 0
    assert DeltaTable(str(articles)).schema().to_arrow().field("ingest_date").type == pa.date32()
    assert first.counters["articles_written"] >= 10 and again.counters["articles_written"] == 0
    assert _rows(articles) == _rows(tmp_path / "parquet" / "articles")
    assert json.loads((articles / "_news_ingest.json").read_text())["format"] == "delta"
    assert _stats(tmp_path / "delta") == _stats(tmp_path / "parquet")

    before = _rows(articles)
    proc = subprocess.run([sys.executable, "-m", "pipeline", "compact", "--output", str(tmp_path / "delta")],
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0 and "(delta)" in proc.stdout, proc.stderr
    assert _rows(articles) == before

    with pytest.raises(ConfigError, match=r"output\.format is parquet"):
        prepared(plain.with_paths(output=str(tmp_path / "delta")), "check")
