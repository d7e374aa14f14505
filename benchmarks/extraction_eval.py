"""Stored-body quality of the real pipeline against labelled pages, beside bare trafilatura.

    .venv/bin/python benchmarks/extraction_eval.py --data ../shared/extraction-dev --feeds summary

Each set's pages are served from loopback (bytes as stored, `text/html` without a charset, as
many servers send them) and listed in generated RSS feeds, 50 entries a feed; `--feeds` says what
an entry carries besides its link: `link` (title only), `summary` (the page's own meta/og
description, as most publishers' feeds do), or `full` (the expected article text as
`content:encoded`, as full-text feeds do; readability set only). The real pipeline (`run_batch`)
ingests them, its Parquet is read back, and each stored body is scored:

- trafilatura's evaluation pages: a page passes when every `with` snippet is in the body and no
  `without` snippet is; snippet precision and recall over all snippets;
- Mozilla Readability's test pages: token F1 and word-shingle (3-gram) F1 of the body against the
  text of `expected.html`.

Bare `trafilatura.extract(html)` (default options) over the same bytes is scored beside it, per
language as the pipeline detected it. Nothing is tuned here: these sets measure, other sets decide.
"""

from __future__ import annotations

import argparse
import gzip
import html as htmllib
import json
import re
import sys
import tempfile
import time
from collections import Counter, defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from multiprocessing import Pool
from pathlib import Path

import lxml.html
import pyarrow.dataset as ds
import stopwordsiso
import trafilatura
from measure import trafilatura_as_installed

from pipeline.articles.extract import extract_page
from pipeline.commands.demo_server import FixtureServer, send
from pipeline.config import parse_config
from pipeline.run import run_batch

_WORD = re.compile(r"\w+", re.UNICODE)
_CJK = re.compile(r"[\u3040-\u30ff\u3400-\u9fff\uf900-\ufaff]")
_PER_FEED = 50


@dataclass(frozen=True)
class Page:
    id: str
    html: bytes
    with_: tuple[str, ...] = ()  # trafilatura set: snippets the body must contain
    without: tuple[str, ...] = ()  # ... and must not
    expected: str | None = None  # readability set: the article text


def load_trafilatura(root: Path) -> list[Page]:
    data = json.loads((root / "evaldata.json").read_text(encoding="utf-8"))
    return [Page(f"t{i}", gzip.decompress((root / "html" / f"{item['file']}.gz").read_bytes()),
                 tuple(item.get("with") or ()), tuple(item.get("without") or ()))
            for i, item in enumerate(data.values())]


def _text_of(html: bytes) -> str:
    return " ".join(lxml.html.fromstring(html.decode("utf-8")).text_content().split())  # the set is UTF-8


def load_readability(root: Path) -> list[Page]:
    return [Page(f"r{i}", (d / "source.html").read_bytes(), expected=_text_of((d / "expected.html").read_bytes()))
            for i, d in enumerate(sorted(p for p in (root / "test-pages").iterdir() if p.is_dir()))]


def _meta(tree: lxml.html.HtmlElement, *names: str) -> str | None:
    for name in names:
        for el in tree.xpath(f"//meta[@name='{name}' or @property='{name}']"):
            if (el.get("content") or "").strip():
                return el.get("content").strip()
    return None


def feed_item(page: Page, base: str, mode: str) -> str:
    """The RSS <item> of one page."""
    try:
        tree = lxml.html.fromstring(page.html)
        title = _meta(tree, "og:title") or " ".join((tree.findtext(".//title") or "").split())
        summary = _meta(tree, "description", "og:description") if mode == "summary" else None
    except (ValueError, lxml.etree.ParserError):
        title, summary = None, None
    parts = [f"<title>{htmllib.escape(title or page.id)}</title>", f"<link>{base}/p/{page.id}.html</link>"]
    if summary:
        parts.append(f"<description>{htmllib.escape(summary)}</description>")
    if mode == "full" and page.expected:
        parts.append(f"<content:encoded>{htmllib.escape(page.expected)}</content:encoded>")
    return "<item>" + "".join(parts) + "</item>"


def serve(server: FixtureServer, pages: list[Page], mode: str) -> list[str]:
    """Routes for every page and feed; returns the feed URLs."""
    for page in pages:
        server.routes[f"/p/{page.id}.html"] = lambda h, b=page.html: send(h, 200, b, "text/html")
    urls = []
    for n in range(0, len(pages), _PER_FEED):
        items = "".join(feed_item(p, server.base, mode) for p in pages[n:n + _PER_FEED])
        body = ("<?xml version='1.0' encoding='utf-8'?><rss version='2.0' "
                "xmlns:content='http://purl.org/rss/1.0/modules/content/'><channel><title>eval</title>"
                f"{items}</channel></rss>").encode()
        server.routes[f"/feed{n}.xml"] = lambda h, b=body: send(h, 200, b, "application/rss+xml")
        urls.append(server.url(f"feed{n}.xml"))
    return urls


