"""One run at a time per state folder: an exclusive `flock` on `<state>/.lock`.

The kernel drops the lock when its process dies, however it dies, so a lock left by a crashed or
killed run is simply taken over; the pid, host and start time written into the file are only
there to tell the next operator who holds it.

Beneath it, for when the lock is bypassed (the Python API takes none; a file system where `flock`
does not reach other hosts): `commit_claim`, an exclusive create of
`<state>/.commit` that a run holds while it makes one article file visible. Creating with
`O_EXCL` is atomic on local file systems and on NFS v3 and later. pyarrow's remote file systems
(S3, GCS, HDFS) offer no exclusive create, so remote state has no claim."""

from __future__ import annotations

import fcntl
import json
import os
import socket
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from pathlib import Path

from pipeline.logs import log
from pipeline.records import utc_now


def _me() -> dict:
    return {"pid": os.getpid(), "host": socket.gethostname(), "since": utc_now().isoformat(timespec="seconds")}


def _is_remote(state_path: str) -> bool:
    return "://" in state_path and not state_path.startswith("file://")


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
    if _is_remote(state_path):
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
        info = _me()
        os.ftruncate(fd, 0)
        os.pwrite(fd, (json.dumps(info) + "\n").encode(), 0)
        yield path
    finally:
        os.close(fd)  # closing releases the flock


_said_waiting: set[str] = set()  # claims this process has logged waiting for (once each: a run commits many files)
CLAIM_STALE_S = 300.0  # a claim covers one file's write: one older than this was left by a dead holder


def _claim_is_stale(text: str, age_s: float) -> bool:
    try:
        info = json.loads(text)
        if info.get("host") == socket.gethostname():
            os.kill(int(info["pid"]), 0)
    except ProcessLookupError:
        return True
    except (ValueError, KeyError, TypeError, PermissionError):
        pass
    return age_s > CLAIM_STALE_S


@contextmanager
def commit_claim(state_path: str) -> Iterator[Path | None]:
    """Hold `<state>/.commit` for the block, waiting while another writer (run, thread or process)
    holds it. A claim whose holder died on this host, or older than `CLAIM_STALE_S`, is broken.
    Remote state: no claim (None), see the module's docstring."""
    if _is_remote(state_path):
        yield None
        return
    path = Path(state_path.removeprefix("file://")) / ".commit"
    path.parent.mkdir(parents=True, exist_ok=True)
    token = {**_me(), "token": uuid.uuid4().hex}
    while True:
        try:
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
            break
        except FileExistsError:
            try:
                text, age = path.read_text(encoding="utf-8"), time.time() - path.stat().st_mtime
            except FileNotFoundError:
                continue  # released meanwhile
            if _claim_is_stale(text, age):
                _break_claim(path, text)
                continue
            if str(path) not in _said_waiting and _another_process(text):
                _said_waiting.add(str(path))
                log.warning("waiting for the commit claim %s, held by %s: another run writes to this state folder",
                            path, _holder(path), extra={"event": "claim_wait"})
            time.sleep(0.02)
    try:
        os.write(fd, json.dumps(token).encode())
        os.close(fd)
        yield path
    finally:
        try:
            if json.loads(path.read_text(encoding="utf-8")).get("token") == token["token"]:
                path.unlink()
        except (OSError, ValueError):
            pass  # broken as stale by another writer: it is theirs now


def _another_process(text: str) -> bool:
    """A claim another process holds, not one of this process's threads (nor one still being written)."""
    try:
        info = json.loads(text)
    except ValueError:
        return False
    return isinstance(info, dict) and (info.get("pid"), info.get("host")) != (os.getpid(), socket.gethostname())


def _break_claim(path: Path, stale: str) -> None:
    """Move a stale claim out of the way; put it back if it was replaced between the judging and the move."""
    aside = path.with_name(f".commit.stale-{uuid.uuid4().hex[:8]}")
    try:
        path.rename(aside)
    except FileNotFoundError:
        return
    if aside.read_text(encoding="utf-8") == stale:
        log.warning("broke a stale commit claim %s (%s)", path, stale or "empty", extra={"event": "claim_broken"})
    else:
        with suppress(FileExistsError):
            os.link(aside, path)
    aside.unlink()
