"""A fetched page to an analysed article: the work an extraction process does per page.

No Beam here: the extraction pool's processes import this module and what it needs, nothing more
(`transforms/pool.py` preloads it once in the process they are forked from).
"""

from __future__ import annotations

from typing import NamedTuple

from pipeline.articles import neardup
from pipeline.articles.decoding import decode_html
from pipeline.articles.extract import extract_page
from pipeline.articles.merge import analyze, merge_article
from pipeline.records import Article, Extracted, Page


class Built(NamedTuple):
    article: Article
    extracted: Extracted | None
    error: str | None
    signature: bytes | None  # of the body, with `neardup.DEFAULT`'s shingles and permutations


def built(page: Page, extracted: Extracted | None, error: str | None, sign: bool) -> Built:
    """The article from what extraction gave (`None`: the feed's text), analysed, signed if `sign`."""
    article = analyze(merge_article(page.entry, page.final_url, extracted, page.http_status, page.fetched_at))
    return Built(article, extracted, error, neardup.signature(article.body or "") if sign else None)


def build(page: Page, sign: bool) -> Built:
    """A parser bug on one page comes back as a value (the article then falls back to the feed's
    text), never as a broken pool or run."""
    extracted, error = None, None
    if page.body is not None:
        try:
            extracted = extract_page(decode_html(page.body, page.content_type)[0], page.final_url, page.entry)
        except Exception as err:
            error = f"{type(err).__name__}: {err}"[:500]
    return built(page, extracted, error, sign)
