"""What one page costs an extraction process, part by part, against bare `trafilatura.extract`.

The benchmark's limit is bare extraction on every core; the pipeline's pool does more per page
(decoding, a ladder of passes, metadata, language, keywords, counts, MinHash). This measures both
on one core, in this process, over pages rendered by the benchmark's own generator (`corpus`,
`render`; nothing is served), so a change to the per-page work can be judged apart from fetching,
Beam and the machine's other load:

    .venv/bin/python benchmarks/page_costs.py --page-mix real --pages 300

CPU time per page, after one warm-up pass over the pages (models, caches, regexes loaded).
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections import Counter
from collections.abc import Callable, Sequence
from pathlib import Path

import trafilatura
from corpus import build_corpus
from measure import bare_extract_has_text
from render import MIXES, render_site

from pipeline.articles import extract, merge, neardup
from pipeline.articles.build import build
from pipeline.articles.decoding import decode_html
from pipeline.articles.keywords import keywords
from pipeline.articles.language import detect_language
from pipeline.records import FeedSource, Page
from pipeline.sources.feeds import parse_feed

_BASE = "http://site{}.invalid"  # never requested: pages are rendered, not served


def rendered_pages(pages: int, mix: str, seed: int = 1) -> list[Page]:
    """`pages` article pages with the feed entries that list them, as the fetch stage hands them on."""
    per_feed = 20
    corpus = build_corpus(max(1, -(-pages // per_feed)), per_feed, seed)
    feeds, bodies = render_site(corpus, [_BASE.format(i) for i in range(len(corpus.sites))], mix)
    out: list[Page] = []
    for url, document in feeds.items():
        for entry in parse_feed(document, FeedSource(url), url, "application/rss+xml").entries:
            if entry.link in bodies:
                out.append(Page(entry, entry.link, 200, bodies[entry.link], "text/html; charset=utf-8"))
    return out[:pages]


def cpu_ms(work: Callable[[Page], object], pages: Sequence[Page]) -> float:
    started = time.process_time()
    for page in pages:
        work(page)
    return (time.process_time() - started) / len(pages) * 1000


def costs(pages: Sequence[Page]) -> dict:
    html = {id(p): decode_html(p.body, p.content_type)[0] for p in pages}
    found = {id(p): extract.extract_page(html[id(p)], p.final_url, p.entry) for p in pages}
    merged = {id(p): merge.merge_article(p.entry, p.final_url, found[id(p)], 200, p.fetched_at) for p in pages}
    analysed = {id(p): merge.analyze(merged[id(p)]) for p in pages}
    trees = {id(p): trafilatura.load_html(html[id(p)]) for p in pages}

    parts: list[tuple[int, str, Callable[[Page], object]]] = [  # (depth in the printout, name, work)
        (0, "bare trafilatura.extract (the limit)", lambda p: bare_extract_has_text(p.body)),
        (0, "the pool's whole work per page (build, signed)", lambda p: build(p, True)),
        (1, "decoding", lambda p: decode_html(p.body, p.content_type)),
        (1, "extract_page", lambda p: extract.extract_page(html[id(p)], p.final_url, p.entry)),
        (2, "parsing the HTML", lambda p: trafilatura.load_html(html[id(p)])),
        (2, "metadata", lambda p: extract.page_metadata(trees[id(p)], p.final_url, p.entry)),
        (2, "the body's ladder of passes", lambda p: extract.extract_body(trees[id(p)], p.entry.own_text()[0])),
        (1, "merging entry and page",
         lambda p: merge.merge_article(p.entry, p.final_url, found[id(p)], 200, p.fetched_at)),
        (1, "analysis (language, counts, keywords)", lambda p: merge.analyze(merged[id(p)])),
        (2, "language", lambda p: detect_language(merge.language_sample(merged[id(p)]))),
        (2, "keywords", lambda p: keywords(merged[id(p)].title, merged[id(p)].body, analysed[id(p)].language)),
        (1, "MinHash signature", lambda p: neardup.signature(analysed[id(p)].body or "")),
    ]
    for _, _, work in parts:  # models, caches and regexes loaded
        work(pages[0])
    cpu_ms(lambda p: build(p, True), pages)  # and one pass over every page
    result = {name: round(cpu_ms(work, pages), 3) for _, name, work in parts}
    depths = {name: depth for depth, name, _ in parts}
    return {"ms_per_page": result, "depth": depths,
            "body_source": dict(Counter(a.body_source for a in analysed.values()))}


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--pages", type=int, default=300)
    p.add_argument("--page-mix", choices=MIXES, default="generated")
    p.add_argument("--json", help="write the figures here too")
    args = p.parse_args()
    pages = rendered_pages(args.pages, args.page_mix)
    result = {"pages": len(pages), "page_mix": args.page_mix,
              "mean_kb": round(sum(len(p.body or b"") for p in pages) / len(pages) / 1024, 1), **costs(pages)}
    print(f"{result['pages']} pages ({args.page_mix}, mean {result['mean_kb']} KB), CPU ms per page on one core:")
    for name, ms in result["ms_per_page"].items():
        print(f"{ms:9.2f}  {'  ' * result['depth'][name]}{name}")
    print(f"body_source: {result['body_source']}")
    if args.json:
        Path(args.json).write_text(json.dumps(result, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
