"""What earlier runs left for the next one: seen keys, feed states, near-duplicate signatures,
and entries deferred by the per-run cap (`backlog/`).

Seen keys (`<state>/seen/bucket=N/`) are every article's canonical URL key, link key and body hash,
written or dropped, spread over `BUCKETS` folders by a stable hash of the key: the deduplication
step keeps one state cell per bucket and seeds it by reading only that bucket's folder. The
articles dataset stays the source of truth: a seen store that is missing is rebuilt from its
`article_id`/`content_hash` columns (`rebuild_seen`), so losing `<state>` costs refetches, never
duplicate rows.
"""

from __future__ import annotations

import json
import re
import zlib
from collections import defaultdict
from collections.abc import Iterable, Iterator
from dataclasses import asdict
from datetime import date, datetime

import pyarrow as pa

from pipeline.io.parquet import dataset_files, filesystem, read_columns, write_atomically
from pipeline.records import FeedEntry, utc_now
from pipeline.schedule import FeedState

URL, CONTENT = "url", "content"
BUCKETS = 32  # seen-key state cells (and folders); see ../shared/BEAM-NOTES.md, "State and dedup"

SEEN_SCHEMA = pa.schema([
    pa.field("key", pa.string(), nullable=False),
    pa.field("kind", pa.string(), nullable=False),
    pa.field("run_id", pa.string(), nullable=False),
    pa.field("bucket", pa.int32(), nullable=False),  # partition column: bucket_of(key)
])


def bucket_of(key: str) -> int:
    """Stable across processes and machines (unlike `hash`)."""
    return zlib.crc32(key.encode()) % BUCKETS


FEED_STATE_SCHEMA = pa.schema([
    pa.field("feed_url", pa.string(), nullable=False),
    pa.field("updated_at", pa.timestamp("us", tz="UTC"), nullable=False),
    pa.field("state", pa.string(), nullable=False),  # FeedState.to_dict() as JSON: evolves freely
    pa.field("run_id", pa.string(), nullable=False),
])


def feeds_root(state_path: str) -> str:
    return f"{state_path.rstrip('/')}/feeds"


def feed_state_row(feed: FeedState, run_id: str, updated_at: datetime | None = None) -> dict:
    """A snapshot row; the newest `updated_at` (by default, the poll's time) wins."""
    updated = updated_at or feed.last_polled_at or utc_now()
    return {"feed_url": feed.feed_url, "updated_at": updated, "state": json.dumps(feed.to_dict()), "run_id": run_id}


def read_feed_states(state_path: str) -> dict[str, FeedState]:
    """The latest known state of every feed ever polled (snapshots are appended, newest wins)."""
    root = feeds_root(state_path)
    latest: dict[str, tuple] = {}
    for file in dataset_files(root):
        for row in read_columns(root, file, ["feed_url", "updated_at", "state"]):
            if row["feed_url"] not in latest or row["updated_at"] >= latest[row["feed_url"]][0]:
                latest[row["feed_url"]] = (row["updated_at"], row["state"])
    return {url: FeedState.from_dict(json.loads(state)) for url, (_, state) in latest.items()}


def compact_feed_states(state_path: str, run_id: str, max_files: int = 8) -> None:
    """Keep the snapshot folder small: past `max_files` files, rewrite it as one file of latest states."""
    root = feeds_root(state_path)
    files = dataset_files(root)
    if len(files) <= max_files:
        return
    rows = [feed_state_row(s, run_id) for s in read_feed_states(state_path).values()]
    write_atomically(root, "", FEED_STATE_SCHEMA, [pa.Table.from_pylist(rows, schema=FEED_STATE_SCHEMA)],
                     f"compacted-{run_id}")
    fsys, _ = filesystem(root)
    for file in files:
        fsys.delete_file(file)


SIGNATURE_SCHEMA = pa.schema([
    pa.field("article_id", pa.string(), nullable=False),
    pa.field("cluster_id", pa.string(), nullable=False),
    pa.field("published_at", pa.timestamp("us", tz="UTC")),
    pa.field("signature", pa.binary(), nullable=False),  # pipeline.neardup.signature: MinHash values
    pa.field("ingest_date", pa.string(), nullable=False),  # partition column: old days are skipped whole
])


def signatures_root(state_path: str) -> str:
    return f"{state_path.rstrip('/')}/signatures"


def signature_files(state_path: str, since: date) -> list[tuple[str, str]]:
    """(root, file) pairs of the signatures written on or after `since`, judged by their folder."""
    root = signatures_root(state_path)
    files = []
    for file in dataset_files(root):
        day = re.search(r"ingest_date=(\d{4}-\d{2}-\d{2})", file)
        if day is None or date.fromisoformat(day.group(1)) >= since:
            files.append((root, file))
    return files


