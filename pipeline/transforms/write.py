"""WriteParquet: rows buffered per (window, partition) and written as whole files when a bundle ends.

Beam's own Parquet sinks were measured to overwrite earlier runs (`WriteToParquet`) or to lose
files in sub-folders (`fileio.WriteToFiles`); ARCHITECTURE.md has the measurements. Each file here is
atomic and uniquely named (`pipeline.io.parquet`). A bundle that a distributed runner retries can
write its file twice: readers that need exactly-once rows dedupe on `article_id` (or run
`news-ingest compact`, which does).

With `exclusive=` (the articles), each file is made visible under the state folder's commit claim,
without the rows another run on the same state committed meanwhile (`state.ExclusiveCommit`).

The output is the committed file paths, in the rows' windows. A write that must not land before
another (state that says "done") passes that write's output as `after=`: its rows then go through a
keyed join with those paths, which a runner fires only once the window's paths are complete.
(A side input would say the same, but the direct runner's streaming mode fails on side inputs
of a windowed DoFn that outputs from `finish_bundle`.)
"""

from __future__ import annotations

import dataclasses
import zlib
from collections import defaultdict
from typing import Any

import apache_beam as beam
import pyarrow as pa
from apache_beam.utils.windowed_value import WindowedValue

from pipeline.io import delta, state
from pipeline.io.parquet import write_partition
from pipeline.transforms.names import counter as declared_counter

_MAX_BUFFERED_ROWS = 20_000
_BARRIER_KEYS = 16  # spreads the released rows over workers


class _WriteFn(beam.DoFn):
    def __init__(self, root: str, schema: pa.Schema, partition_by: tuple[str, ...], run_id: str,
                 compression: str, counter: str, table_format: str = "parquet",
                 exclusive: state.ExclusiveCommit | None = None):
        self.root, self.schema, self.partition_by = root, schema, partition_by
        self.exclusive = exclusive
        self.run_id, self.compression, self.table_format = run_id, compression, table_format
        # Delta keeps partition values in its log and wants them in the table it appends
        self.file_schema = schema if table_format == "delta" else pa.schema(
            [f for f in schema if f.name not in partition_by])
        self.rows_written = declared_counter(counter)
        self.files_written = declared_counter("files_written")
        self.elsewhere = declared_counter("committed_by_another_run")

    def start_bundle(self) -> None:
        self.buffers: defaultdict[tuple, list[dict]] = defaultdict(list)

    def process(self, row: dict, window=beam.DoFn.WindowParam):
        key = (window, *(str(row[c]) for c in self.partition_by))
        self.buffers[key].append(row)
        if len(self.buffers[key]) >= _MAX_BUFFERED_ROWS and (path := self._flush(key)):
            yield path

    def finish_bundle(self):
        for key in list(self.buffers):
            window = key[0]
            if path := self._flush(key):
                yield WindowedValue(path, window.max_timestamp(), [window])

    def _flush(self, key: tuple) -> str | None:
        """The committed file's path; None when another run had committed every row."""
        rows = self.buffers.pop(key)
        if self.table_format == "delta":
            self.rows_written.inc(len(rows))
            return delta.append(self.root, pa.Table.from_pylist(rows, schema=self.file_schema),
                                self.partition_by, self.compression)
        if self.exclusive is None:
            return self._write(key, rows)
        with self.exclusive.new_rows(rows) as new:
            self.elsewhere.inc(len(rows) - len(new))
            return self._write(key, new) if new else None

    def _write(self, key: tuple, rows: list[dict]) -> str:
        path = write_partition(self.root, dict(zip(self.partition_by, key[1:], strict=True)),
                               pa.Table.from_pylist(rows, schema=self.file_schema), self.run_id, self.compression)
        self.rows_written.inc(len(rows))
        self.files_written.inc()
        return path


class WriteParquet(beam.PTransform):
    """Records (dataclasses or dicts) to a Hive-partitioned Parquet dataset under `root`."""

    def __init__(self, root: str, schema: pa.Schema, partition_by: tuple[str, ...], run_id: str,
                 compression: str = "zstd", *, counter: str, after: beam.PCollection | None = None,
                 table_format: str = "parquet", exclusive: state.ExclusiveCommit | None = None):
        super().__init__()
        self.fn = _WriteFn(root, schema, partition_by, run_id, compression, counter, table_format, exclusive)
        self.after = after

    def expand(self, records: beam.PCollection) -> beam.PCollection:
        rows = records | "ToRow" >> beam.Map(lambda r: r if isinstance(r, dict) else dataclasses.asdict(r))
        if self.after is not None:
            rows = rows | "AfterCommit" >> After(self.after)
        return rows | "Write" >> beam.ParDo(self.fn)


class After(beam.PTransform):
    """The items, released per window only once `done` is complete for that window."""

    def __init__(self, done: beam.PCollection):
        super().__init__()
        self.done = done

    def expand(self, items: beam.PCollection) -> beam.PCollection:
        keyed = items | "Spread" >> beam.Map(lambda r: (zlib.crc32(repr(r).encode()) % _BARRIER_KEYS, r)
                                             ).with_output_types(tuple[int, Any])
        done = self.done | "ToEveryKey" >> beam.FlatMap(lambda path: ((k, path) for k in range(_BARRIER_KEYS))
                                                        ).with_output_types(tuple[int, str])
        return ({"rows": keyed, "done": done} | "Barrier" >> beam.CoGroupByKey()
                | "Release" >> beam.FlatMap(lambda kv: kv[1]["rows"]))
