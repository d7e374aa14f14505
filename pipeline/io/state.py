"""What earlier runs left for the next one: seen keys, feed states, near-duplicate signatures,
and entries deferred by the per-run cap (`backlog/`).

Seen keys (`<state>/seen/bucket=N/`) are every article's canonical URL key, link key and body hash,
written or dropped, spread over `BUCKETS` folders by a stable hash of the key: the deduplication
step keeps one state cell per bucket and seeds it by reading only that bucket's folder. The
articles dataset stays the source of truth: a seen store that is missing is rebuilt from its
`article_id`/`content_hash` columns (`rebuild_seen`), so losing `<state>` costs refetches, never
duplicate rows.

A state file that does not read whole (not Parquet, truncated, a bad compressed page) is moved to
`<state>/quarantine/` with a warning naming it at the start of a run (`check_state`), and the run
goes on from what can be rebuilt: seen keys from the articles; a feed's state falls back to its
previous snapshot (or a first poll); lost signatures only weaken near-duplicate marking for those
articles; lost backlog entries are fetched again only if their feed still lists them.
"""

from __future__ import annotations

import json
import logging
import re
import time
import zlib
from collections import defaultdict
from collections.abc import Iterable, Iterator
from dataclasses import asdict, dataclass
from datetime import date, datetime

import pyarrow as pa

from pipeline.articles.neardup import signature
from pipeline.io.delta import data_files
from pipeline.io.parquet import (
    articles_root,
    dataset_files,
    filesystem,
    move_aside,
    read_columns,
    remove_stale_temps,
    verify_file,
    write_atomically,
)
from pipeline.records import FeedEntry, utc_now
from pipeline.sources.schedule import FeedState
from pipeline.urls import canonicalize_url, url_key

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Store:
    """One state store: a folder under `<state>`, its schema and its partition columns."""

    folder: str
    schema: pa.Schema
    partition_by: tuple[str, ...] = ()

    def root(self, state_path: str) -> str:
        return f"{state_path.rstrip('/')}/{self.folder}"

    def write(self, state_path: str, rows: Iterable[dict], tag: str) -> None:
        """Rows outside Beam (rebuilds, compaction): one new file per partition, each atomic."""
        groups: defaultdict[tuple, list[dict]] = defaultdict(list)
        for row in rows:
            groups[tuple(row[c] for c in self.partition_by)].append(row)
        schema = pa.schema([f for f in self.schema if f.name not in self.partition_by])
        for values, part in groups.items():
            folder = "/".join(f"{c}={v}" for c, v in zip(self.partition_by, values, strict=True))
            write_atomically(self.root(state_path), folder, schema, [pa.Table.from_pylist(part, schema=schema)], tag)


# --- feed states: one JSON snapshot row per poll, newest wins ---------------------------------

FEEDS = Store("feeds", pa.schema([
    pa.field("feed_url", pa.string(), nullable=False),
    pa.field("updated_at", pa.timestamp("us", tz="UTC"), nullable=False),
    pa.field("state", pa.string(), nullable=False),  # FeedState.to_dict() as JSON: evolves freely
    pa.field("run_id", pa.string(), nullable=False),
]))


def feed_state_row(feed: FeedState, run_id: str, updated_at: datetime | None = None) -> dict:
    """A snapshot row; the newest `updated_at` (by default, the poll's time) wins."""
    updated = updated_at or feed.last_polled_at or utc_now()
    return {"feed_url": feed.feed_url, "updated_at": updated, "state": json.dumps(feed.to_dict()), "run_id": run_id}


def read_feed_states(state_path: str) -> dict[str, FeedState]:
    """The latest known state of every feed ever polled (snapshots are appended, newest wins)."""
    root = FEEDS.root(state_path)
    latest: dict[str, tuple] = {}
    for file in dataset_files(root):
        for row in read_columns(root, file, ["feed_url", "updated_at", "state"]):
            if row["feed_url"] not in latest or row["updated_at"] >= latest[row["feed_url"]][0]:
                latest[row["feed_url"]] = (row["updated_at"], row["state"])
    return {url: FeedState.from_dict(json.loads(state)) for url, (_, state) in latest.items()}


def compact_feed_states(state_path: str, run_id: str, max_files: int = 8) -> None:
    """Keep the snapshot folder small: past `max_files` files, rewrite it as one file of latest states."""
    root = FEEDS.root(state_path)
    files = dataset_files(root)
    if len(files) <= max_files:
        return
    rows = [feed_state_row(s, run_id) for s in read_feed_states(state_path).values()]
    write_atomically(root, "", FEEDS.schema, [pa.Table.from_pylist(rows, schema=FEEDS.schema)],
                     f"compacted-{run_id}")
    fsys, _ = filesystem(root)
    for file in files:
        fsys.delete_file(file)


# --- near-duplicate signatures, by day: old days are skipped whole -----------------------------

