"""End-to-end benchmark of news-ingest against a synthetic news site on loopback.

    python benchmarks/bench_pipeline.py --preset 1k --repoll --json /tmp/bench.json

Generates a deterministic corpus (`corpus`, `render`), serves it from memory (`server`), runs the
real CLI once (and, with --repoll, again over unchanged feeds; with --peers, trafilatura's command
line and newspaper4k over the same feeds), then times extraction alone over the same pages on every
core: bare `trafilatura.extract` (the limit) and the pipeline's `extract_page`. The ratios say how
much of the machine a run uses for the one step it cannot skip. See benchmarks/README.md.
"""

from __future__ import annotations

import argparse
import importlib.metadata
import json
import os
import platform
import shlex
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import yaml
from corpus import Corpus, build_corpus
from measure import (
    bare_extract_has_text,
    extract_page_has_text,
    extraction_limit,
    parquet_files,
    rows_and_bytes,
    run_cli,
)
from peers import ensure_venv, peers, publish_feeds, run_peer
from render import feed_url, render_site
from server import PAGE_TYPE, BenchServer

from pipeline.articles.decoding import decode_html
from pipeline.config import HttpConfig

PRESETS = {"small": (5, 10), "1k": (50, 20), "10k": (100, 100), "50k": (500, 100)}
COLUMNS = {"scenario": "scenario", "feeds": "feeds", "articles": "articles", "requests": "requests",
           "wall s": "wall_s", "cpu s": "cpu_s", "cpu / limit's cpu": "cpu_vs_limit",
           "server cpu s": "server_cpu_s", "articles/s": "articles_per_s",
           "limit pages/s": "limit_pages_per_s",
           "ratio": "ratio", "extract_page pages/s": "extract_page_pages_per_s", "ratio to extract_page":
           "ratio_extract_page", "peak RSS MB": "peak_rss_mb", "bytes/article": "bytes_per_article"}  # header: key


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--preset", choices=PRESETS,
                   help="small = 5x10, 1k = 50x20, 10k = 100x100, 50k = 500x100 (feeds x articles)")
    p.add_argument("--feeds", type=int, help="number of feeds (overrides the preset)")
    p.add_argument("--articles-per-feed", type=int, help="entries per feed (overrides the preset)")
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--arabic-share", type=float, default=0.3, help="share of feeds (and pages) in Arabic")
    p.add_argument("--dup-share", type=float, default=0.05, help="share of feed entries that are planted duplicates")
    p.add_argument("--page-mix", choices=("generated", "real"), default="generated",
                   help="pages of 50-200 KB, or real-sized ones (150-400 KB: inline script bundle and JSON state, "
                        "deep nesting, many links)")
    p.add_argument("--latency-ms", type=float, default=20.0, help="server delay before every response")
    p.add_argument("--beam-args", default="", help='extra Beam options, e.g. --beam-args="--direct_num_workers=2 '
                                                    '--direct_running_mode=multi_processing"')
    p.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                   help="config override, repeatable, e.g. --set http.per_host_delay_s=0")
    p.add_argument("--repoll", action="store_true", help="run a second time over the unchanged feeds")
    p.add_argument("--repoll-304", choices=("conditional", "always"), default="conditional",
                   help="on the re-poll, answer 304 only to matching conditional requests, or to every feed request")
    p.add_argument("--peers", action="store_true",
                   help="also run trafilatura's command line and newspaper4k over the same feeds (venvs made once)")
    p.add_argument("--peer-threads", type=int, default=HttpConfig().concurrency,
                   help="the peers' download threads (default: the pipeline's http.concurrency)")
    p.add_argument("--processes", type=int, default=os.cpu_count(), help="worker processes for the limits")
    p.add_argument("--limit-pages", type=int, help="measure the limits on an even sample of this many pages")
    p.add_argument("--json", type=Path, help="also write the results here")
    p.add_argument("--serve", action="store_true", help="only serve the corpus and print the config, until Ctrl-C")
    p.add_argument("--keep", type=Path, help="keep the config and output in this folder instead of a temp one")
    args = p.parse_args(argv)
    feeds, per_feed = PRESETS[args.preset or "small"]
    args.feeds, args.articles_per_feed = args.feeds or feeds, args.articles_per_feed or per_feed
    return args


def apply_overrides(config: dict, overrides: list[str]) -> dict:
    """`a.b=value` settings (value read as YAML) over the generated config, for knobs the pipeline
    grows faster than this script: politeness delays, polling schedule, concurrency."""
    for item in overrides:
        key, sep, raw = item.partition("=")
        if not sep:
            raise SystemExit(f"--set {item!r}: expected KEY=VALUE")
        *parents, leaf = key.split(".")
        node = config
        for name in parents:
            node = node.setdefault(name, {})
        node[leaf] = yaml.safe_load(raw)
    return config