def read_signatures(root: str, file: str) -> Iterator[dict]:
    yield from read_columns(root, file, ["article_id", "cluster_id", "published_at", "signature"])


BACKLOG_SCHEMA = pa.schema([
    pa.field("feed_url", pa.string(), nullable=False),
    pa.field("link", pa.string(), nullable=False),
    pa.field("entry", pa.string(), nullable=False),  # the FeedEntry as JSON
    pa.field("run_id", pa.string(), nullable=False),
])


def backlog_root(state_path: str) -> str:
    return f"{state_path.rstrip('/')}/backlog"


def backlog_row(entry: FeedEntry, run_id: str) -> dict:
    data = {k: v.isoformat() if isinstance(v, datetime) else v for k, v in asdict(entry).items()}
    return {"feed_url": entry.feed_url, "link": entry.link, "entry": json.dumps(data), "run_id": run_id}


def backlog_files(state_path: str) -> list[tuple[str, str]]:
    root = backlog_root(state_path)
    return [(root, file) for file in dataset_files(root)]


def read_backlog(root: str, file: str) -> Iterator[FeedEntry]:
    """Entries a capped run left for later (`pipeline.transforms.backlog`)."""
    for row in read_columns(root, file, ["entry"]):
        data = json.loads(row["entry"])
        for key in ("published_at", "updated_at"):
            data[key] = datetime.fromisoformat(data[key]) if data[key] else None
        for key in ("authors", "categories", "tags"):
            data[key] = tuple(data[key])
        yield FeedEntry(**data)


def delete_file(root: str, file: str) -> None:
    fsys, _ = filesystem(root)
    fsys.delete_file(file)


def seen_root(state_path: str) -> str:
    return f"{state_path.rstrip('/')}/seen"


def articles_root(output_path: str) -> str:
    return f"{output_path.rstrip('/')}/articles"


def rejects_root(output_path: str) -> str:
    return f"{output_path.rstrip('/')}/rejects"


def seen_row(kind: str, key: str, run_id: str) -> dict:
    return {"kind": kind, "key": key, "run_id": run_id, "bucket": bucket_of(key)}


def read_seen_bucket(state_path: str, bucket: int) -> dict[str, set[str]]:
    """kind -> keys of one bucket, everything earlier runs recorded."""
    root = seen_root(state_path)
    keys: defaultdict[str, set[str]] = defaultdict(set)
    for file in dataset_files(f"{root}/bucket={bucket}"):
        for row in read_columns(root, file, ["kind", "key"]):
            keys[row["kind"]].add(row["key"])
    return keys


def write_seen(state_path: str, rows: Iterable[dict], tag: str) -> None:
    by_bucket: defaultdict[int, list[dict]] = defaultdict(list)
    for row in rows:
        by_bucket[row["bucket"]].append(row)
    schema = pa.schema([f for f in SEEN_SCHEMA if f.name != "bucket"])
    for bucket, part in by_bucket.items():
        write_atomically(seen_root(state_path), f"bucket={bucket}", schema,
                         [pa.Table.from_pylist(part, schema=schema)], tag)


def rebuild_seen(output_path: str, state_path: str, run_id: str) -> int:
    """Seen keys from the articles dataset, when the seen store is empty but articles exist (state
    lost or moved); returns the number of keys written."""
    if dataset_files(seen_root(state_path)):
        return 0
    root, rows = articles_root(output_path), []
    for file in dataset_files(root):
        for row in read_columns(root, file, ["article_id", "content_hash"]):
            rows.append(seen_row(URL, row["article_id"], run_id))
            if row.get("content_hash"):
                rows.append(seen_row(CONTENT, row["content_hash"], run_id))
    write_seen(state_path, rows, f"rebuilt-{run_id}")
    return len(rows)


def compact_seen(state_path: str, run_id: str, max_files: int = 8) -> None:
    """Past `max_files` files in a bucket folder, rewrite it as one file (each run adds one per bucket)."""
    root = seen_root(state_path)
    fsys, _ = filesystem(root)
    for bucket in range(BUCKETS):
        files = dataset_files(f"{root}/bucket={bucket}")
        if len(files) <= max_files:
            continue
        keys = read_seen_bucket(state_path, bucket)
        write_seen(state_path, (seen_row(kind, key, run_id) for kind, ks in keys.items() for key in ks),
                    f"compacted-{run_id}")
        for file in files:
            fsys.delete_file(file)
