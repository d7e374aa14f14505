"""Questions analysts ask of an output folder, answered with DuckDB over the datasets as written
(hive partitions, `union_by_name` so files from before a column was added read as nulls).

Each function returns plain rows (dicts); `commands/stats.py` and `commands/report.py` format them.
"""

from __future__ import annotations

from collections import defaultdict
from datetime import datetime

import duckdb

from pipeline.config import default_state_path
from pipeline.io import delta
from pipeline.io.parquet import articles_root, dataset_files, rejects_root
from pipeline.io.state import read_feed_states

GROUPS = {"source": "source", "day": "CAST(ingest_date AS VARCHAR)", "language": "language", "feed": "feed_url"}


def latest_view(con: duckdb.DuckDBPyConnection, rows: str, name: str) -> None:
    """View `name`: each article's latest version (the highest `version`; files written before
    versions have none and count as version 1) from the view or table `rows` of every version."""
    columns = {r[0] for r in con.execute(f"DESCRIBE {rows}").fetchall()}
    version = "coalesce(version, 1)" if "version" in columns else "1"
    con.execute(f"CREATE VIEW {name} AS SELECT * FROM {rows} QUALIFY row_number() OVER "
                f"(PARTITION BY article_id ORDER BY {version} DESC, fetched_at DESC) = 1")


def _connect(output: str) -> duckdb.DuckDBPyConnection:
    """Views `articles` (each article once: its latest version; every version in
    `article_versions`) and `rejects` (empty when a dataset has no file yet)."""
    con = duckdb.connect()
    for name, root in (("article_versions", articles_root(output)), ("rejects", rejects_root(output))):
        if delta.is_delta(root):
            con.register(name, delta.dataset(root))
        elif dataset_files(root):
            glob = f"{root}/**/*.parquet".replace("'", "''")
            con.execute(f"CREATE VIEW {name} AS SELECT * FROM read_parquet('{glob}', "
                        "hive_partitioning=true, union_by_name=true)")
        else:
            columns = ("source VARCHAR, ingest_date DATE, language VARCHAR, feed_url VARCHAR, body_source VARCHAR, "
                       "body VARCHAR, published_at TIMESTAMPTZ, word_count INT, cluster_id VARCHAR, title VARCHAR, "
                       "fetched_at TIMESTAMPTZ, article_id VARCHAR, duplicate_of VARCHAR, version INT"
                       if name == "article_versions" else
                       "feed_url VARCHAR, stage VARCHAR, reason VARCHAR, ingest_date DATE, url VARCHAR")
            con.execute(f"CREATE TABLE {name} ({columns})")
    latest_view(con, "article_versions", "articles")
    return con


def _dicts(con: duckdb.DuckDBPyConnection, sql: str, params: list | None = None) -> list[dict]:
    cursor = con.execute(sql, params or [])
    names = [d[0] for d in cursor.description]
    return [dict(zip(names, row, strict=True)) for row in cursor.fetchall()]