def write_config(corpus: Corpus, bases: list[str], work: Path, overrides: list[str]) -> Path:
    feeds = [{"url": feed_url(s, bases), "name": s.name, "tags": [s.sections[0]]} for s in corpus.sites]
    config = {"feeds": feeds, "output": {"path": str(work / "out")},
              "http": {"allow_private_networks": True}}  # the sites are on loopback
    apply_overrides(config, overrides)
    path = work / "bench.yaml"
    path.write_text(yaml.safe_dump(config, allow_unicode=True, sort_keys=False), encoding="utf-8")
    return path


def run_scenario(name: str, cmd: list[str], work: Path, server: BenchServer) -> dict:
    """One CLI run; its articles are the rows of the Parquet files that appeared during it."""
    articles = work / "out" / "articles"
    before = parquet_files(articles)
    run = run_cli(cmd, cwd=str(work))
    rows, size = rows_and_bytes(parquet_files(articles) - before)
    stats = server.take_stats()
    return {"scenario": name, "returncode": run.returncode, "wall_s": round(run.wall_s, 2),
            "cpu_s": round(run.cpu_s, 2), "server_cpu_s": round(run.server_cpu_s, 4),
            "sampling_cpu_s": round(run.sampling_cpu_s, 2),
            "requests": stats.get("requests", 0),
            "articles": rows, "articles_counter": run.counters.get("articles written"),
            "feeds": run.counters.get("feeds polled"), "articles_per_s": round(rows / run.wall_s, 2),
            "peak_rss_mb": round(run.peak_rss_mb, 1), "bytes_per_article": round(size / rows) if rows else None,
            "counters": run.counters, "server": stats, "log": run.log[-3000:], "rss_mb": run.rss_mb}


@contextmanager
def served_corpus(args: argparse.Namespace, corpus: Corpus,
                  work: Path) -> Iterator[tuple[BenchServer, dict[str, bytes], Path, dict]]:
    """The corpus rendered and served; yields the server, the pages, the config and corpus sizes."""
    with BenchServer(len(corpus.sites), args.latency_ms / 1000) as server:
        start = time.perf_counter()
        feeds, pages = render_site(corpus, server.bases, args.page_mix)
        server.publish(feeds, pages)
        sizes = {"render_s": round(time.perf_counter() - start, 2),
                 "page_kb": round(sum(map(len, pages.values())) / len(pages) / 1000, 1)}
        yield server, pages, write_config(corpus, server.bases, work, args.set), sizes


def run_scenarios(args: argparse.Namespace, server: BenchServer, config: Path, work: Path) -> list[dict]:
    cmd = [sys.executable, "-m", "pipeline", "run", "--config", str(config), *shlex.split(args.beam_args)]
    results = [run_scenario("first", cmd, work, server)]
    if args.repoll and results[0]["returncode"] == 0:
        server.force_304 = args.repoll_304 == "always"
        results.append(run_scenario(f"repoll ({args.repoll_304} 304)", cmd, work, server))
    return results


def run_peers(args: argparse.Namespace, corpus: Corpus, server: BenchServer, work: Path) -> list[dict]:
    """Each peer over the same feeds, after the pipeline's runs: same servers, same latency."""
    feed_urls = publish_feeds(corpus, server)
    results = []
    for peer in peers():
        run, rows, size, blocked = run_peer(peer, feed_urls, work / "peers", args.peer_threads)
        stats = server.take_stats()
        results.append({"scenario": peer.name, "returncode": run.returncode, "wall_s": round(run.wall_s, 2),
                        "cpu_s": round(run.cpu_s, 2), "server_cpu_s": round(run.server_cpu_s, 4),
                        "sampling_cpu_s": round(run.sampling_cpu_s, 2), "requests": stats.get("requests", 0),
                        "articles": rows, "articles_counter": run.counters.get("articles written", rows),
                        "feeds": len(feed_urls), "articles_per_s": round(rows / run.wall_s, 2),
                        "peak_rss_mb": round(run.peak_rss_mb, 1), "bytes_per_article": None,
                        "output_bytes": size, "blocked": blocked, "counters": run.counters,
                        "server": stats, "log": run.log[-3000:], "rss_mb": run.rss_mb})
    return results


def serve_until_interrupted(config: Path) -> int:
    """For profiling: the pipeline runs elsewhere (e.g. under cProfile) against this server."""
    print(f"serving; config: {config}\n  python -m cProfile -o /tmp/run.prof -m pipeline run --config {config}\n"
          "Ctrl-C to stop", flush=True)
    try:
        while True:
            time.sleep(3600)
    except KeyboardInterrupt:
        return 0


def _cell(value: object) -> str:
    if value is None:
        return "-"
    return f"{value:,.2f}" if isinstance(value, float) else f"{value:,}" if isinstance(value, int) else str(value)


