"""`pipeline.io.read.dataset(path)`: a pyarrow dataset of an output dataset with the right types.

pyarrow (and pandas through it) read Hive folder values as strings, or dictionaries when left to
infer, and take the first file's columns as the dataset's. This gives them the partition types from
the descriptor (`ingest_date` a DATE) and the package's full schema, so files written before a
column was added read with nulls in it (the additive evolution rule, `pipeline.schema`).

    >>> from pipeline.io.read import dataset                            # doctest: +SKIP
    >>> dataset("data/articles").to_table().to_pandas()
"""

from __future__ import annotations

import pyarrow as pa
import pyarrow.dataset as ds

from pipeline.io import delta
from pipeline.io.layout import found_layout, read_layout
from pipeline.io.parquet import filesystem
from pipeline.schema import ARTICLE_SCHEMA, REJECT_PARTITIONS, REJECT_SCHEMA, partition_schema


def partition_columns(path: str) -> tuple[str, ...]:
    layout = read_layout(path)
    return layout.partition_by if layout else (found_layout(path) or ())


def partitioning(path: str) -> ds.Partitioning:
    """What to pass as `partitioning=` to pyarrow or pandas for the dataset at `path`."""
    return ds.partitioning(partition_schema(partition_columns(path)), flavor="hive")


def schema(path: str) -> pa.Schema:
    """File columns of this version's schema, then the partition columns with their types."""
    columns = partition_columns(path)
    layout = read_layout(path)
    rejects = (layout.dataset == "rejects") if layout else columns == REJECT_PARTITIONS
    declared = REJECT_SCHEMA if rejects else ARTICLE_SCHEMA
    return pa.schema([f for f in declared if f.name not in columns] + list(partition_schema(columns)))


def dataset(path: str) -> ds.Dataset:
    if delta.is_delta(path):  # types come from the transaction log
        return delta.dataset(path)
    fsys, base = filesystem(path)
    return ds.dataset(base, filesystem=fsys, format="parquet", schema=schema(path),
                      partitioning=partitioning(path), exclude_invalid_files=False)
