"""Logging for operators: the project's own events on `news_ingest`, Beam's chatter kept down,
optionally one JSON object per line (for log shippers)."""

from __future__ import annotations

import json
import logging
import sys
from contextvars import ContextVar
from datetime import UTC, datetime

LOGGER = "news_ingest"
log = logging.getLogger(LOGGER)

# The run being worked on, stamped on every record (set by `pipeline.run`).
current_run_id: ContextVar[str | None] = ContextVar("current_run_id", default=None)


class _RunIdFilter(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        if getattr(record, "run_id", None) is None:
            record.run_id = current_run_id.get()
        return True


class JsonFormatter(logging.Formatter):
    """One JSON object per line: ts, level, logger, event, message, run_id, feed_url when known."""

    def format(self, record: logging.LogRecord) -> str:
        line = {
            "ts": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname.lower(),
            "logger": record.name,
            "event": getattr(record, "event", None) or "log",
            "message": record.getMessage(),
            "run_id": getattr(record, "run_id", None),
        }
        for key in ("feed_url", "counts", "files"):
            if getattr(record, key, None) is not None:
                line[key] = getattr(record, key)
        if record.exc_info:
            line["exc"] = self.formatException(record.exc_info)
        return json.dumps(line, ensure_ascii=False, default=str)


def setup_logging(verbosity: int = 0, fmt: str = "text") -> None:
    """verbosity -1 (-q): errors only; 0: the project's warnings; 1 (-v): its INFO events and
    Beam's warnings; 2 (-vv): everything at DEBUG. Beam logs on the root logger too (e.g. the
    'apitools not found' warning at import), so the root stays at ERROR below -vv."""
    handler = logging.StreamHandler(sys.stderr)
    handler.addFilter(_RunIdFilter())
    handler.setFormatter(JsonFormatter() if fmt == "json" else
                         logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    root = logging.getLogger()
    for old in list(root.handlers):
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(logging.DEBUG if verbosity >= 2 else logging.ERROR)
    own = {-1: logging.ERROR, 0: logging.WARNING, 1: logging.INFO}.get(min(verbosity, 1), logging.DEBUG)
    log.setLevel(logging.DEBUG if verbosity >= 2 else own)
    logging.getLogger("apache_beam").setLevel(
        logging.DEBUG if verbosity >= 2 else logging.WARNING if verbosity == 1 else logging.ERROR)


def quiet_child() -> None:
    """For a spawned pool process, before it imports Beam: without a handler, Beam's import-time
    warning would go through `logging.basicConfig` to stderr once per process."""
    root = logging.getLogger()
    if not root.handlers:
        root.addHandler(logging.NullHandler())
    root.setLevel(logging.ERROR)
