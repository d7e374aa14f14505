"""What earlier runs already hold: the keys that cross-run deduplication checks against.

Two places are read: the articles dataset itself (its `article_id` and `content_hash` columns,
the source of truth for what was written) and `<state>/seen/`, which adds the link keys of
entries whose URL differs from their canonical URL, and of exact duplicates that were dropped,
so their pages are not fetched again. Losing `<state>` costs refetches, never duplicate rows.
"""

from __future__ import annotations

from collections.abc import Iterator

import pyarrow as pa

from pipeline.io.parquet import dataset_files, read_columns

URL, CONTENT = "url", "content"

SEEN_SCHEMA = pa.schema([
    pa.field("key", pa.string(), nullable=False),
    pa.field("kind", pa.string(), nullable=False),
    pa.field("run_id", pa.string(), nullable=False),
])


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
