"""One run at a time per state folder: an exclusive `flock` on `<state>/.lock`.

The kernel drops the lock when its process dies, however it dies, so a lock left by a crashed or
killed run is simply taken over; the pid, host and start time written into the file are only
there to tell the next operator who holds it."""

from __future__ import annotations

import fcntl
import json
import os
import socket
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from pipeline.logs import log
from pipeline.records import utc_now


class LockHeld(RuntimeError):
    """Another live process holds the state folder's lock."""


def _holder(path: Path) -> str:
    try:
        info = json.loads(path.read_text(encoding="utf-8") or "{}")
    except (OSError, ValueError):
        return "another process"
    return f"pid {info.get('pid', '?')} on {info.get('host', '?')} since {info.get('since', '?')}"


@contextmanager
def state_lock(state_path: str, wait_s: float | None = 0.0) -> Iterator[Path | None]:
    """Hold `<state>/.lock` for the block. `wait_s`: 0 fails at once with `LockHeld`, None waits
    as long as it takes. A remote state URI (gs://...) is not locked: there is no flock there."""
    if "://" in state_path and not state_path.startswith("file://"):
        yield None
        return
    folder = Path(state_path.removeprefix("file://"))
    path = folder / ".lock"
    try:
        folder.mkdir(parents=True, exist_ok=True)
        fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    except OSError as err:
        raise OSError(f"cannot write to {folder}: {err.strerror or err}") from None
    try:
        deadline = None if wait_s is None else time.monotonic() + wait_s
        said = False
        while True:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if deadline is not None and time.monotonic() >= deadline:
                    raise LockHeld(f"{folder} is in use by {_holder(path)} (lock file {path}; "
                                   "--wait-lock waits for it)") from None
                if not said:
                    log.warning("waiting for %s, in use by %s", folder, _holder(path), extra={"event": "lock_wait"})
                    said = True
                time.sleep(0.2)
        info = {"pid": os.getpid(), "host": socket.gethostname(), "since": utc_now().isoformat(timespec="seconds")}
        os.ftruncate(fd, 0)
        os.pwrite(fd, (json.dumps(info) + "\n").encode(), 0)
        yield path
    finally:
        os.close(fd)  # closing releases the flock
