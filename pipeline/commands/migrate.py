"""`news-ingest migrate`: the articles dataset rewritten into another partition layout."""

from __future__ import annotations

from collections.abc import Iterator
from typing import get_args

from pipeline.config import ConfigError, OutputConfig
from pipeline.io.delta import is_delta
from pipeline.io.migration import migrate
from pipeline.io.parquet import articles_root
from pipeline.run import new_run_id


def partition_columns(text: str) -> tuple[str, ...]:
    allowed = get_args(get_args(OutputConfig.model_fields["partition_by"].annotation)[0])
    columns = tuple(c.strip() for c in text.split(",") if c.strip())
    bad = [c for c in columns if c not in allowed]
    if not columns or bad or len(set(columns)) != len(columns):
        raise ConfigError(f"--partition-by: {text!r}: give distinct columns from {', '.join(allowed)}")
    return columns


def migrate_output(output: str, partition_by: str) -> Iterator[str]:
    """One line per old partition rewritten, then the new layout."""
    columns = partition_columns(partition_by)
    root = articles_root(output)
    if is_delta(root):
        raise ConfigError(f"{root} is a Delta table: its partitioning cannot be changed in place; "
                          "write a new table (e.g. DeltaTable(...).to_pyarrow_dataset() into write_deltalake)")
    for done in migrate(root, columns, new_run_id()):
        yield f"{root}/{done.partition}: {done.files_in} files, {done.rows} rows -> {done.files_out} files"
    yield f"{root} is now partitioned by {','.join(columns)}; set output.partition_by: [{', '.join(columns)}]"
