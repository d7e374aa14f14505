"""`stats` and `report` over a generated articles dataset (default 1M rows): wall time and peak RSS.

    .venv/bin/python benchmarks/analytics_bench.py --rows 1000000 [--keep DIR]

Rows are synthetic (ARTICLE_SCHEMA, short bodies, 30 days x 60 sources, 20% Arabic, 3% in
near-duplicate clusters, a few rejects), written with the package's own atomic partitioned writer
in the default layout [ingest_date, language]. Nothing leaves the machine.
"""

from __future__ import annotations

import argparse
import resource
import shutil
import tempfile
import time
from datetime import UTC, datetime, timedelta

import numpy as np
import pyarrow as pa

from pipeline.commands.report import build_report
from pipeline.io.analytics import group_stats
from pipeline.io.layout import ensure_layout
from pipeline.io.parquet import articles_root, partition_dir, rejects_root, write_atomically
from pipeline.schema import ARTICLE_SCHEMA, REJECT_SCHEMA


def _articles(n: int, rng: np.random.Generator, day: str, language: str) -> pa.Table:
    ids = np.char.add(f"{day}{language}-", np.arange(n).astype(str))
    source = rng.integers(0, 60, n)
    sources = np.char.add("source-" if language == "en" else "مصدر-", source.astype(str))
    cluster_of = np.char.add("c-", rng.integers(0, max(n // 100, 1), n).astype(str))
    clusters = np.where(rng.random(n) < 0.03, cluster_of, ids)
    origin = rng.choice(np.array(["page", "feed", "none"]), n, p=[0.85, 0.13, 0.02])
    words = rng.integers(50, 900, n).astype(np.int32)
    at = datetime.fromisoformat(f"{day}T12:00:00+00:00")
    published = pa.array([None if m else at - timedelta(hours=1) for m in rng.random(n) < 0.05],
                         pa.timestamp("us", tz="UTC"))
    columns = {
        "article_id": ids, "url": ids, "canonical_url": ids, "feed_url": np.char.add("http://feeds/", sources),
        "source": sources, "domain": np.char.add(sources, ".example"), "title": ids,
        "body": np.where(origin == "none", "", "body text " * 5), "published_at": published,
        "fetched_at": pa.array([at] * n, pa.timestamp("us", tz="UTC")), "language_confidence": np.ones(n, np.float32),
        "word_count": words, "char_count": words * 6, "content_hash": ids, "cluster_id": clusters,
        "body_source": origin, "extractor": np.full(n, "trafilatura/2"), "run_id": np.full(n, "bench"),
        "reading_time_min": (words / 200).astype(np.float32), "language": np.full(n, language),
    }
    schema = pa.schema([f for f in ARTICLE_SCHEMA if f.name not in ("ingest_date", "language")])
    arrays = [pa.array(columns[f.name], f.type) if f.name in columns else pa.nulls(n, f.type) for f in schema]
    return pa.Table.from_arrays(arrays, schema=schema)


def generate(output: str, rows: int, days: int = 30, seed: int = 0) -> None:
    rng = np.random.default_rng(seed)
    root = articles_root(output)
    ensure_layout(root, "articles", ("ingest_date", "language"), "zstd")
    start = datetime(2026, 11, 1, tzinfo=UTC).date()
    for d in range(days):
        day = (start + timedelta(days=d)).isoformat()
        for language, share in (("en", 0.8), ("ar", 0.2)):
            table = _articles(int(rows / days * share), rng, day, language)
            write_atomically(root, partition_dir({"ingest_date": day, "language": language}), table.schema,
                             [table], "bench")
        schema = pa.schema([f for f in REJECT_SCHEMA if f.name != "ingest_date"])
        rejects = pa.table({"url": ["http://x/a"] * 10, "feed_url": ["http://feeds/source-1"] * 10,
                            "stage": ["fetch"] * 10, "reason": ["http_404"] * 5 + ["timeout"] * 5,
                            "http_status": pa.array([404] * 5 + [None] * 5, pa.int16()), "detail": [""] * 10,
                            "at": pa.array([datetime.now(UTC)] * 10, pa.timestamp("us", tz="UTC")),
                            "run_id": ["bench"] * 10}, schema=schema)
        write_atomically(rejects_root(output), partition_dir({"ingest_date": day}), schema, [rejects], "bench")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--keep", help="generate into this folder and keep it")
    args = parser.parse_args()
    output = args.keep or tempfile.mkdtemp(prefix="analytics-bench-")
    try:
        t0 = time.perf_counter()
        generate(output, args.rows)
        print(f"generated {args.rows:,} rows in {time.perf_counter() - t0:.1f} s ({output})")
        for by in ("source", "day", "language", "feed"):
            t0 = time.perf_counter()
            groups = group_stats(output, by)
            print(f"stats --by {by:<8} {len(groups):>4} groups  {time.perf_counter() - t0:6.2f} s")
        t0 = time.perf_counter()
        html = build_report(output)
        print(f"report                 {len(html) / 1024:6.0f} KB     {time.perf_counter() - t0:6.2f} s")
        print(f"peak RSS {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:.0f} MB")
    finally:
        if not args.keep:
            shutil.rmtree(output, ignore_errors=True)


if __name__ == "__main__":
    main()
