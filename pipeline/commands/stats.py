"""`news-ingest stats`: per source, day, language or feed, how well ingestion is doing."""

from __future__ import annotations

import csv
import io
import json

from pipeline.io.analytics import group_stats

COLUMNS = ("articles", "body_from_page", "body_from_feed", "empty_body_rate", "missing_date_rate", "mean_words",
           "languages", "near_dup_clusters", "largest_cluster", "rejects", "feeds_failing")


def _cell(value: object) -> str:
    return "-" if value in (None, "") else str(value)


def format_stats(rows: list[dict], by: str, fmt: str) -> str:
    header = (by, *COLUMNS)
    if fmt == "json":
        return json.dumps([{c: r.get(c) for c in header} for r in rows], ensure_ascii=False, indent=2)
    if fmt == "csv":
        out = io.StringIO()
        writer = csv.writer(out, lineterminator="\n")
        writer.writerow(header)
        writer.writerows([r.get(c, "") for c in header] for r in rows)
        return out.getvalue().rstrip("\n")
    lines = [header, *[tuple(_cell(r.get(c)) for c in header) for r in rows]]
    widths = [max(len(line[i]) for line in lines) for i in range(len(header))]
    return "\n".join("  ".join(cell.ljust(w) for cell, w in zip(line, widths, strict=True)).rstrip()
                     for line in lines)


def stats_text(output: str, by: str, fmt: str, state_path: str | None = None) -> str:
    return format_stats(group_stats(output, by, state_path), by, fmt)
