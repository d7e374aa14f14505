"""Corrupt state never stops a run: the file is named, moved to `<state>/quarantine/`, and the run
goes on from what can be rebuilt (no article written twice)."""

from __future__ import annotations

import logging
import os
import time
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from conftest import query

from pipeline.commands.demo import demo_config
from pipeline.commands.demo_server import FixtureServer
from pipeline.io.parquet import remove_stale_temps, verify_file
from pipeline.run import run_batch


def _eager(cfg):
    return cfg.model_copy(update={"polling": cfg.polling.model_copy(update={"respect_schedule": False})})


def test_corrupt_seen_and_feeds_files_are_quarantined_and_the_rerun_writes_no_duplicates(
        demo_site: FixtureServer, tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    cfg = demo_config(demo_site.base, str(tmp_path / "out"))
    first = run_batch(cfg)
    assert first.counters["articles_written"] > 0
    state = Path(cfg.state_path)
    seen_file = sorted((state / "seen").rglob("*.parquet"))[0]
    feeds_file = sorted((state / "feeds").rglob("*.parquet"))[0]
    signatures_file = sorted((state / "signatures").rglob("*.parquet"))[0]
    seen_file.write_bytes(b"this is not parquet")  # "Parquet magic bytes not found"
    feeds_file.write_bytes(feeds_file.read_bytes()[:-40])  # truncated footer
    signatures_file.write_bytes(b"")
    old_tmp = state / "seen" / ".part-crashed-0123456789ab.parquet.tmp"
    new_tmp = state / "seen" / ".part-inflight-0123456789ab.parquet.tmp"
    old_tmp.write_bytes(b"debris")
    new_tmp.write_bytes(b"a write in progress")
    two_days_ago = time.time() - 2 * 86_400
    os.utime(old_tmp, (two_days_ago, two_days_ago))

    with caplog.at_level(logging.WARNING, logger="pipeline.io.state"):
        second = run_batch(_eager(cfg))
    assert second.counters["articles_written"] == 0
    assert query(cfg.output.path, "SELECT count(*) - count(DISTINCT article_id) FROM t") == [(0,)]
    quarantined = {p.name for p in (state / "quarantine").rglob("*.parquet")}
    assert quarantined == {seen_file.name, feeds_file.name, signatures_file.name}
    assert not seen_file.exists() and not feeds_file.exists() and not signatures_file.exists()
    assert str(seen_file) in caplog.text and str(feeds_file) in caplog.text
    assert not old_tmp.exists() and new_tmp.exists()


def test_a_bad_compressed_page_is_found(tmp_path: Path) -> None:
    path = tmp_path / "t.parquet"
    values = [f"key-{i}-{i * 7919 % 104729}" for i in range(20_000)]
    pq.write_table(pa.table({"key": values}), path, compression="zstd")
    assert verify_file(str(tmp_path), str(path)) is None
    data = bytearray(path.read_bytes())
    middle = len(data) // 2
    data[middle:middle + 64] = b"\x00" * 64
    path.write_bytes(bytes(data))
    assert verify_file(str(tmp_path), str(path)) is not None


def test_only_old_temp_files_are_removed(tmp_path: Path) -> None:
    (tmp_path / "a").mkdir()
    old, young, other = tmp_path / "a/.part-x-1.parquet.tmp", tmp_path / ".part-y-2.parquet.tmp", tmp_path / "z.tmp"
    for f in (old, young, other):
        f.write_bytes(b"x")
    for f in (old, other):
        os.utime(f, (time.time() - 3 * 86_400,) * 2)
    assert remove_stale_temps(str(tmp_path)) == [str(old)]
    assert young.exists() and other.exists()
