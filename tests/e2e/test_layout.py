"""One layout per dataset: the first run records it, another layout stops the run before any work,
and `news-ingest migrate` rewrites the data into a new layout keeping every row."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from conftest import query

from pipeline.commands.demo import demo_config
from pipeline.commands.demo_server import DEMO_DIR, FixtureServer
from pipeline.config import ConfigError
from pipeline.io.layout import DESCRIPTOR
from pipeline.run import prepared, run_batch
from pipeline.schema import ARTICLE_SCHEMA

ALL_ROWS = f"SELECT {', '.join(ARTICLE_SCHEMA.names)} FROM t ORDER BY article_id"  # by name: folder order moves


def _config_file(tmp_path: Path, base: str, partition_by: str) -> Path:
    path = tmp_path / "c.yaml"
    path.write_text(f"feeds: [{{url: '{base}/feeds/akhbar-ar.xml'}}]\n"
                    f"output: {{path: '{tmp_path}', partition_by: [{partition_by}]}}\n"
                    "http: {allow_private_networks: true, retries: 0}\n", encoding="utf-8")
    return path


def _cli(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "pipeline", *args], capture_output=True, text=True, timeout=300)


def test_layout_is_recorded_enforced_and_migrated(tmp_path: Path) -> None:
    with FixtureServer(DEMO_DIR / "site") as server:
        cfg = demo_config(server.base, str(tmp_path))
        run_batch(cfg)
        descriptor = json.loads((tmp_path / "articles" / DESCRIPTOR).read_text(encoding="utf-8"))
        assert descriptor["partition_by"] == ["ingest_date", "language"]
        assert descriptor["partition_types"] == {"ingest_date": "date32[day]", "language": "string"}
        assert descriptor["compression"] == "zstd" and descriptor["schema_version"] >= 1
        assert json.loads((tmp_path / "rejects" / DESCRIPTOR).read_text())["partition_by"] == ["ingest_date"]
        before = query(tmp_path, ALL_ROWS)
        files_before = sorted((tmp_path / "articles").rglob("*.parquet"))

        # Another layout: exit 2 with both layouts and the migrate command, before any request or file.
        requests = len(server.requests)
        proc = _cli("run", "--config", str(_config_file(tmp_path, server.base, "ingest_date, source")))
        assert proc.returncode == 2, proc.stderr
        assert "[ingest_date, source]" in proc.stderr and "[ingest_date, language]" in proc.stderr
        assert f"news-ingest migrate --output {tmp_path} --partition-by ingest_date,source" in proc.stderr
        assert len(server.requests) == requests
        assert sorted((tmp_path / "articles").rglob("*.parquet")) == files_before

        proc = _cli("migrate", "--output", str(tmp_path), "--partition-by", "ingest_date,source")
        assert proc.returncode == 0, proc.stderr

        assert query(tmp_path, ALL_ROWS) == before  # every row and value, language back in the files
        folders = {p.parent.relative_to(tmp_path / "articles").parts for p in
                   (tmp_path / "articles").rglob("*.parquet")}
        assert folders and all(a.startswith("ingest_date=") and b.startswith("source=") for a, b in folders)
        assert not list((tmp_path / "articles").rglob(".*"))  # no temporary file
        assert not list((tmp_path / "articles").glob("*/language=*"))  # old folders gone
        descriptor = json.loads((tmp_path / "articles" / DESCRIPTOR).read_text(encoding="utf-8"))
        assert descriptor["partition_by"] == ["ingest_date", "source"]
        layout = {"partition_by": ("ingest_date", "source")}
        new = cfg.model_copy(update={"output": cfg.output.model_copy(update=layout)})
        prepared(new, "check")  # the new layout is accepted now, the old one refused
        with pytest.raises(ConfigError, match="migrate"):
            prepared(cfg, "check")


def test_data_written_before_descriptors_is_checked_by_its_folders(tmp_path: Path) -> None:
    folder = tmp_path / "articles" / "ingest_date=2026-01-01" / "language=ar"
    folder.mkdir(parents=True)
    pq.write_table(pa.table({"article_id": pa.array([], pa.string()), "content_hash": pa.array([], pa.string())}),
                   folder / "part-x.parquet")
    cfg = demo_config("http://127.0.0.1:1", str(tmp_path))
    wrong = cfg.model_copy(update={"output": cfg.output.model_copy(update={"partition_by": ("source",)})})
    with pytest.raises(ConfigError, match=r"partitioned by \[ingest_date, language\]"):
        prepared(wrong, "check")
    prepared(cfg, "check")
    assert json.loads((tmp_path / "articles" / DESCRIPTOR).read_text())["partition_by"] == ["ingest_date", "language"]


def test_migrate_renames_percent_encoded_folders_of_earlier_versions(tmp_path: Path) -> None:
    from urllib.parse import quote

    from pipeline.io.migration import migrate

    root = tmp_path / "articles"
    legacy = root / "ingest_date=2026-01-01" / f"source={quote('أخبار الواحة', safe='')}"
    legacy.mkdir(parents=True)
    pq.write_table(pa.table({"article_id": ["a", "b"], "title": ["س", "ص"]}), legacy / "part-old.parquet")
    prepared_layout = {"partition_by": ("ingest_date", "source")}
    cfg = demo_config("http://127.0.0.1:1", str(tmp_path))
    prepared(cfg.model_copy(update={"output": cfg.output.model_copy(update=prepared_layout)}), "check")
    assert json.loads((root / DESCRIPTOR).read_text())["path_escaping"] == "percent"

    done = migrate(str(root), ("ingest_date", "source"), "m")

    assert [(d.files_in, d.rows) for d in done] == [(1, 2)]
    assert [p.parent.name for p in root.rglob("*.parquet")] == ["source=أخبار الواحة"]
    assert not legacy.exists()
    assert sorted(query(tmp_path, "SELECT article_id, title, source FROM t")) == [
        ("a", "س", "أخبار الواحة"), ("b", "ص", "أخبار الواحة")]
    assert json.loads((root / DESCRIPTOR).read_text())["path_escaping"] == "hive"
