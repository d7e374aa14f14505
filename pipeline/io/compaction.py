"""`news-ingest compact`: a partition's small files merged into one, repeated rows dropped (by key:
for articles `(article_id, version)`, so every version of an article is kept).

Safe beside a running job: only files older than `min_age_s` (longer than any open window) are
touched, and files appear and disappear whole. The merged file is committed (renamed into place)
before its inputs are deleted, so a row is never lost; for the instant between the two, or if the
process dies there, a reader can see a row twice, and the next compaction removes the repeat.
Memory holds one input file at a time plus the keys of the partition.
"""

from __future__ import annotations

import time
from collections.abc import Iterator, Mapping
from dataclasses import dataclass

import pyarrow as pa
import pyarrow.parquet as pq
from pyarrow import fs as pafs

from pipeline.io.parquet import dataset_files, filesystem, hive_unescape, write_atomically


@dataclass(frozen=True)
class Compacted:
    partition: str
    files_in: int
    rows_in: int
    rows_out: int


def partition_of(base: str, file: str) -> str:
    relative = file[len(base):].strip("/")
    return relative.rsplit("/", 1)[0] if "/" in relative else ""


def _matches(partition: str, wanted: Mapping[str, str]) -> bool:
    values = dict(part.split("=", 1) for part in partition.split("/") if "=" in part)
    return all(hive_unescape(values.get(k, "")) == v for k, v in wanted.items())


def _keep_masks(fsys: pafs.FileSystem, files: list[str], key: tuple[str, ...]) -> list[pa.Array]:
    """Per file, the rows to keep: for each key its earliest-fetched row (then the earliest file).
    A key column a file lacks (written before the column existed) reads as null."""
    best: dict[tuple, tuple] = {}
    sizes = []
    for i, file in enumerate(files):
        names = pq.read_schema(file, filesystem=fsys).names
        table = pq.read_table(file, filesystem=fsys, columns=[c for c in (*key, "fetched_at") if c in names])
        sizes.append(table.num_rows)
        keys = zip(*(table.column(c).to_pylist() if c in names else [None] * table.num_rows for c in key),
                   strict=True)
        for j, (row_key, at) in enumerate(zip(keys, table.column("fetched_at").to_pylist(), strict=True)):
            rank = (at is None, at or 0, i, j)
            if row_key not in best or rank < best[row_key]:
                best[row_key] = rank
    kept = {(rank[2], rank[3]) for rank in best.values()}
    return [pa.array([(i, j) in kept for j in range(n)]) for i, n in enumerate(sizes)]


def conform(table: pa.Table, schema: pa.Schema) -> pa.Table:
    """Files written before a column was added read as nulls in it."""
    columns = [table.column(f.name) if f.name in table.column_names else pa.nulls(len(table), f.type)
               for f in schema]
    return pa.Table.from_arrays(columns, schema=schema)


def compact_partition(root: str, partition: str, files: list[str], key: tuple[str, ...] | None, tag: str,
                      compression: str = "zstd") -> Compacted:
    fsys, _ = filesystem(root)
    schema = pa.unify_schemas([pq.read_schema(f, filesystem=fsys) for f in files])
    masks = _keep_masks(fsys, files, key) if key else [None] * len(files)
    rows_in = 0

    def tables() -> Iterator[pa.Table]:
        nonlocal rows_in
        for file, mask in zip(files, masks, strict=True):
            table = conform(pq.read_table(file, filesystem=fsys), schema)
            rows_in += table.num_rows
            yield table if mask is None else table.filter(mask)

    _, rows_out = write_atomically(root, partition, schema, tables(), tag, compression)
    for file in files:
        fsys.delete_file(file)
    return Compacted(partition, len(files), rows_in, rows_out)


def compact(root: str, key: tuple[str, ...] | None, tag: str, partitions: Mapping[str, str] | None = None,
            min_age_s: float = 600.0, compression: str = "zstd") -> list[Compacted]:
    """Compact every partition of the dataset at `root` that has two or more files old enough."""
    fsys, base = filesystem(root)
    cutoff = time.time() - min_age_s
    by_partition: dict[str, list[str]] = {}
    for info in fsys.get_file_info(dataset_files(root)):
        if info.mtime is None or info.mtime.timestamp() < cutoff:
            by_partition.setdefault(partition_of(base, info.path), []).append(info.path)
    return [compact_partition(root, partition, files, key, tag, compression)
            for partition, files in sorted(by_partition.items())
            if len(files) > 1 and not (partitions and not _matches(partition, partitions))]
