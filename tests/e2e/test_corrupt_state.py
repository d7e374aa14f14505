"""Corrupt state never stops a run: the file is named, moved to `<state>/quarantine/` where it is
read (a footer that does not read already at the start), and the run goes on from what can be
rebuilt (no article written twice; seen keys and signatures rebuilt from the articles)."""

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
from pipeline.io.state import BACKLOG, backlog_row, check_state
from pipeline.records import FeedEntry
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
    backlog_file = state / "backlog" / "part-r0-0123456789ab.parquet"
    backlog_file.parent.mkdir(parents=True, exist_ok=True)
    backlog_file.write_bytes(b"PAR1 cut short")
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
    assert quarantined == {seen_file.name, feeds_file.name, signatures_file.name, backlog_file.name}
    for path in (seen_file, feeds_file, signatures_file, backlog_file):
        assert not path.exists() and str(path) in caplog.text
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


def _bad_pages(path: Path) -> None:
    """Garble every page of a Parquet file and keep its footer: only decoding the pages finds it."""
    data = bytearray(path.read_bytes())
    footer = int.from_bytes(data[-8:-4], "little")
    data[4:len(data) - 8 - footer] = b"\xff" * (len(data) - 12 - footer)
    path.write_bytes(bytes(data))
    pq.read_metadata(path)  # the footer still reads


def test_the_start_reads_only_footers_and_a_bad_page_is_quarantined_where_it_is_read(
        demo_site: FixtureServer, tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    cfg = demo_config(demo_site.base, str(tmp_path / "out"))
    first = run_batch(cfg)
    state = Path(cfg.state_path)
    seen_file = max((state / "seen").rglob("*.parquet"), key=lambda p: p.stat().st_size)
    feeds_file = sorted((state / "feeds").rglob("*.parquet"))[0]
    signatures_file = sorted((state / "signatures").rglob("*.parquet"))[0]
    entry = FeedEntry(feed_url=cfg.feeds[0].key, source="demo", link=f"{demo_site.base}/gone.html", url_key="k")
    BACKLOG.write(str(state), [backlog_row(entry, "r0")] * 500, "r0")
    backlog_file = sorted((state / "backlog").rglob("*.parquet"))[0]
    for path in (seen_file, feeds_file, signatures_file, backlog_file):
        _bad_pages(path)
    assert check_state(str(state), cfg.output.path) == []  # footers only
    assert seen_file.exists() and backlog_file.exists()

    with caplog.at_level(logging.WARNING, logger="pipeline.io.state"):
        second = run_batch(_eager(cfg))
    assert second.counters["articles_written"] == 0  # the seen bucket was rebuilt at once
    assert query(cfg.output.path, "SELECT count(*) - count(DISTINCT article_id) FROM t") == [(0,)]
    quarantined = {p.name for p in (state / "quarantine").rglob("*.parquet")}
    assert quarantined == {seen_file.name, feeds_file.name, signatures_file.name, backlog_file.name}
    for path in (seen_file, feeds_file, signatures_file, backlog_file):
        assert str(path) in caplog.text
    assert "seen keys of bucket" in caplog.text
    assert (state / "signatures" / "_rebuild").exists()  # read inside the graph: rebuilt at the next start
    run_batch(_eager(cfg))
    assert not (state / "signatures" / "_rebuild").exists()
    ids = [r["article_id"] for f in (state / "signatures").rglob("*.parquet") for r in pq.read_table(f).to_pylist()]
    assert sorted(ids) == sorted(set(ids)) and len(ids) == first.counters["articles_written"]


def test_quarantined_signatures_are_rebuilt_without_repeating_the_survivors(
        demo_site: FixtureServer, tmp_path: Path) -> None:
    cfg = demo_config(demo_site.base, str(tmp_path / "out"))
    first = run_batch(cfg)
    state = Path(cfg.state_path)
    (stored,) = (state / "signatures").rglob("*.parquet")  # one run, one day: one file
    table = pq.read_table(stored, partitioning=None)
    half = table.num_rows // 2
    assert half > 0
    folder = stored.parent
    pq.write_table(table.slice(0, half), folder / "part-a-000000000000.parquet")
    pq.write_table(table.slice(half), folder / "part-b-000000000000.parquet")
    stored.unlink()
    (folder / "part-b-000000000000.parquet").write_bytes(b"not parquet")

    run_batch(_eager(cfg))
    assert [p.name for p in (state / "quarantine").rglob("*.parquet")] == ["part-b-000000000000.parquet"]
    ids = [r["article_id"] for f in (state / "signatures").rglob("*.parquet")
           for r in pq.read_table(f, partitioning=None).to_pylist()]
    assert len(ids) == len(set(ids)) == first.counters["articles_written"]  # the lost half back, once
