"""Progress of a batch run on stderr: on a terminal one line, redrawn every second; elsewhere (cron
mail, journald) a plain line every `--progress-every`. A run that polls slow publishers can be
quiet for minutes otherwise.

The counts come from this process's live tally (`pipeline.transforms.names.LIVE`): with the
in-process runner, the default, every stage counts here; with runners whose workers are other
processes the line gives the elapsed time only.
"""

from __future__ import annotations

import json
import sys
import threading
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from datetime import UTC, datetime

from pipeline.transforms.names import live_counts

_SHOWN = (("feeds_polled", "feeds polled"), ("pages_fetched", "pages fetched"),
          ("articles_written", "articles written"), ("rejects_written", "rejects"))


def _elapsed(seconds: float) -> str:
    minutes, secs = divmod(int(seconds), 60)
    return f"{minutes}m{secs:02d}s" if minutes else f"{secs}s"


def progress_line(what: str, elapsed_s: float, counts: Mapping[str, int]) -> str:
    """`run working, 12s elapsed: 4 feeds polled, 120 pages fetched, ...` (counts once there are any)."""
    line = f"{what} working, {_elapsed(elapsed_s)} elapsed"
    if any(counts.get(key) for key, _ in _SHOWN):
        line += ": " + ", ".join(f"{counts.get(key, 0)} {label}" for key, label in _SHOWN)
    return line


@contextmanager
def heartbeat(every_s: float, what: str = "run", json_lines: bool = False, redraw: bool = False) -> Iterator[None]:
    """A line every `every_s` seconds while the block runs; nothing when `every_s` is 0. With
    `redraw` (a terminal) the same line is rewritten in place and ended when the block ends; with
    `json_lines` each line is a JSON object like the log's (`--log-format json`)."""
    if every_s <= 0:
        yield
        return
    done = threading.Event()
    started, before = time.monotonic(), live_counts()

    def counts() -> dict[str, int]:
        now = live_counts()
        return {key: now.get(key, 0) - before.get(key, 0) for key in now}

    def beat() -> None:
        while not done.wait(every_s):
            tally = counts()
            message = progress_line(what, time.monotonic() - started, tally)
            if json_lines:
                print(json.dumps({"ts": datetime.now(UTC).isoformat(timespec="milliseconds"), "level": "info",
                                  "logger": "news_ingest", "event": "progress", "message": message,
                                  "counts": tally}), file=sys.stderr, flush=True)
            elif redraw:
                print(f"\r\033[Knews-ingest: {message}", end="", file=sys.stderr, flush=True)
            else:
                print(f"news-ingest: {message}", file=sys.stderr, flush=True)

    thread = threading.Thread(target=beat, name="heartbeat", daemon=True)
    thread.start()
    try:
        yield
    finally:
        done.set()
        thread.join(timeout=5)
        if redraw and not json_lines:
            print("\r\033[K", end="", file=sys.stderr, flush=True)
