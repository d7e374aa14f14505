"""`news-ingest migrate`: a dataset rewritten into another partition layout, one old partition at a
time, every row kept.

Per old partition: its rows (partition values put back as columns) are split by the new partition
columns and written as new files (`write_atomically`), then the old files are deleted; the
descriptor is updated last. A crash in between leaves rows twice (old and new folder), never none:
running `migrate` again finishes the move (new-layout files are left alone) and `compact` removes the
repeats. Folders named by earlier versions' percent-encoding are renamed too, also when the layout
stays the same (`--partition-by` as now). Stop writers first: a run with the old layout refuses to
start once the descriptor moves on, but one already running writes old-layout files.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, replace

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
from pyarrow import fs as pafs

from pipeline.io.compaction import conform, partition_of
from pipeline.io.layout import Layout, found_layout, partition_keys, read_layout, write_layout
from pipeline.io.parquet import dataset_files, filesystem, hive_unescape, partition_dir, write_atomically


@dataclass(frozen=True)
class Migrated:
    partition: str
    files_in: int
    rows: int
    files_out: int


def _values(partition: str) -> dict[str, str]:
    return {k: hive_unescape(v) for k, v in (seg.split("=", 1) for seg in partition.split("/") if "=" in seg)}


def _full_table(fsys: pafs.FileSystem, files: list[str], values: dict[str, str]) -> pa.Table:
    """The partition's rows with its folder values as string columns, over the union of file schemas."""
    schema = pa.unify_schemas([pq.read_schema(f, filesystem=fsys) for f in files])
    tables = [conform(pq.read_table(f, filesystem=fsys), schema) for f in files]
    table = pa.concat_tables(tables)
    for name, value in values.items():
        if name not in table.column_names:
            table = table.append_column(name, pa.array([value] * table.num_rows, pa.string()))
    return table


def _split(table: pa.Table, partition_by: tuple[str, ...]) -> Iterator[tuple[dict[str, str], pa.Table]]:
    keys = table.select(list(partition_by)).group_by(list(partition_by)).aggregate([]).to_pylist()
    rest = [n for n in table.column_names if n not in partition_by]
    for key in keys:
        mask = None
        for name, value in key.items():
            cond = pc.equal(table.column(name), pa.scalar(value, table.schema.field(name).type))
            mask = cond if mask is None else pc.and_(mask, cond)
        yield {k: str(v) for k, v in key.items()}, table.filter(mask).select(rest)


def migrate(root: str, partition_by: tuple[str, ...], tag: str, compression: str | None = None) -> list[Migrated]:
    """Rewrite the dataset at `root` partitioned by `partition_by`; update its descriptor."""
    fsys, base = filesystem(root)
    layout = read_layout(root) or Layout(root.rstrip("/").rsplit("/", 1)[-1], found_layout(root) or (), "zstd")
    compression = compression or layout.compression
    by_partition: dict[str, list[str]] = {}
    for file in dataset_files(root):
        partition = partition_of(base, file)
        # another layout, or folders named by the earlier %-encoding (which Spark reads garbled)
        if partition_keys(root, file) != tuple(partition_by) or partition_dir(_values(partition)) != partition:
            by_partition.setdefault(partition, []).append(file)
    done = []
    for partition, files in sorted(by_partition.items()):
        table = _full_table(fsys, files, _values(partition))
        written = [write_atomically(root, partition_dir(values), part.schema, [part], tag, compression)
                   for values, part in _split(table, partition_by)]
        if sum(rows for _, rows in written) != table.num_rows:  # never delete what was not rewritten
            raise OSError(f"{root}/{partition}: rewrote {sum(r for _, r in written)} of {table.num_rows} rows")
        for file in files:
            fsys.delete_file(file)
        _remove_empty_folders(fsys, f"{base}/{partition}", base)
        done.append(Migrated(partition, len(files), table.num_rows, len(written)))
    write_layout(root, replace(layout, partition_by=tuple(partition_by), compression=compression,
                               path_escaping="hive"))
    return done


def _remove_empty_folders(fsys: pafs.FileSystem, folder: str, base: str) -> None:
    while folder.rstrip("/") != base.rstrip("/"):
        if fsys.get_file_info(pafs.FileSelector(folder, allow_not_found=True)):
            return
        fsys.delete_dir(folder)
        folder = folder.rsplit("/", 1)[0]
