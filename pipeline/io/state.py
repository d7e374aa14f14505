"""What earlier runs already hold: the keys that cross-run deduplication checks against.

Two places are read: the articles dataset itself (its `article_id` and `content_hash` columns,
the source of truth for what was written) and `<state>/seen/`, which adds the link keys of
entries whose URL differs from their canonical URL, and of exact duplicates that were dropped,
so their pages are not fetched again. Losing `<state>` costs refetches, never duplicate rows.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from datetime import date

import pyarrow as pa

from pipeline.io.parquet import dataset_files, filesystem, read_columns, write_atomically
from pipeline.records import utc_now
from pipeline.schedule import FeedState

URL, CONTENT = "url", "content"

SEEN_SCHEMA = pa.schema([
    pa.field("key", pa.string(), nullable=False),
    pa.field("kind", pa.string(), nullable=False),
    pa.field("run_id", pa.string(), nullable=False),
])


FEED_STATE_SCHEMA = pa.schema([
    pa.field("feed_url", pa.string(), nullable=False),
    pa.field("updated_at", pa.timestamp("us", tz="UTC"), nullable=False),
    pa.field("state", pa.string(), nullable=False),  # FeedState.to_dict() as JSON: evolves freely
    pa.field("run_id", pa.string(), nullable=False),
])


def feeds_root(state_path: str) -> str:
    return f"{state_path.rstrip('/')}/feeds"


def feed_state_row(feed: FeedState, run_id: str) -> dict:
    updated = feed.last_polled_at or utc_now()
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


def seen_root(state_path: str) -> str:
    return f"{state_path.rstrip('/')}/seen"


def articles_root(output_path: str) -> str:
    return f"{output_path.rstrip('/')}/articles"


def rejects_root(output_path: str) -> str:
    return f"{output_path.rstrip('/')}/rejects"


def list_key_files(output_path: str, state_path: str) -> Iterator[tuple[str, str]]:
    """(root, file) pairs to read keys from; each file can then be read by a different worker."""
    for root in (articles_root(output_path), seen_root(state_path)):
        for file in dataset_files(root):
            yield root, file


def read_keys(root: str, file: str) -> Iterator[tuple[str, str]]:
    """(kind, key) pairs from one articles or seen-state file."""
    for row in read_columns(root, file, ["article_id", "content_hash", "key", "kind"]):
        if "key" in row:
            yield row["kind"], row["key"]
            continue
        yield URL, row["article_id"]
        if row.get("content_hash"):
            yield CONTENT, row["content_hash"]
