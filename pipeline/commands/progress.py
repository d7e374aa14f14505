"""Plain "still working" lines on stderr during a batch run, for logs that are not a terminal
(cron mail, journald): a run that polls slow publishers can be quiet for minutes otherwise."""

from __future__ import annotations

import json
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime


def _elapsed(seconds: float) -> str:
    minutes, secs = divmod(int(seconds), 60)
    return f"{minutes}m{secs:02d}s" if minutes else f"{secs}s"


@contextmanager
def heartbeat(every_s: float, what: str = "run", json_lines: bool = False) -> Iterator[None]:
    """A line every `every_s` seconds while the block runs; nothing when `every_s` is 0. With
    `json_lines` each is a JSON object like the log's (`--log-format json`)."""
    if every_s <= 0:
        yield
        return
    done = threading.Event()
    started = time.monotonic()

    def beat() -> None:
        while not done.wait(every_s):
            message = f"{what} working, {_elapsed(time.monotonic() - started)} elapsed"
            line = (json.dumps({"ts": datetime.now(UTC).isoformat(timespec="milliseconds"), "level": "info",
                                "logger": "news_ingest", "event": "progress", "message": message})
                    if json_lines else f"news-ingest: {message}")
            print(line, file=sys.stderr, flush=True)

    thread = threading.Thread(target=beat, name="heartbeat", daemon=True)
    thread.start()
    try:
        yield
    finally:
        done.set()
        thread.join(timeout=5)
