"""Article HTML to fields, with trafilatura. The page is parsed once: the same tree serves the
JSON-LD look-up and trafilatura, which accepts a parsed tree."""

from __future__ import annotations

import json
import re

import lxml.html
import trafilatura
from trafilatura import load_html

from pipeline.records import Extracted

EXTRACTOR = f"trafilatura/{trafilatura.__version__}"
# Without these, htmldate guesses dates from copyright lines and drops the time of day.
_DATE_PARAMS = {"original_date": True, "extensive_search": False, "outputformat": "%Y-%m-%dT%H:%M:%S%z"}
_SPLIT_AUTHORS = re.compile(r"\s*(?:;|\||,|\band\b|\bو\s)\s*")
_FREE = {"true": True, "yes": True, "false": False, "no": False}


def _split(value: str | None) -> tuple[str, ...]:
    if not value:
        return ()
    return tuple(dict.fromkeys(p.strip() for p in _SPLIT_AUTHORS.split(value) if p and p.strip()))


def _find_free(node: object, depth: int = 0) -> bool | None:
    """`isAccessibleForFree` anywhere in a JSON-LD document (it may sit in @graph or hasPart)."""
    if depth > 8:
        return None
    if isinstance(node, dict):
        value = node.get("isAccessibleForFree")
        if isinstance(value, bool):
            return value
        if isinstance(value, str) and value.strip().lower() in _FREE:
            return _FREE[value.strip().lower()]
        children = node.values()
    elif isinstance(node, list):
        children = node
    else:
        return None
    for child in children:
        found = _find_free(child, depth + 1)
        if found is not None:
            return found
    return None


def accessible_for_free(tree: lxml.html.HtmlElement) -> bool | None:
    """What the page's JSON-LD says about a paywall; None when it says nothing (or is broken)."""
    for script in tree.iterfind(".//script[@type='application/ld+json']"):
        try:
            found = _find_free(json.loads(script.text or ""))
        except ValueError:
            continue
        if found is not None:
            return found
    return None


def extract_page(html: str, url: str) -> Extracted:
    """Body and metadata of one page; an empty `Extracted` when trafilatura finds no article."""
    tree = load_html(html)  # unlike lxml.html.fromstring, copes with XHTML's encoding declaration
    if tree is None:
        return Extracted()
    free = accessible_for_free(tree)
    doc = trafilatura.bare_extraction(
        tree,
        url=url,
        with_metadata=True,
        include_comments=False,
        include_tables=True,
        date_extraction_params=_DATE_PARAMS,
    )
    if doc is None:
        return Extracted(accessible_for_free=free)
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
        accessible_for_free=free,
    )
