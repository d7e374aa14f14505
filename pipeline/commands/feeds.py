"""`news-ingest feeds`: each configured feed's health, from the state store."""

from __future__ import annotations

from datetime import datetime

from pipeline.config import Config
from pipeline.io.state import read_feed_states
from pipeline.sources.schedule import FeedState


def _when(moment: datetime | None) -> str:
    return f"{moment:%Y-%m-%d %H:%M}" if moment else "-"


def health_table(config: Config) -> str:
    """A fixed-width table, failing feeds first; times in UTC."""
    states = read_feed_states(config.state_path)
    rows = [states.get(f.key) or FeedState(f.key) for f in config.feeds]
    rows.sort(key=lambda s: (-s.consecutive_failures, s.feed_url))
    header = ("feed", "last success", "fails", "last error", "next due", "entries", "written", "items/day")
    lines = [header]
    for s in rows:
        rate = s.items_per_day
        feed = f"{s.feed_url} -> {s.discovered_url}" if s.discovered_url else s.feed_url  # a site: its feed
        lines.append((feed, _when(s.last_success_at), str(s.consecutive_failures), s.last_error or "-",
                      _when(s.next_due_at), str(s.entries_seen_total), str(s.articles_written_total),
                      f"{rate:.1f}" if rate is not None else "-"))
    widths = [max(len(row[i]) for row in lines) for i in range(len(header))]
    return "\n".join("  ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True)).rstrip()
                     for row in lines)
