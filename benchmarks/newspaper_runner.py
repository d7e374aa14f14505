"""newspaper4k over RSS feeds as a user would run it: read the feeds, then `Article(url).download();
parse()` on a thread pool. Runs in the peer's own venv (see `peers.py`), so it imports nothing of
news-ingest; its last line is a summary in the pipeline CLI's format for `measure.summary_counters`.

    python newspaper_runner.py FEEDS_FILE OUT.jsonl --threads 32
"""

from __future__ import annotations

import argparse
import json
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import feedparser
import requests
from newspaper import Article, Config


def config() -> Config:
    """Defaults, except what would leave the corpus: images are not downloaded to measure them."""
    c = Config()
    c.fetch_images = False
    c.memorize_articles = False
    c.requests_params["timeout"] = 20
    return c


def entry_links(feed_urls: list[str], timeout: float) -> list[str]:
    """Every feed's entry links in order, each URL once (a story listed by two feeds is one page)."""
    links: dict[str, None] = {}
    for url in feed_urls:
        parsed = feedparser.parse(requests.get(url, timeout=timeout).content)
        links.update((e.link, None) for e in parsed.entries if e.get("link"))
    return list(links)


def article(url: str, cfg: Config) -> tuple[str, str | None, str]:
    a = Article(url, config=cfg)
    a.download()
    a.parse()
    return url, a.title, a.text


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("feeds", type=Path, help="one feed URL a line")
    p.add_argument("out", type=Path, help="JSON lines, one per article with a non-empty body")
    p.add_argument("--threads", type=int, default=32)
    args = p.parse_args()
    cfg = config()
    urls = entry_links(args.feeds.read_text().split(), cfg.requests_params["timeout"])
    written = empty = failed = 0

    def safe(url: str) -> tuple[str, str | None, str] | None:
        try:
            return article(url, cfg)
        except Exception as e:  # a failed page is counted, as the pipeline counts rejects
            print(f"failed {url}: {e!r}", file=sys.stderr)
            return None

    with ThreadPoolExecutor(args.threads) as pool, args.out.open("w", encoding="utf-8") as out:
        for result in pool.map(safe, urls):
            if result is None:
                failed += 1
            elif result[2].strip():
                out.write(json.dumps({"url": result[0], "title": result[1], "text": result[2]}, ensure_ascii=False))
                out.write("\n")
                written += 1
            else:
                empty += 1
    print(f"run newspaper4k: {len(args.feeds.read_text().split())} feeds polled, {len(urls)} entries, "
          f"{written} articles written, {empty} empty bodies, {failed} failed")
    return 0


if __name__ == "__main__":
    sys.exit(main())
