"""`news-ingest sql QUERY --output DIR`: DuckDB over what runs wrote, with views `articles` (every
row, every version), `articles_latest` (each article's latest version) and `rejects`, so a first
look needs nothing but this command."""

from __future__ import annotations

from pathlib import Path

from pipeline.config import ConfigError
from pipeline.io import delta
from pipeline.io.parquet import articles_root, rejects_root


def run_sql(query: str, output: str) -> str:
    import duckdb  # only this command needs it

    from pipeline.io.analytics import latest_view

    con = duckdb.connect()
    views = 0
    for name, root in (("articles", articles_root(output)), ("rejects", rejects_root(output))):
        if delta.is_delta(root):  # only the files its log lists, not every file in its folders
            con.register(name, delta.dataset(root))
            views += 1
        elif any(Path(root).glob("**/*.parquet")):
            glob = str(Path(root) / "**" / "*.parquet").replace("'", "''")
            con.execute(f"CREATE VIEW {name} AS SELECT * FROM read_parquet('{glob}', hive_partitioning=true, "
                        "union_by_name=true)")
            views += 1
            if name == "articles":
                latest_view(con, name, "articles_latest")
    if not views:
        raise ConfigError(f"{output}: no articles or rejects dataset here (is it a run's output.path?)")
    try:
        result = con.sql(query)
    except duckdb.Error as err:
        raise ConfigError(f"sql: {err}") from None
    return "" if result is None else str(result)