def table(results: list[dict]) -> str:
    rows = [[_cell(r[key]) for key in COLUMNS.values()] for r in results]
    widths = [max(len(c), *(len(row[i]) for row in rows)) for i, c in enumerate(COLUMNS)]
    lines = [" | ".join(c.ljust(w) if i == 0 else c.rjust(w) for i, (c, w) in enumerate(zip(row, widths, strict=True)))
             for row in [list(COLUMNS), *rows]]
    lines.insert(1, "-+-".join("-" * w for w in widths))
    return "\n".join(lines)


def report(args: argparse.Namespace, stats: dict, limits: dict[str, dict], results: list[dict]) -> str:
    lines = [f"corpus: {stats['feeds']} feeds, {stats['entries']} entries, {stats['pages']} pages "
             f"({stats['arabic_pages']} Arabic, mean {stats['page_kb']} KB), planted duplicates: "
             f"{stats['dup_same_url']} same URL, {stats['dup_copy']} same body, {stats['dup_wire']} wire near-dups; "
             f"rendered in {stats['render_s']} s",
             f"pipeline: latency {args.latency_ms:g} ms, beam args: {args.beam_args or '(none: FnApiRunner)'}; "
             f"{os.cpu_count()} CPUs, load average {stats['load_avg']} at start (other work skews every figure)",
             *(f"{name}: {lim['processes']} processes, {lim['pages']} pages in {lim['seconds']} s, "
               f"{lim['cpu_s']} CPU-s ({lim['pages_with_text']} with text)" for name, lim in limits.items())]
    for r in results:
        lines.append(f"{r['scenario']}: exit {r['returncode']}, counters {r['counters'] or 'missing'}, "
                     f"server {r['server']}")
        if "blocked" in r:
            lines.append(f"  outside loopback: {len(r['blocked'])} attempts blocked {r['blocked'][:5]}"
                         if r["blocked"] else "  outside loopback: nothing attempted")
        if r["articles_counter"] != r["articles"]:
            lines.append(f"  WARNING: articles_written counter {r['articles_counter']} != {r['articles']} rows on disk")
    lines += [f"expected articles on the first run (distinct bodies): {stats['expected_articles']}", "", table(results)]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    load_avg = " ".join(f"{x:.2f}" for x in os.getloadavg())
    if args.peers:
        for peer in peers():  # before the corpus is served: a first run installs them
            ensure_venv(peer)
    corpus = build_corpus(args.feeds, args.articles_per_feed, args.seed, args.arabic_share, args.dup_share)
    with tempfile.TemporaryDirectory(prefix="news-ingest-bench-") as tmp:
        work = args.keep or Path(tmp)
        work.mkdir(parents=True, exist_ok=True)
        with served_corpus(args, corpus, work) as (server, pages, config, sizes):
            if args.serve:
                return serve_until_interrupted(config)
            results = run_scenarios(args, server, config, work)
            if args.peers:
                results += run_peers(args, corpus, server, work)
    sample = list(pages.items())
    if args.limit_pages and args.limit_pages < len(sample):
        sample = sample[::len(sample) // args.limit_pages][:args.limit_pages]
    # after the server's threads are gone: the pools fork
    limits = {"limit (bare trafilatura.extract)": extraction_limit(
                  bare_extract_has_text, [body for _, body in sample], args.processes),
              "extract_page": extraction_limit(
                  extract_page_has_text, [(decode_html(body, PAGE_TYPE)[0], url) for url, body in sample],
                  args.processes)}
    bare, ours = (lim["pages_per_s"] for lim in limits.values())
    # bare extraction's CPU for every page served (`--limit-pages` measures a sample of them)
    bare_cpu = next(iter(limits.values()))["cpu_s"] * len(pages) / len(sample)
    for r in results:
        r["limit_pages_per_s"], r["extract_page_pages_per_s"] = bare, ours
        r["cpu_vs_limit"] = round(r["cpu_s"] / bare_cpu, 2) if r["articles"] else None
        r["ratio"] = round(r["articles_per_s"] / bare, 3) if r["articles"] else None
        r["ratio_extract_page"] = round(r["articles_per_s"] / ours, 3) if r["articles"] else None
    stats = {**corpus.stats(), **sizes, "load_avg": load_avg}
    print(report(args, stats, limits, results))
    failed = [r for r in results if r["returncode"] != 0]
    for r in failed:
        print(f"\n{r['scenario']} failed; end of its output:\n{r['log']}", file=sys.stderr)
    if args.json:
        machine = {"cpus": os.cpu_count(), "python": platform.python_version(),
                   **{pkg: importlib.metadata.version(pkg) for pkg in ("apache-beam", "trafilatura")}}
        args.json.write_text(json.dumps({"params": {k: str(v) for k, v in vars(args).items()}, "machine": machine,
                                         "corpus": stats, "limits": limits, "scenarios": results}, indent=2))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