def group_stats(output: str, by: str, state_path: str | None = None) -> list[dict]:
    """One row per group: article counts and shares, near-duplicate clusters, rejects, failing feeds."""
    key = GROUPS[by]
    con = _connect(output)
    rows = _dicts(con, f"""
        SELECT {key} AS grp, count(*) AS articles,
               round(avg((body_source LIKE 'page%')::INT), 3) AS body_from_page,
               round(avg((body_source LIKE 'feed%')::INT), 3) AS body_from_feed,
               round(avg((body_source = 'none' OR coalesce(body, '') = '')::INT), 3) AS empty_body_rate,
               round(avg((published_at IS NULL)::INT), 3) AS missing_date_rate,
               round(avg(word_count), 1) AS mean_words
        FROM articles GROUP BY ALL ORDER BY articles DESC, grp""")
    languages = defaultdict(list)
    for r in _dicts(con, f"SELECT {key} AS grp, language, count(*) AS n FROM articles GROUP BY ALL "
                         "ORDER BY grp, n DESC, language"):
        languages[r["grp"]].append(f"{r['language']}:{r['n']}")
    # a group takes part in a cluster when one of its articles is in it; sizes count every outlet
    clusters = {r["grp"]: r for r in _dicts(con, f"""
        WITH sizes AS (SELECT cluster_id, count(*) AS n FROM articles GROUP BY ALL HAVING count(*) > 1)
        SELECT {key} AS grp, count(DISTINCT cluster_id) AS clusters, max(n) AS largest
        FROM articles JOIN sizes USING (cluster_id) GROUP BY grp""")}
    feed_group = {r["feed_url"]: r["grp"] for r in _dicts(con, f"SELECT DISTINCT feed_url, {key} AS grp FROM articles")}
    rejects: dict[object, list[str]] = defaultdict(list)
    # a feed's own failure has no feed_url: its url is the feed
    reject_key = "CAST(ingest_date AS VARCHAR)" if by == "day" else "coalesce(feed_url, url)"
    for r in _dicts(con, f"SELECT {reject_key} AS k, stage, reason, count(*) AS n FROM rejects GROUP BY ALL "
                         "ORDER BY n DESC, stage, reason"):
        grp = r["k"] if by in ("day", "feed") else feed_group.get(r["k"]) if by == "source" else None
        rejects[grp].append(f"{r['stage']}/{r['reason']}:{r['n']}")
    failing: dict[object, list[str]] = defaultdict(list)
    for state in read_feed_states(state_path or default_state_path(output)).values():
        if state.consecutive_failures:
            grp = state.feed_url if by == "feed" else feed_group.get(state.feed_url) if by == "source" else None
            failing[grp].append(f"{state.feed_url} ({state.last_error})")
    out = []
    for r in rows:
        grp = r["grp"]
        out.append({by: str(grp), **{k: v for k, v in r.items() if k != "grp"}, "languages": " ".join(languages[grp]),
                    "near_dup_clusters": clusters.get(grp, {}).get("clusters", 0),
                    "largest_cluster": clusters.get(grp, {}).get("largest", 0),
                    "rejects": " ".join(rejects.get(grp, [])), "feeds_failing": " ".join(failing.get(grp, []))})
    # rejects and failing feeds of no group with articles: a feed that never wrote one (by source),
    # feeds failing (by day or language: a feed has no day or language of its own)
    for grp in sorted((rejects.keys() | failing.keys()) - {r["grp"] for r in rows}, key=str):
        out.append({by: "(unassigned)" if grp is None else str(grp), "articles": 0,
                    "rejects": " ".join(rejects.get(grp, [])), "feeds_failing": " ".join(failing.get(grp, []))})
    return out


def articles_per_day(output: str) -> list[dict]:
    return _dicts(_connect(output), "SELECT ingest_date AS day, source, count(*) AS n FROM articles "
                                    "GROUP BY ALL ORDER BY day, source")


def language_mix(output: str) -> list[dict]:
    return _dicts(_connect(output), "SELECT language, count(*) AS n FROM articles GROUP BY ALL ORDER BY n DESC")


def extraction_health(output: str) -> list[dict]:
    return _dicts(_connect(output), """
        SELECT source, count(*) AS n, sum((body_source LIKE 'page%')::INT) AS page,
               sum((body_source LIKE 'feed%')::INT) AS feed,
               sum((body_source = 'none')::INT) AS none, sum((published_at IS NULL)::INT) AS no_date
        FROM articles GROUP BY ALL ORDER BY n DESC, source""")


def top_clusters(output: str, limit: int = 10) -> list[dict]:
    """Near-duplicate clusters with more than one article: which outlets carried the same story."""
    return _dicts(_connect(output), """
        SELECT cluster_id, count(*) AS n, count(DISTINCT source) AS outlets,
               string_agg(DISTINCT source, ' · ' ORDER BY source) AS sources,
               arg_min(title, coalesce(published_at, fetched_at)) AS title
        FROM articles GROUP BY cluster_id HAVING count(*) > 1 ORDER BY n DESC, cluster_id LIMIT ?""", [limit])


def rejects_by_reason(output: str) -> list[dict]:
    return _dicts(_connect(output), "SELECT stage, reason, count(*) AS n FROM rejects GROUP BY ALL "
                                    "ORDER BY n DESC, stage, reason")


def feed_freshness(output: str, state_path: str | None = None, now: datetime | None = None) -> list[dict]:
    """Per feed: its newest article, last successful poll, failures in a row and last error."""
    newest = {r["feed_url"]: r for r in _dicts(_connect(output), """
        SELECT feed_url, any_value(source) AS source, max(fetched_at) AS newest_article,
               max(published_at) AS newest_published FROM articles GROUP BY feed_url""")}
    states = read_feed_states(state_path or default_state_path(output))
    rows = []
    for url in sorted(newest.keys() | states.keys()):
        state, art = states.get(url), newest.get(url, {})
        rows.append({"feed_url": url, "source": art.get("source"), "newest_article": art.get("newest_article"),
                     "newest_published": art.get("newest_published"),
                     "last_success": state.last_success_at if state else None,
                     "failures": state.consecutive_failures if state else 0,
                     "last_error": state.last_error if state else None})
    return rows