SIGNATURES = Store("signatures", pa.schema([
    pa.field("article_id", pa.string(), nullable=False),
    pa.field("cluster_id", pa.string(), nullable=False),
    pa.field("published_at", pa.timestamp("us", tz="UTC")),
    pa.field("signature", pa.binary(), nullable=False),  # pipeline.articles.neardup.signature: MinHash values
    pa.field("ingest_date", pa.string(), nullable=False),  # partition column
]), ("ingest_date",))


def signature_files(state_path: str, since: date) -> list[tuple[str, str]]:
    """(root, file) pairs of the signatures written on or after `since`, judged by their folder."""
    root = SIGNATURES.root(state_path)
    files = []
    for file in dataset_files(root):
        day = re.search(r"ingest_date=(\d{4}-\d{2}-\d{2})", file)
        if day is None or date.fromisoformat(day.group(1)) >= since:
            files.append((root, file))
    return files


def read_signatures(root: str, file: str) -> Iterator[dict]:
    yield from read_columns(root, file, ["article_id", "cluster_id", "published_at", "signature"])


# --- backlog: entries deferred by the per-run cap ---------------------------------------------

BACKLOG = Store("backlog", pa.schema([
    pa.field("feed_url", pa.string(), nullable=False),
    pa.field("link", pa.string(), nullable=False),
    pa.field("entry", pa.string(), nullable=False),  # the FeedEntry as JSON
    pa.field("run_id", pa.string(), nullable=False),
]))


def backlog_row(entry: FeedEntry, run_id: str) -> dict:
    data = {k: v.isoformat() if isinstance(v, datetime) else v for k, v in asdict(entry).items()}
    return {"feed_url": entry.feed_url, "link": entry.link, "entry": json.dumps(data), "run_id": run_id}


def backlog_files(state_path: str) -> list[tuple[str, str]]:
    root = BACKLOG.root(state_path)
    return [(root, file) for file in dataset_files(root)]


def read_backlog(root: str, file: str) -> Iterator[FeedEntry]:
    """Entries a capped run left for later (`pipeline.transforms.backlog`)."""
    for row in read_columns(root, file, ["entry"]):
        data = json.loads(row["entry"])
        for key in ("published_at", "updated_at", "first_seen_at"):
            data[key] = datetime.fromisoformat(data[key]) if data.get(key) else None
        for key in ("authors", "categories", "tags"):
            data[key] = tuple(data[key])
        yield FeedEntry(**data)


def delete_file(root: str, file: str) -> None:
    fsys, _ = filesystem(root)
    fsys.delete_file(file)


# --- seen keys, in hash-bucket folders ---------------------------------------------------------

URL, CONTENT = "url", "content"
BUCKETS = 32  # seen-key state cells (and folders); ARCHITECTURE.md, "Keyed state"

SEEN = Store("seen", pa.schema([
    pa.field("key", pa.string(), nullable=False),
    pa.field("kind", pa.string(), nullable=False),
    pa.field("run_id", pa.string(), nullable=False),
    pa.field("bucket", pa.int32(), nullable=False),  # partition column: bucket_of(key)
]), ("bucket",))


def bucket_of(key: str) -> int:
    """Stable across processes and machines (unlike `hash`)."""
    return zlib.crc32(key.encode()) % BUCKETS


def seen_row(kind: str, key: str, run_id: str) -> dict:
    return {"kind": kind, "key": key, "run_id": run_id, "bucket": bucket_of(key)}


def read_seen_bucket(state_path: str, bucket: int) -> dict[str, set[str]]:
    """kind -> keys of one bucket, everything earlier runs recorded."""
    root = SEEN.root(state_path)
    keys: defaultdict[str, set[str]] = defaultdict(set)
    for file in dataset_files(f"{root}/bucket={bucket}"):
        for row in read_columns(root, file, ["kind", "key"]):
            keys[row["kind"]].add(row["key"])
    return keys


# Article files committed before this time (minus a margin for clock skew on remote file systems)
# have their keys in the seen store: the last run that recorded its keys started then.
_COVERED = "_covered.json"
_COVERED_MARGIN_S = 600.0


def mark_seen_covered(state_path: str, since: float) -> None:
    """After a run's seen keys are written: every article file committed before `since` (the
    run's start) is covered by the seen store."""
    fsys, base = filesystem(SEEN.root(state_path))
    fsys.create_dir(base, recursive=True)
    tmp = f"{base}/.{_COVERED}.tmp"
    with fsys.open_output_stream(tmp) as out:
        out.write(json.dumps({"articles_before": since}).encode())
    fsys.move(tmp, f"{base}/{_COVERED}")


def _covered_until(state_path: str) -> float:
    fsys, base = filesystem(SEEN.root(state_path))
    try:
        with fsys.open_input_stream(f"{base}/{_COVERED}") as handle:
            return float(json.loads(handle.read())["articles_before"])
    except (OSError, ValueError, KeyError, TypeError):
        return 0.0


