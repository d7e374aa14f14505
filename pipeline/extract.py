"""Article HTML to fields, with trafilatura. One parse per page; metadata and body come together."""

from __future__ import annotations

import re

import trafilatura

from pipeline.records import Extracted

EXTRACTOR = f"trafilatura/{trafilatura.__version__}"
# Without these, htmldate guesses dates from copyright lines and drops the time of day.
_DATE_PARAMS = {"original_date": True, "extensive_search": False, "outputformat": "%Y-%m-%dT%H:%M:%S%z"}
_SPLIT_AUTHORS = re.compile(r"\s*(?:;|\||,|\band\b|\bو\s)\s*")


def _split(value: str | None, pattern: re.Pattern[str] = _SPLIT_AUTHORS) -> tuple[str, ...]:
    if not value:
        return ()
    return tuple(dict.fromkeys(p.strip() for p in pattern.split(value) if p and p.strip()))


def extract_page(html: str, url: str) -> Extracted:
    """Body and metadata of one page; an empty `Extracted` when trafilatura finds no article."""
    doc = trafilatura.bare_extraction(
        html,
        url=url,
        with_metadata=True,
        include_comments=False,
        include_tables=True,
        date_extraction_params=_DATE_PARAMS,
    )
    if doc is None:
        return Extracted()
    return Extracted(
        text=(doc.text or "").strip() or None,
        title=doc.title or None,
        description=doc.description or None,
        authors=_split(doc.author),
        date=doc.date or None,
        sitename=doc.sitename or None,
        categories=tuple(doc.categories or ()),
        tags=tuple(doc.tags or ()),
        image=doc.image or None,
        canonical_url=doc.url if doc.url and doc.url != url else None,
        language=doc.language or None,
    )
