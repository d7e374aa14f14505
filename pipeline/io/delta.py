"""`output.format: delta`: the articles and rejects datasets as Delta Lake tables (delta-rs).

Bundles write their data files as the Parquet output does (whole, uniquely named, in Hive
folders), and the files of one run, or of one streaming window, are committed to the log together
in one append commit carrying a transaction identifier (`txn`: the app id `news-ingest/<dataset>`
and a version that grows with every run and window). A commit whose version the table already
holds is a retry and adds nothing, so a retried bundle or commit never adds a row twice. A file
written but never committed (a killed run) is in no reader's view, the next run derives its rows
again, and it is deleted once a day old (`remove_uncommitted`). Readers go through the log
(`DeltaTable`), never a folder listing, and partition columns have their declared types there
(`ingest_date` a DATE). Compaction is Delta's own `optimize`; a Delta table cannot be re-partitioned
in place, so `migrate` refuses one.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Mapping, Sequence

import pyarrow as pa
import pyarrow.dataset as ds
from pyarrow import fs as pafs

from pipeline.io.parquet import TEMP_MAX_AGE_S, dataset_files, filesystem, partition_dir, write_atomically
from pipeline.schema import PARTITION_TYPES

LOG = "_delta_log"
_APP = "news-ingest"
_VERSION_KEY = "news_ingest.txn_version"  # also in the commit's metadata, for commits out of order

log = logging.getLogger(__name__)


def is_delta(root: str) -> bool:
    fsys, base = filesystem(root)
    return fsys.get_file_info(f"{base}/{LOG}").type == pafs.FileType.Directory


def app_id(root: str) -> str:
    """The writer's transaction id in this table: the same for every run of the pipeline on it."""
    return f"{_APP}/{root.rstrip('/').rsplit('/', 1)[-1]}"


def table_schema(schema: pa.Schema, partition_by: Sequence[str]) -> pa.Schema:
    """`schema` with the partition columns typed as readers should see them."""
    return pa.schema([pa.field(f.name, PARTITION_TYPES.get(f.name, pa.string())) if f.name in partition_by else f
                      for f in schema])


def prepare(root: str, schema: pa.Schema, partition_by: Sequence[str]) -> None:
    """Before a run: the table exists (an empty first version), and files a killed run wrote but
    never committed are deleted once older than a day (younger ones may be a running job's)."""
    from deltalake import DeltaTable

    wanted = table_schema(schema, partition_by)
    if not is_delta(root):
        DeltaTable.create(_uri(root), wanted, mode="ignore", partition_by=list(partition_by))
    else:
        _add_new_columns(DeltaTable(_uri(root)), wanted)
    for path in remove_uncommitted(root):
        log.info("removed a data file no Delta commit references: %s", path)


def _add_new_columns(table, wanted: pa.Schema) -> None:
    """Columns a later version of the schema added (nullable, as the evolution rule wants) join
    the table's schema in one commit: otherwise readers through the log would never see them."""
    from deltalake import Schema

    have = {f.name for f in table.schema().fields}
    missing = [f for f in wanted if f.name not in have]
    if missing:
        table.alter.add_columns(list(Schema.from_arrow(pa.schema(missing)).fields))
        log.info("added columns to the Delta table %s: %s", table.table_uri, ", ".join(f.name for f in missing))


def next_version(root: str) -> int:
    """The transaction version the next run (or the first window of a streaming job) commits with."""
    from deltalake import DeltaTable

    return (DeltaTable(_uri(root)).transaction_version(app_id(root)) or 0) + 1 if is_delta(root) else 1


def write_file(root: str, partition: Mapping[str, str], table: pa.Table, run_id: str,
               compression: str = "zstd") -> dict:
    """One data file (partition columns in its folder names only), not yet in the table: what
    `commit` needs to add it."""
    path, rows = write_atomically(root, partition_dir(partition), table.schema, [table], run_id, compression)
    fsys, base = filesystem(root)
    info = fsys.get_file_info(path)
    return {"path": path[len(base):].lstrip("/"), "size": info.size, "rows": rows,
            "modification_time": int(info.mtime.timestamp() * 1000) if info.mtime else int(time.time() * 1000),
            "partition_values": {k: str(v) for k, v in partition.items()}}


def commit(root: str, files: Sequence[dict], schema: pa.Schema, partition_by: Sequence[str], version: int) -> bool:
    """Add `files` (from `write_file`) to the table in one commit with transaction version
    `version`; False, and nothing added, when the table already holds that version (a retry).
    A version below the table's latest (a streaming window committed after a later one) is
    looked up in the history, and committed without moving the table's latest version back."""
    from deltalake import DeltaTable
    from deltalake.transaction import AddAction, CommitProperties, Transaction

    table, app = DeltaTable(_uri(root)), app_id(root)
    latest = table.transaction_version(app)
    transactions = [Transaction(app, version)]
    if latest is not None and latest >= version:
        if latest == version or _in_history(table, app, version):
            log.info("Delta commit %s version %d is already in %s: skipped", app, version, root)
            return False
        transactions = []
    adds = [AddAction(f["path"], f["size"], f["partition_values"], f["modification_time"], True,
                      json.dumps({"numRecords": f["rows"]})) for f in files]
    table.create_write_transaction(adds, "append", table_schema(schema, partition_by), list(partition_by),
                                   commit_properties=CommitProperties(
                                       custom_metadata={_APP + ".app_id": app, _VERSION_KEY: str(version)},
                                       app_transactions=transactions))
    return True


def _in_history(table, app: str, version: int) -> bool:
    return any(c.get(_APP + ".app_id") == app and c.get(_VERSION_KEY) == str(version) for c in table.history())


def committed_files(root: str) -> list[str]:
    """The data files a Delta reader of `root` sees (paths in `filesystem(root)`)."""
    from deltalake import DeltaTable

    uri, (_, base) = _uri(root), filesystem(root)
    return sorted(base + u[len(uri):] if u.startswith(uri) else u for u in DeltaTable(uri).file_uris())


def data_files(root: str) -> list[str]:
    """The files that hold a dataset's rows: the Delta log's, else every committed Parquet file."""
    return committed_files(root) if is_delta(root) else dataset_files(root)


def remove_uncommitted(root: str, max_age_s: float = TEMP_MAX_AGE_S) -> list[str]:
    """Delete data files no version of the log references, older than `max_age_s`; files removed
    by a commit (`optimize`) stay for time travel until a `vacuum`. Returns their paths."""
    from deltalake import DeltaTable

    table, hours = DeltaTable(_uri(root)), max(1, round(max_age_s / 3600))
    listed = {"full": True, "dry_run": True, "retention_hours": hours, "enforce_retention_duration": False}
    unreferenced = set(table.vacuum(**listed)) - set(table.vacuum(**{**listed, "full": False}))
    fsys, base = filesystem(root)
    paths = sorted(f"{base}/{p}" for p in unreferenced if not p.startswith(LOG))
    for path in paths:
        fsys.delete_file(path)
    return paths


def dataset(root: str) -> ds.Dataset:
    from deltalake import DeltaTable

    return DeltaTable(_uri(root)).to_pyarrow_dataset()


def optimize(root: str) -> dict:
    """Delta's compaction: small files rewritten into larger ones, recorded in the log."""
    from deltalake import DeltaTable

    return DeltaTable(_uri(root)).optimize.compact()


def _uri(root: str) -> str:
    return root if "://" in root else filesystem(root)[1]
