"""Whole-file writes that several writers may make at once (two runs on one state folder)."""

from __future__ import annotations

import threading
from pathlib import Path

from pipeline.io.files import write_text_atomically


def test_writers_of_one_file_at_once_never_fail_and_leave_one_whole_text(tmp_path: Path) -> None:
    target = tmp_path / "state" / "_covered.json"
    errors: list[BaseException] = []

    def write(writer: int) -> None:
        try:
            for i in range(200):
                write_text_atomically(str(target), f"writer {writer} write {i}")
        except BaseException as err:  # any failure of a writer fails the test
            errors.append(err)

    threads = [threading.Thread(target=write, args=(w,)) for w in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    assert not errors
    assert target.read_text().startswith("writer ")
    assert sorted(p.name for p in target.parent.iterdir()) == ["_covered.json"]
