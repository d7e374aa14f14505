"""`output.format: delta`: the articles and rejects datasets as Delta Lake tables (delta-rs).

Each buffer `WriteParquet` flushes becomes one append commit; delta-rs commits appends with
optimistic concurrency, so bundles on several workers do not overwrite each other. Readers go
through the transaction log (`DeltaTable`), never a folder listing, and partition columns have
their declared types in the log (`ingest_date` a DATE). Compaction is Delta's own `optimize`; a
Delta table cannot be re-partitioned in place, so `migrate` refuses one.
"""

from __future__ import annotations

import pyarrow as pa
import pyarrow.dataset as ds
from pyarrow import fs as pafs

from pipeline.io.parquet import filesystem
from pipeline.schema import PARTITION_TYPES

LOG = "_delta_log"


def is_delta(root: str) -> bool:
    fsys, base = filesystem(root)
    return fsys.get_file_info(f"{base}/{LOG}").type == pafs.FileType.Directory


def _typed(table: pa.Table, partition_by: tuple[str, ...]) -> pa.Table:
    for name in partition_by:
        i = table.schema.get_field_index(name)
        table = table.set_column(i, name, table.column(name).cast(PARTITION_TYPES.get(name, pa.string())))
    return table


def append(root: str, table: pa.Table, partition_by: tuple[str, ...], compression: str = "zstd") -> str:
    """One append commit of `table` (partition columns included); returns `<root>@v<version>`."""
    from deltalake import DeltaTable, WriterProperties, write_deltalake

    codec = "UNCOMPRESSED" if compression == "none" else compression.upper()
    write_deltalake(_uri(root), _typed(table, partition_by), mode="append", partition_by=list(partition_by),
                    writer_properties=WriterProperties(compression=codec))
    return f"{root}@v{DeltaTable(_uri(root)).version()}"


def dataset(root: str) -> ds.Dataset:
    from deltalake import DeltaTable

    return DeltaTable(_uri(root)).to_pyarrow_dataset()


def optimize(root: str) -> dict:
    """Delta's compaction: small files rewritten into larger ones, recorded in the log."""
    from deltalake import DeltaTable

    return DeltaTable(_uri(root)).optimize.compact()


def _uri(root: str) -> str:
    return root if "://" in root else filesystem(root)[1]
