"""Atomic, never-overwriting Parquet writes into Hive-style folders, on any pyarrow file system.

    >>> write_partition("out/articles", {"ingest_date": "2026-11-29", "language": "ar"},
    ...                 table, run_id="r1")                    # doctest: +SKIP
    'out/articles/ingest_date=2026-11-29/language=ar/part-r1-5f0c....parquet'

A file is written under a dot-prefixed `.tmp` name that no reader globs (`*.parquet`) or lists
(pyarrow skips dot files), then renamed: readers see whole files or nothing, and a unique name per
write means a rerun never replaces earlier data.
"""

from __future__ import annotations

import os
import time
import uuid
from collections.abc import Iterable, Iterator, Mapping, Sequence
from pathlib import Path
from urllib.parse import unquote

import pyarrow as pa
import pyarrow.parquet as pq
from pyarrow import fs as pafs


def articles_root(output_path: str) -> str:
    return f"{output_path.rstrip('/')}/articles"


def rejects_root(output_path: str) -> str:
    return f"{output_path.rstrip('/')}/rejects"


def is_dataset(root: str) -> bool:
    """A dataset root that exists (remote URIs are taken on trust: listing them costs requests)."""
    return ("://" in root and not root.startswith("file://")) or Path(root.removeprefix("file://")).is_dir()


def absolute(path: str) -> str:
    """Local paths made absolute, so workers in other processes or folders write the same place."""
    return path if "://" in path else os.path.abspath(path)


def filesystem(path: str) -> tuple[pafs.FileSystem, str]:
    """A pyarrow file system and the path inside it, for local paths and URIs (s3://, gs://)."""
    if "://" in path:
        return pafs.FileSystem.from_uri(path)
    return pafs.LocalFileSystem(), absolute(path)


def ensure_writable(root: str) -> None:
    """Fail before a run starts, with an OSError naming `root`, rather than deep inside a worker."""
    fsys, base = filesystem(root)
    probe = f"{base}/.news-ingest-probe-{uuid.uuid4().hex[:8]}"
    try:
        fsys.create_dir(base, recursive=True)
        with fsys.open_output_stream(probe) as out:
            out.write(b"ok")
        fsys.delete_file(probe)
    except OSError as err:
        raise OSError(f"cannot write to {root}: {err}") from None


# Exactly the characters Hive and Spark escape in partition folder names (Spark's
# ExternalCatalogUtils.charToEscape). Everything else, Arabic letters included, stays raw UTF-8:
# Spark unescapes `%XX` one byte to one character, so percent-encoded UTF-8 read back garbled
# (`Ø§Ù...`) there, while DuckDB, Polars and pyarrow decode both forms.
_HIVE_ESCAPED = frozenset('"#%\'*/:=?\\\x7f{[]^') | {chr(c) for c in range(1, 32)}


def hive_escape(value: str) -> str:
    return "".join(f"%{ord(c):02X}" if c in _HIVE_ESCAPED else c for c in value)


def hive_unescape(segment: str) -> str:
    """The value of a folder name `hive_escape` wrote (or an earlier version's percent-encoding)."""
    return unquote(segment)


def partition_dir(values: Mapping[str, str]) -> str:
    return "/".join(f"{k}={hive_escape(str(v))}" for k, v in values.items())


def write_partition(root: str, partition: Mapping[str, str], table: pa.Table, run_id: str,
                    compression: str = "zstd") -> str:
    return write_atomically(root, partition_dir(partition), table.schema, [table], run_id, compression)[0]


def write_atomically(root: str, partition: str, schema: pa.Schema, tables: Iterable[pa.Table], tag: str,
                     compression: str = "zstd") -> tuple[str, int]:
    """Stream `tables` into one new file `<root>/<partition>/part-<tag>-<uuid>.parquet`.

    Returns the committed path and its row count."""
    fsys, base = filesystem(root)
    folder = f"{base}/{partition}" if partition else base
    fsys.create_dir(folder, recursive=True)
    name = f"part-{tag}-{uuid.uuid4().hex[:12]}.parquet"
    tmp = f"{folder}/.{name}.tmp"
    rows = 0
    with pq.ParquetWriter(tmp, schema, filesystem=fsys,
                          compression=None if compression == "none" else compression) as writer:
        for table in tables:
            writer.write_table(table)
            rows += table.num_rows
    fsys.move(tmp, f"{folder}/{name}")
    return f"{folder}/{name}", rows


TEMP_MAX_AGE_S = 86_400.0  # a write in progress never takes a day: older temp files are debris


def remove_stale_temps(root: str, max_age_s: float = TEMP_MAX_AGE_S) -> list[str]:
    """Delete the `.part-*.parquet.tmp` files a crashed write left below `root`, if older than
    `max_age_s` (younger ones may belong to a run in progress); returns their paths."""
    fsys, base = filesystem(root)
    if fsys.get_file_info(base).type == pafs.FileType.NotFound:
        return []
    cutoff = time.time() - max_age_s
    stale = [f.path for f in fsys.get_file_info(pafs.FileSelector(base, recursive=True))
             if f.type == pafs.FileType.File and f.base_name.startswith(".part-")
             and f.base_name.endswith(".parquet.tmp") and f.mtime is not None and f.mtime.timestamp() < cutoff]
    for path in stale:
        fsys.delete_file(path)
    return stale


def verify_file(root: str, file: str) -> str | None:
    """None when `file` reads whole (footer and every page decoded), else why not."""
    fsys, _ = filesystem(root)
    try:
        with fsys.open_input_file(file) as handle:
            for _ in pq.ParquetFile(handle).iter_batches(batch_size=65536):
                pass
    except (OSError, ValueError, pa.ArrowException) as err:
        return f"{type(err).__name__}: {err}"
    return None


def move_aside(root: str, file: str, to_root: str) -> str:
    """Move `file` (below `root`) to the same relative place below `to_root`; returns the new path."""
    fsys, base = filesystem(root)
    _, target_base = filesystem(to_root)
    relative = file[len(base):].lstrip("/") if file.startswith(base) else os.path.basename(file)
    target = f"{target_base}/{relative}"
    fsys.create_dir(target.rsplit("/", 1)[0], recursive=True)
    fsys.move(file, target)
    return target


def dataset_files(root: str) -> list[str]:
    """Committed Parquet files below `root` (temporary and hidden files excluded); [] if absent."""
    fsys, base = filesystem(root)
    info = fsys.get_file_info(base)
    if info.type == pafs.FileType.NotFound:
        return []
    selector = pafs.FileSelector(base, recursive=True)
    return sorted(
        f.path for f in fsys.get_file_info(selector)
        if f.type == pafs.FileType.File and f.base_name.endswith(".parquet")
        and not any(part.startswith((".", "_")) for part in f.path[len(base):].split("/"))  # _delta_log/
    )


def read_columns(root: str, file: str, columns: Sequence[str]) -> Iterator[dict[str, object]]:
    """Stream some columns of one file listed by `dataset_files(root)`, batch by batch."""
    fsys, _ = filesystem(root)
    with fsys.open_input_file(file) as handle:
        reader = pq.ParquetFile(handle)
        present = [c for c in columns if c in reader.schema_arrow.names]
        for batch in reader.iter_batches(columns=present, batch_size=65536):
            yield from batch.to_pylist()
