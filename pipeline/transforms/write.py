"""WriteParquet: rows buffered per (window, partition) and written as whole files when a bundle ends.

Beam's own Parquet sinks were measured to overwrite earlier runs (`WriteToParquet`) or to lose
files in sub-folders (`fileio.WriteToFiles`); ARCHITECTURE.md has the measurements. Each file here is
atomic and uniquely named (`pipeline.io.parquet`). A bundle that a distributed runner retries can
write its file twice: readers that need exactly-once rows dedupe on `article_id` (or run
`news-ingest compact`, which does). A Delta table (`table_format="delta"`) takes the window's files
in one commit once they are all written (`CommitDelta`): only the files of the bundle attempts the
runner kept reach it, and a retried commit is recognised by its transaction version.

With `exclusive=` (the articles), each file is made visible under the state folder's commit claim,
without the rows another run on the same state committed meanwhile (`state.ExclusiveCommit`).

The output is the committed file paths, in the rows' windows. Rows that must not land before
another write (state that says "done") go through `After` that write's output first: a keyed join
with those paths, which a runner fires only once the window's paths are complete. (A side input
would say the same, but the direct runner's streaming mode fails on side inputs of a windowed DoFn
that outputs from `finish_bundle`.)
"""

from __future__ import annotations

import zlib
from collections import defaultdict
from collections.abc import Iterable
from typing import Any

import apache_beam as beam
import pyarrow as pa
from apache_beam.transforms.window import GlobalWindow
from apache_beam.utils.windowed_value import WindowedValue

from pipeline.io import delta, state
from pipeline.io.parquet import write_partition
from pipeline.records import as_row
from pipeline.transforms.names import counter as declared_counter

_MAX_BUFFERED_ROWS = 20_000
_BARRIER_KEYS = 16  # spreads the released rows over workers
_CHUNK_ITEMS = 1_000


class _WriteFn(beam.DoFn):
    def __init__(self, root: str, schema: pa.Schema, partition_by: tuple[str, ...], run_id: str,
                 compression: str, counter: str, table_format: str = "parquet",
                 exclusive: state.ExclusiveCommit | None = None):
        self.root, self.schema, self.partition_by = root, schema, partition_by
        self.exclusive = exclusive
        self.run_id, self.compression, self.table_format = run_id, compression, table_format
        self.file_schema = pa.schema([f for f in schema if f.name not in partition_by])
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

    def _flush(self, key: tuple) -> str | dict | None:
        """The written file (for Delta, what its commit needs); None when another run had
        committed every row."""
        rows = self.buffers.pop(key)
        if self.exclusive is None:
            return self._write(key, rows)
        with self.exclusive.new_rows(rows) as new:
            self.elsewhere.inc(len(rows) - len(new))
            return self._write(key, new) if new else None

    def _write(self, key: tuple, rows: list[dict]) -> str | dict:
        table = pa.Table.from_pylist(rows, schema=self.file_schema)
        write = delta.write_file if self.table_format == "delta" else write_partition
        path = write(self.root, dict(zip(self.partition_by, key[1:], strict=True)), table, self.run_id,
                     self.compression)
        self.rows_written.inc(len(rows))
        self.files_written.inc()
        return path


class _CommitDeltaFn(beam.DoFn):
    """All files of one window in one Delta commit; yields their paths once committed.

    The transaction version is `first_version` for a batch run (the global window) and grows with
    the windows of a streaming job: `first_version` plus the window's index since the epoch, so it
    is the same when a runner retries the commit and larger for every later window and run."""

    def __init__(self, root: str, schema: pa.Schema, partition_by: tuple[str, ...], first_version: int):
        self.root, self.schema, self.partition_by, self.first_version = root, schema, partition_by, first_version

    def process(self, element: tuple[int, Iterable[dict]], window=beam.DoFn.WindowParam):
        files = list(element[1])
        version = self.first_version
        if not isinstance(window, GlobalWindow):
            version += window.start.micros // (window.end - window.start).micros
        delta.commit(self.root, files, self.schema, self.partition_by, version)
        base = self.root.rstrip("/")
        yield from (f"{base}/{f['path']}" for f in files)


