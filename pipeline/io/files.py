"""Small whole-file writes (reports) on any pyarrow file system, atomically: a temporary file renamed."""

from __future__ import annotations

from pipeline.io.parquet import filesystem


def write_text_atomically(path: str, text: str) -> str:
    fsys, target = filesystem(path)
    folder, name = target.rsplit("/", 1)
    fsys.create_dir(folder, recursive=True)
    tmp = f"{folder}/.{name}.tmp"
    with fsys.open_output_stream(tmp) as out:
        out.write(text.encode("utf-8"))
    fsys.move(tmp, target)
    return target