def run_pipeline(pages: list[Page], mode: str, work: Path) -> dict[str, dict]:
    """page id -> the stored row (body, language, body_source)."""
    with FixtureServer(work) as server:
        feeds = serve(server, pages, mode)
        cfg = parse_config({
            "feeds": [{"url": u, "check_robots": False} for u in feeds], "output": {"path": str(work / "out")},
            "http": {"allow_private_networks": True, "per_host_delay_s": 0, "per_host_concurrency": 16,
                     "retries": 0},
            "polling": {"respect_robots": False, "max_entries_per_run": 0}})
        run_batch(cfg)
    table = ds.dataset(work / "out" / "articles", format="parquet", partitioning="hive").to_table(
        columns=["url", "body", "language", "body_source", "keywords"])
    return {row["url"].rsplit("/", 1)[1].removesuffix(".html"): row for row in table.to_pylist()}


def _bare(page: Page) -> tuple[str, float]:
    started = time.process_time()
    with trafilatura_as_installed():
        text = trafilatura.extract(page.html) or ""
    return text, time.process_time() - started


def _chosen_cost(page: Page) -> float:
    """CPU seconds of the pipeline's extraction path on one page (decoding excluded)."""
    html = page.html.decode("utf-8", errors="replace")
    started = time.process_time()
    extract_page(html, "http://127.0.0.1/p.html")
    return time.process_time() - started


def snippet_scores(pages: list[Page], bodies: dict[str, str]) -> dict:
    passed = tp = fn = fp = 0
    for page in pages:
        body = bodies.get(page.id) or ""
        found = [s in body for s in page.with_]
        leaked = [s in body for s in page.without]
        tp, fn, fp = tp + sum(found), fn + found.count(False), fp + sum(leaked)
        passed += all(found) and not any(leaked)
    return {"pages": len(pages), "pass_rate": passed / max(len(pages), 1),
            "precision": tp / max(tp + fp, 1), "recall": tp / max(tp + fn, 1)}


def _f1(got: Counter, want: Counter) -> float:
    common = sum((got & want).values())
    if not common:
        return 0.0
    p, r = common / sum(got.values()), common / sum(want.values())
    return 2 * p * r / (p + r)


def _tokens(text: str) -> list[str]:
    """Words; Han and kana, written without spaces, count one token per character."""
    return [t for word in _WORD.findall(text.casefold()) for t in (list(word) if _CJK.search(word) else [word])]


def text_scores(pages: list[Page], bodies: dict[str, str]) -> dict:
    token, shingle = [], []
    for page in pages:
        got, want = _tokens(bodies.get(page.id) or ""), _tokens(page.expected or "")
        token.append(_f1(Counter(got), Counter(want)))
        shingle.append(_f1(Counter(zip(got, got[1:], got[2:], strict=False)),
                           Counter(zip(want, want[1:], want[2:], strict=False))))
    n = max(len(pages), 1)
    return {"pages": len(pages), "token_f1": sum(token) / n, "shingle_f1": sum(shingle) / n}


def score(pages: list[Page], bodies: dict[str, str]) -> dict:
    return snippet_scores(pages, bodies) if pages and pages[0].expected is None else text_scores(pages, bodies)


def by_language(pages: list[Page], rows: dict[str, dict]) -> dict[str, list[Page]]:
    groups: defaultdict[str, list[Page]] = defaultdict(list)
    for page in pages:
        groups[(rows.get(page.id) or {}).get("language") or "und"].append(page)
    return groups