def rebuild_seen(output_path: str, state_path: str, run_id: str, force: bool = False) -> int:
    """Seen keys of the article files the seen store may not cover: all of them when the store is
    empty (state lost or moved) or `force` (part of it quarantined), else those committed since the
    last run that recorded its keys started (`mark_seen_covered`). A run killed between its
    article files and its seen keys, or one that failed part way, leaves files only this finds: so
    the next run never writes their articles again. Returns the number of keys written. An
    unreadable article file is skipped with a warning (the articles are the user's data)."""
    since = 0.0
    if not force and dataset_files(SEEN.root(state_path)):
        since = _covered_until(state_path) - _COVERED_MARGIN_S
    root, rows = articles_root(output_path), []
    fsys, _ = filesystem(root)
    files = [info.path for info in fsys.get_file_info(data_files(root))
             if since <= 0 or info.mtime is None or info.mtime.timestamp() >= since]
    for file in files:
        problem = verify_file(root, file)
        if problem:
            log.warning("cannot read article file %s (%s): its seen keys are not rebuilt", file, problem)
            continue
        for row in read_columns(root, file, ["article_id", "content_hash", "url"]):
            rows.append(seen_row(URL, row["article_id"], run_id))
            if row.get("url"):
                rows.append(seen_row(URL, url_key(canonicalize_url(row["url"])), run_id))
            if row.get("content_hash"):
                rows.append(seen_row(CONTENT, row["content_hash"], run_id))
    SEEN.write(state_path, rows, f"rebuilt-{run_id}")
    return len(rows)


def rebuild_signatures(output_path: str, state_path: str, run_id: str, window_days: int) -> int:
    """Near-duplicate signatures of the articles committed within `window_days`, when the store has
    none (state lost, or its files quarantined): later copies of a story then still join its
    cluster. Judged by file time, which is the commit time. Returns the signatures written."""
    if window_days <= 0 or dataset_files(SIGNATURES.root(state_path)):
        return 0
    root, rows = articles_root(output_path), []
    fsys, _ = filesystem(root)
    since = time.time() - window_days * 86400
    for info in fsys.get_file_info(data_files(root)):
        if (info.mtime is not None and info.mtime.timestamp() < since) or verify_file(root, info.path):
            continue
        day = re.search(r"ingest_date=(\d{4}-\d{2}-\d{2})", info.path)
        ingest_date = day.group(1) if day else (info.mtime or utc_now()).date().isoformat()
        for row in read_columns(root, info.path, ["article_id", "cluster_id", "published_at", "body"]):
            rows.append({"article_id": row["article_id"], "cluster_id": row.get("cluster_id") or row["article_id"],
                         "published_at": row.get("published_at"), "signature": signature(row.get("body") or ""),
                         "ingest_date": ingest_date})
    SIGNATURES.write(state_path, rows, f"rebuilt-{run_id}")
    return len(rows)


def compact_seen(state_path: str, run_id: str, max_files: int = 8) -> None:
    """Past `max_files` files in a bucket folder, rewrite it as one file (each run adds one per bucket)."""
    root = SEEN.root(state_path)
    fsys, _ = filesystem(root)
    for bucket in range(BUCKETS):
        files = dataset_files(f"{root}/bucket={bucket}")
        if len(files) <= max_files:
            continue
        keys = read_seen_bucket(state_path, bucket)
        SEEN.write(state_path, (seen_row(kind, key, run_id) for kind, ks in keys.items() for key in ks),
                   f"compacted-{run_id}")
        for file in files:
            fsys.delete_file(file)


# --- start of a run: debris removed, unreadable state quarantined ------------------------------

STORES = (FEEDS, SEEN, SIGNATURES, BACKLOG)


def quarantine_root(state_path: str) -> str:
    return f"{state_path.rstrip('/')}/quarantine"


def check_state(state_path: str, output_path: str, run_id: str) -> list[str]:
    """Remove temp files older than a day (state and output), move every state file that does not
    read whole to `<state>/quarantine/` with a warning naming it, and rebuild the seen keys when
    one of theirs went; returns the quarantined files' new paths."""
    for root in (state_path, output_path):
        for path in remove_stale_temps(root):
            log.info("removed a stale temporary file %s", path)
    moved: list[str] = []
    for store in STORES:
        root = store.root(state_path)
        for file in dataset_files(root):
            problem = verify_file(root, file)
            if problem is None:
                continue
            target = move_aside(state_path, file, quarantine_root(state_path))
            log.warning("state file %s is unreadable (%s): moved to %s; the run continues without it",
                        file, problem, target)
            moved.append(target)
    if any("/quarantine/seen/" in path for path in moved):
        keys = rebuild_seen(output_path, state_path, run_id, force=True)
        log.warning("seen keys rebuilt from the articles after quarantine: %d keys", keys)
    return moved
