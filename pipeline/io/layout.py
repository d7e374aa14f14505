"""One layout per dataset, recorded beside its data in `<root>/_news_ingest.json`.

A dataset whose folders mix two partition layouts reads badly everywhere (DuckDB and Spark refuse
or mis-assign columns), so the first run records its layout and a later run that asks for another
one stops before any work: `news-ingest migrate` rewrites the data first. Readers use the same file
to learn the partition columns' types (`pipeline.io.read`). The leading `_` keeps every reader's
file listing from treating it as data.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field, replace

from pyarrow import fs as pafs

from pipeline.config import ConfigError
from pipeline.io.delta import is_delta
from pipeline.io.files import write_text_atomically
from pipeline.io.parquet import dataset_files, filesystem
from pipeline.schema import PARTITION_TYPES, SCHEMA_VERSION

DESCRIPTOR = "_news_ingest.json"


@dataclass(frozen=True)
class Layout:
    dataset: str
    partition_by: tuple[str, ...]
    compression: str
    schema_version: int = SCHEMA_VERSION
    partition_types: dict[str, str] = field(default_factory=dict)
    path_escaping: str = "hive"  # only Hive's special characters %-escaped; UTF-8 letters raw
    format: str = "parquet"  # or "delta": read through its transaction log

    def to_json(self) -> str:
        data = asdict(self)
        data["partition_by"] = list(self.partition_by)
        data["partition_types"] = {n: str(PARTITION_TYPES.get(n, "string")) for n in self.partition_by}
        return json.dumps(data, ensure_ascii=False, indent=2) + "\n"

    @classmethod
    def from_json(cls, text: str) -> Layout:
        data = json.loads(text)
        return cls(data["dataset"], tuple(data["partition_by"]), data["compression"],
                   data.get("schema_version", 1), data.get("partition_types", {}),
                   data.get("path_escaping", "percent"), data.get("format", "parquet"))


def _path(root: str) -> tuple[pafs.FileSystem, str]:
    fsys, base = filesystem(root)
    return fsys, f"{base}/{DESCRIPTOR}"


def read_layout(root: str) -> Layout | None:
    fsys, path = _path(root)
    if fsys.get_file_info(path).type == pafs.FileType.NotFound:
        return None
    with fsys.open_input_stream(path) as handle:
        return Layout.from_json(handle.read().decode("utf-8"))


def write_layout(root: str, layout: Layout) -> None:
    """Atomically: a temporary file renamed over the old descriptor."""
    write_text_atomically(f"{root.rstrip('/')}/{DESCRIPTOR}", layout.to_json())


def partition_keys(root: str, file: str) -> tuple[str, ...]:
    """The partition column names in the folder names of one data file below `root`."""
    _, base = filesystem(root)
    folders = file[len(base):].strip("/").split("/")[:-1]
    return tuple(f.split("=", 1)[0] for f in folders if "=" in f)


def found_layout(root: str) -> tuple[str, ...] | None:
    """The layout of data written before descriptors existed, from its first file's folders."""
    files = dataset_files(root)
    return partition_keys(root, files[0]) if files else None


def _names(columns: tuple[str, ...]) -> str:
    return f"[{', '.join(columns)}]"


def ensure_layout(root: str, dataset: str, partition_by: tuple[str, ...], compression: str,
                  table_format: str = "parquet") -> Layout:
    """The dataset's recorded layout, written now if it has none; ConfigError if `partition_by`
    differs from the layout on disk (the message names both and the command that migrates), or
    the table format does."""
    recorded = read_layout(root)
    found_format = recorded.format if recorded else ("delta" if is_delta(root) else None)
    if found_format is None and dataset_files(root):
        found_format = "parquet"
    if found_format is not None and found_format != table_format:
        raise ConfigError(f"output.format is {table_format} but the {dataset} dataset at {root} is {found_format}; "
                          f"set output.format: {found_format} (there is no in-place conversion)")
    on_disk = recorded.partition_by if recorded else found_layout(root)
    if on_disk is not None and tuple(on_disk) != tuple(partition_by):
        output = root.rstrip("/").rsplit("/", 1)[0]
        raise ConfigError(
            f"output.partition_by is {_names(partition_by)} but the {dataset} dataset at {root} is "
            f"partitioned by {_names(on_disk)}; set output.partition_by: {_names(on_disk)}, or rewrite "
            f"the data first: news-ingest migrate --output {output} --partition-by {','.join(partition_by)}")
    if recorded is None:  # data found without a descriptor was named by the earlier %-encoding
        recorded = Layout(dataset, tuple(partition_by), compression,
                          path_escaping="percent" if on_disk is not None else "hive", format=table_format)
        write_layout(root, recorded)
    elif recorded.schema_version < SCHEMA_VERSION:
        recorded = replace(recorded, schema_version=SCHEMA_VERSION)
        write_layout(root, recorded)
    return recorded