def evaluate(name: str, pages: list[Page], mode: str, processes: int) -> dict:
    with tempfile.TemporaryDirectory() as tmp:
        started = time.monotonic()
        rows = run_pipeline(pages, mode, Path(tmp))
        pipeline_s = time.monotonic() - started
    with Pool(processes) as pool:
        bare = dict(zip((p.id for p in pages), pool.map(_bare, pages, chunksize=4), strict=True))
        chosen_ms = 1000 * sum(pool.map(_chosen_cost, pages, chunksize=4)) / max(len(pages), 1)
    # A page whose row is missing was dropped as an exact duplicate of another page of the set
    # (same canonical URL or body: several test pages are variants of one page); both are scored
    # on the pages that have a row.
    dropped = [p.id for p in pages if p.id not in rows]
    pages = [p for p in pages if p.id in rows]
    ours = {i: r["body"] or "" for i, r in rows.items()}
    theirs = {i: text for i, (text, _) in bare.items()}
    sources = Counter(r["body_source"] for r in rows.values())
    empty = [p.id for p in pages if not ours.get(p.id)]
    result = {
        "set": name, "feeds": mode, "pages": len(pages) + len(dropped), "rows": len(rows),
        "dropped_as_duplicates": dropped, "pipeline_wall_s": round(pipeline_s, 1),
        "pipeline": score(pages, ours), "bare_trafilatura": score(pages, theirs),
        "ms_per_page": {"extract_page": round(chosen_ms, 1),
                        "bare_extract": round(1000 * sum(c for _, c in bare.values()) / max(len(pages), 1), 1)},
        "body_source": dict(sources), "empty_bodies": empty, "keywords": keyword_check(rows),
        "by_language": {lang: {"pipeline": score(group, ours), "bare_trafilatura": score(group, theirs)}
                        for lang, group in sorted(by_language(pages, rows).items(), key=lambda kv: -len(kv[1]))},
    }
    return result


def keyword_check(rows: dict[str, dict]) -> dict[str, dict]:
    """Per detected language: how many rows have keywords, and every keyword that is a stopword
    of that language's stopwords-iso list (which should be none), with a sample to read."""
    out: dict[str, dict] = {}
    for lang, group in sorted(_by_key(rows.values(), "language").items(), key=lambda kv: -len(kv[1])):
        stop = {w.casefold() for w in stopwordsiso.stopwords(lang)} if stopwordsiso.has_lang(lang) else set()
        found = sorted({k for r in group for k in (r["keywords"] or []) if k.casefold() in stop})
        out[lang] = {"rows": len(group), "with_keywords": sum(bool(r["keywords"]) for r in group),
                     "stopwords": found, "sample": [list(r["keywords"] or []) for r in group[:2]]}
    return out


def _by_key(rows: Iterable[dict], key: str) -> dict[str, list[dict]]:
    groups: defaultdict[str, list[dict]] = defaultdict(list)
    for row in rows:
        groups[row[key] or "und"].append(row)
    return groups


def _fmt(scores: dict) -> str:
    keys = ("pass_rate", "precision", "recall") if "pass_rate" in scores else ("token_f1", "shingle_f1")
    return " ".join(f"{k} {scores[k]:.3f}" for k in keys)


def report(results: Iterable[dict]) -> str:
    lines = []
    for r in results:
        lines += [f"{r['set']} ({r['pages']} pages, feeds: {r['feeds']}): {r['rows']} rows "
                  f"({len(r['dropped_as_duplicates'])} dropped as duplicates), "
                  f"{len(r['empty_bodies'])} empty bodies, body_source {r['body_source']}, "
                  f"pipeline run {r['pipeline_wall_s']} s",
                  f"  pipeline          {_fmt(r['pipeline'])}",
                  f"  bare trafilatura  {_fmt(r['bare_trafilatura'])}",
                  f"  CPU ms/page: extract_page {r['ms_per_page']['extract_page']}, "
                  f"bare extract {r['ms_per_page']['bare_extract']}"]
        for lang, s in r["by_language"].items():
            lines.append(f"  [{lang:>3}] {s['pipeline']['pages']:>4} pages: pipeline {_fmt(s['pipeline'])} | "
                         f"bare {_fmt(s['bare_trafilatura'])}")
        for lang, k in r["keywords"].items():
            lines.append(f"  keywords [{lang:>3}] {k['with_keywords']}/{k['rows']} rows with keywords, "
                         f"stopwords among them: {k['stopwords'] or 'none'}; e.g. {k['sample'][0][:6]}")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--data", type=Path, required=True, help="folder with trafilatura_eval/ and readability_test_pages/")
    p.add_argument("--set", choices=("trafilatura", "readability", "both"), default="both")
    p.add_argument("--feeds", choices=("link", "summary", "full"), default="summary")
    p.add_argument("--limit", type=int, help="only the first N pages of each set")
    p.add_argument("--processes", type=int, default=2)
    p.add_argument("--json", type=Path, help="also write the results here")
    args = p.parse_args(argv)
    sets = []
    if args.set in ("trafilatura", "both"):
        sets.append(("trafilatura_eval", load_trafilatura(args.data / "trafilatura_eval")))
    if args.set in ("readability", "both"):
        sets.append(("readability_test_pages", load_readability(args.data / "readability_test_pages")))
    results = [evaluate(name, pages[:args.limit] if args.limit else pages, args.feeds, args.processes)
               for name, pages in sets]
    print(report(results))
    if args.json:
        args.json.write_text(json.dumps(results, indent=1, ensure_ascii=False))
    return 0


if __name__ == "__main__":
    sys.exit(main())
