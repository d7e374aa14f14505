"""Small whole-file writes (reports) on any pyarrow file system, atomically: a temporary file renamed."""

from __future__ import annotations

import uuid

from pipeline.io.parquet import filesystem


def write_text_atomically(path: str, text: str) -> str:
    """The temporary file's name is this writer's own: two runs writing one file at once (a state
    folder shared without the lock) would otherwise move each other's, and one would fail."""
    fsys, target = filesystem(path)
    folder, name = target.rsplit("/", 1)
    fsys.create_dir(folder, recursive=True)
    tmp = f"{folder}/.{name}.{uuid.uuid4().hex[:12]}.tmp"
    with fsys.open_output_stream(tmp) as out:
        out.write(text.encode("utf-8"))
    fsys.move(tmp, target)
    return target
