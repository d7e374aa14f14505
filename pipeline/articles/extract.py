"""Article HTML to fields, with trafilatura. The page is parsed once: the same tree serves the
metadata look-ups and every extraction pass (each works on its own copy, as trafilatura mutates it).

Two costs are cut where the numbers allow (benchmarks/extraction_eval.py, `--feeds summary`):
- the body comes from a ladder of passes, cheapest first: trafilatura's `fast` pass (no fallback
  extractors), then its full pass, then its recall mode, each run only when the body so far looks
  wrong (`body_is_doubtful`). On the two labelled sets it scores 1.1 points of F1 above the full
  pass alone on one and 0.3 points of pass rate below it on the other, for about four fifths of
  its CPU;
- the page's metadata is searched only for what the feed entry does not already give: the author
  and category searches walk the whole tree (the author search copies it first), the rest reads
  `<head>` and JSON-LD.
"""

from __future__ import annotations

import contextlib
import json
import re

import lxml.html
import trafilatura
import trafilatura.utils
from lxml import etree
from trafilatura import load_html
from trafilatura import metadata as tmeta
from trafilatura.settings import Document

from pipeline.records import BodySource, Extracted, FeedEntry

EXTRACTOR = f"trafilatura/{trafilatura.__version__}"
# Without these, htmldate guesses dates from copyright lines and drops the time of day.
_DATE_PARAMS = {"original_date": True, "extensive_search": False, "outputformat": "%Y-%m-%dT%H:%M:%S%z"}
_SPLIT_AUTHORS = re.compile(r"\s*(?:;|\||,|\band\b|\bو\s)\s*")
_FREE = {"true": True, "yes": True, "false": False, "no": False}
# The passes, cheapest first, with the `body_source` each one's body is recorded as.
LADDER: tuple[tuple[BodySource, dict], ...] = (
    ("page", {"fast": True}), ("page", {}), ("page_recall", {"favor_recall": True}))
# Shorter than this (characters, so that scripts written without spaces count alike) a body is a
# teaser, a consent wall or a cut-off page rather than an article.
MIN_BODY_CHARS = 500
# lxml.html picks each element's Python class in a Python callback (`HtmlElementClassLookup`, for
# the classes of <form>, <input>, <select>...), run whenever code touches an element: some 3,400
# times a page in the fast pass, 5% of an extraction process's instructions. trafilatura uses none
# of those classes, so its parser gets lxml's C look-up, with the same classes for everything else.
HTML_CLASSES = etree.ElementDefaultClassLookup(element=lxml.html.HtmlElement, comment=lxml.html.HtmlComment,
                                               pi=lxml.html.HtmlProcessingInstruction, entity=lxml.html.HtmlEntity)
with contextlib.suppress(AttributeError):  # a trafilatura without its module parser: slower, not wrong
    trafilatura.utils.HTML_PARSER.set_element_class_lookup(HTML_CLASSES)


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


def body_is_doubtful(text: str | None, feed_text: str | None = None) -> bool:
    """Whether a pass's body looks wrong enough to pay for the next pass: too short to be an
    article, or much shorter than what the feed itself carries."""
    size = len(text or "")
    return size < MIN_BODY_CHARS or size < len(feed_text or "") // 2


def choose_body(tried: list[tuple[BodySource, str]], feed_text: str | None = None) -> tuple[BodySource, str]:
    """The first body that is not doubtful, else the longest one (the earlier on a tie)."""
    for source, text in tried:
        if not body_is_doubtful(text, feed_text):
            return source, text
    return max(tried, key=lambda pair: len(pair[1]), default=("page", ""))


def extract_body(tree: lxml.html.HtmlElement, feed_text: str | None = None) -> tuple[BodySource, str]:
    """The ladder of passes over one parsed page, stopping at the first body that looks right."""
    tried: list[tuple[BodySource, str]] = []
    for source, options in LADDER:
        doc = trafilatura.bare_extraction(  # passed a tree, trafilatura works on a copy of it
            tree, with_metadata=False, include_comments=False, include_tables=True, **options)
        tried.append((source, ((doc.text if doc is not None else None) or "").strip()))
        if not body_is_doubtful(tried[-1][1], feed_text):
            break
    return choose_body(tried, feed_text)


def page_metadata(tree: lxml.html.HtmlElement, url: str, entry: FeedEntry | None = None) -> Document:
    """trafilatura's metadata steps (meta tags, then JSON-LD over them, title, canonical URL,
    date, site name), with the whole-tree author and category searches only when the feed entry
    lacks those fields."""
    meta = tmeta.examine_meta(tree)
    if meta.author and " " not in meta.author:  # a single token is a handle or a site, not a name
        meta.author = None
    with contextlib.suppress(Exception):  # trafilatura's JSON-LD reader on malformed documents
        meta = tmeta.extract_meta_json(tree, meta)
    meta.title = meta.title or tmeta.extract_title(tree)
    if not meta.author and not (entry and entry.authors):
        meta.author = tmeta.extract_author(tree)
    meta.url = meta.url or tmeta.extract_url(tree, url)
    meta.date = tmeta.find_date(tree, url=meta.url, **_DATE_PARAMS)
    meta.sitename = (meta.sitename or tmeta.extract_sitename(tree) or "").lstrip("@") or None
    if not (entry and entry.categories):
        meta.categories = meta.categories or tmeta.extract_catstags("category", tree)
        meta.tags = meta.tags or tmeta.extract_catstags("tag", tree)
    return meta


def _declared_language(tree: lxml.html.HtmlElement) -> str | None:
    """The page's own `lang` (or `Content-Language` meta): a hint for the detector, never the answer."""
    declared = tree.get("lang") or tree.get("{http://www.w3.org/XML/1998/namespace}lang")
    if not declared:
        meta = tree.find(".//head/meta[@http-equiv='content-language']")
        declared = meta.get("content") if meta is not None else None
    return declared.strip() or None if declared else None


def extract_page(html: str, url: str, entry: FeedEntry | None = None) -> Extracted:
    """Body and metadata of one page; an empty `Extracted` when trafilatura finds no article."""
    tree = load_html(html)  # unlike lxml.html.fromstring, copes with XHTML's encoding declaration
    if tree is None:
        return Extracted()
    meta = page_metadata(tree, url, entry)
    feed_text = entry.own_text()[0] if entry else None
    source, text = extract_body(tree, feed_text)
    return Extracted(
        text=text or None,
        text_source=source,
        title=meta.title or None,
        description=meta.description or None,
        authors=_split(meta.author),
        date=meta.date or None,
        sitename=meta.sitename or None,
        categories=tuple(meta.categories or ()),
        tags=tuple(meta.tags or ()),
        image=meta.image or None,
        canonical_url=meta.url if meta.url and meta.url != url else None,
        language=_declared_language(tree),
        accessible_for_free=accessible_for_free(tree),
    )