class CommitDelta(beam.PTransform):
    """The data files `WriteParquet` wrote, committed to the Delta table per window."""

    def __init__(self, root: str, schema: pa.Schema, partition_by: tuple[str, ...]):
        super().__init__()
        self.fn = _CommitDeltaFn(root, schema, partition_by, delta.next_version(root))

    def expand(self, files: beam.PCollection) -> beam.PCollection:
        return (files | "OneKey" >> beam.Map(lambda f: (0, f)).with_output_types(tuple[int, Any])
                | "PerWindow" >> beam.GroupByKey() | "Commit" >> beam.ParDo(self.fn))


class WriteParquet(beam.PTransform):
    """Records (dataclasses or dicts) to a Hive-partitioned Parquet dataset (or Delta table) under `root`."""

    def __init__(self, root: str, schema: pa.Schema, partition_by: tuple[str, ...], run_id: str,
                 compression: str = "zstd", *, counter: str, table_format: str = "parquet",
                 exclusive: state.ExclusiveCommit | None = None):
        super().__init__()
        self.fn = _WriteFn(root, schema, partition_by, run_id, compression, counter, table_format, exclusive)
        self.commit = CommitDelta(root, schema, partition_by) if table_format == "delta" else None

    def expand(self, records: beam.PCollection) -> beam.PCollection:
        rows = records | "ToRow" >> beam.Map(lambda r: r if isinstance(r, dict) else as_row(r))
        written = rows | "Write" >> beam.ParDo(self.fn)
        return written | "CommitDelta" >> self.commit if self.commit else written


class _Chunks(beam.DoFn):
    """A bundle's items in lists of at most `_CHUNK_ITEMS` per window, each keyed for the barrier:
    through the join they are one element per list, not per item."""

    def start_bundle(self) -> None:
        self.chunks: defaultdict[Any, list] = defaultdict(list)

    def process(self, item: Any, window=beam.DoFn.WindowParam):
        chunk = self.chunks[window]
        chunk.append(item)
        if len(chunk) >= _CHUNK_ITEMS:
            yield self._keyed(self.chunks.pop(window))

    def finish_bundle(self):
        for window, chunk in self.chunks.items():
            yield WindowedValue(self._keyed(chunk), window.max_timestamp(), [window])

    @staticmethod
    def _keyed(chunk: list) -> tuple[int, list]:
        return zlib.crc32(repr(chunk[0]).encode()) % _BARRIER_KEYS, chunk


class _Release(beam.DoFn):
    """A barrier key's chunks, item by item, each on the output of the input it came from."""

    def __init__(self, inputs: int):
        self.inputs = inputs

    def process(self, element: tuple[int, dict]):
        for i in range(self.inputs):
            for chunk in element[1][f"items{i}"]:
                for item in chunk:
                    yield beam.pvalue.TaggedOutput(f"items{i}", item)


class After(beam.PTransform):
    """The items, released per window only once `done` is complete for that window. Several
    PCollections (a tuple) pass one barrier together and come out as a tuple: on the local runner
    each barrier is a join, stages of its own."""

    def __init__(self, done: beam.PCollection):
        super().__init__()
        self.done = done

    def expand(self, items: beam.PCollection | tuple[beam.PCollection, ...]):
        inputs = items if isinstance(items, tuple) else (items,)
        joined = {f"items{i}": rows | f"Chunks{i}" >> beam.ParDo(_Chunks()).with_output_types(tuple[int, list])
                  for i, rows in enumerate(inputs)}
        joined["done"] = self.done | "ToEveryKey" >> beam.FlatMap(
            lambda path: ((k, path) for k in range(_BARRIER_KEYS))).with_output_types(tuple[int, str])
        tags = [f"items{i}" for i in range(len(inputs))]
        released = (joined | "Barrier" >> beam.CoGroupByKey()
                    | "Release" >> beam.ParDo(_Release(len(inputs))).with_outputs(*tags))
        outputs = tuple(released[tag] for tag in tags)
        return outputs if isinstance(items, tuple) else outputs[0]
