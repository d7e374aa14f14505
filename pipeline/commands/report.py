"""`news-ingest report`: one self-contained HTML page about an output folder."""

from __future__ import annotations

from pipeline.commands import report_html as h
from pipeline.io import analytics as a
from pipeline.io.files import write_text_atomically
from pipeline.records import utc_now

TOP_SOURCES = 12  # sources drawn by name in the per-day chart; the rest are summed as OTHER
OTHER = "(other sources)"
CHARTS = ("articles-per-day", "language-mix", "extraction-health", "near-duplicates", "rejects", "feed-freshness")


def build_report(output: str, state_path: str | None = None) -> str:
    per_day = a.articles_per_day(output)
    days = sorted({str(r["day"]) for r in per_day})
    sources = sorted({r["source"] for r in per_day})
    volume: dict[str, int] = {}
    for r in per_day:
        volume[r["source"]] = volume.get(r["source"], 0) + r["n"]
    shown = sorted(volume, key=lambda s: (-volume[s], s))[:TOP_SOURCES]  # a legend stays readable
    by_day: dict[tuple[str, str], float] = {}
    for r in per_day:
        key = (str(r["day"]), r["source"] if r["source"] in shown else OTHER)
        by_day[key] = by_day.get(key, 0) + r["n"]
    series = shown + ([OTHER] if len(sources) > len(shown) else [])
    languages = a.language_mix(output)
    health = a.extraction_health(output)
    clusters = a.top_clusters(output)
    rejects = a.rejects_by_reason(output)
    now = utc_now()
    fresh = a.feed_freshness(output, state_path)
    total = sum(r["n"] for r in per_day)
    sections = [
        h.section("articles-per-day", "Articles per day per source", h.stacked_bars(
            "articles-per-day", days, series, by_day, "Articles per ingest day, stacked by source"),
            empty=not per_day),
        h.section("language-mix", "Language mix", h.stacked_bars(
            "language-mix", [r["language"] for r in languages], ["articles"],
            {(r["language"], "articles"): r["n"] for r in languages}, "Articles per language"), empty=not languages),
        h.section("extraction-health", "Extraction health per source", h.stacked_bars(
            "extraction-health", [r["source"] for r in health[:TOP_SOURCES * 2]],
            ["body from page", "body from feed", "no body"],
            {(r["source"], k): r[c] for r in health for k, c in
             (("body from page", "page"), ("body from feed", "feed"), ("no body", "none"))},
            "Where each source's article bodies came from"),
            h.table("extraction-health", ("source", "articles", "from page", "from feed", "no body", "no date"),
                    [(r["source"], r["n"], r["page"], r["feed"], r["none"], r["no_date"]) for r in health]),
            empty=not health),
        h.section("near-duplicates", "Top near-duplicate clusters (the same story at several outlets)", h.table(
            "near-duplicates", ("articles", "outlets", "sources", "first title"),
            [(r["n"], r["outlets"], r["sources"], r["title"]) for r in clusters]), empty=not clusters),
        h.section("rejects", "Rejects by reason", h.stacked_bars(
            "rejects", [f"{r['stage']}/{r['reason']}" for r in rejects], ["rejects"],
            {(f"{r['stage']}/{r['reason']}", "rejects"): r["n"] for r in rejects}, "Rejects by stage and reason"),
            empty=not rejects),
        h.section("feed-freshness", "Feed freshness", h.table(
            "feed-freshness", ("feed", "source", "newest article fetched", "hours since", "newest published",
                               "last successful poll", "failures in a row", "last error"),
            [(r["feed_url"], r["source"], r["newest_article"],
              f"{(now - r['newest_article']).total_seconds() / 3600:.1f}" if r["newest_article"] else None,
              r["newest_published"], r["last_success"], r["failures"], r["last_error"]) for r in fresh]),
            empty=not fresh),
    ]
    return h.page("news-ingest report", f"{output}: {total} articles, {len(sources)} sources; "
                  f"generated {now:%Y-%m-%d %H:%M} UTC", sections)


def write_report(output: str, html_path: str, state_path: str | None = None) -> str:
    path = write_text_atomically(html_path, build_report(output, state_path))
    return f"wrote {path}"
