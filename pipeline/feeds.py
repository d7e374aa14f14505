"""Feed documents to `FeedEntry` records: RSS 0.9x/1.0/2.0 and Atom through feedparser.

Deliberate choices: relative links resolve against xml:base or the feed URL; an entry without a
usable link is rejected (`no_link`) rather than invented; a guid repeated inside one document keeps
its first entry; dates in the future (beyond a day of clock skew) are dropped, not trusted.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

import feedparser
import lxml.html
from lxml.etree import ParserError

from pipeline.dates import clamp_future, to_utc
from pipeline.records import FeedEntry, FeedSource, Reject, utc_now
from pipeline.urls import canonicalize_url, domain_of, resolve, url_key

_BLOCK_TAGS = ("p", "div", "br", "li", "h1", "h2", "h3", "h4", "h5", "h6", "blockquote", "tr")


@dataclass(frozen=True)
class ParsedFeed:
    title: str | None
    entries: list[FeedEntry]
    rejects: list[Reject]


def html_to_text(fragment: str | None) -> str | None:
    """Plain text of an HTML fragment from a feed, keeping paragraph breaks."""
    if not fragment or not fragment.strip():
        return None
    if "<" not in fragment:
        return fragment.strip()
    try:
        root = lxml.html.fragment_fromstring(fragment, create_parent="div")
    except (ParserError, ValueError):
        return fragment.strip()
    for el in root.iter(*_BLOCK_TAGS):
        el.tail = "\n" + (el.tail or "")
    lines = (" ".join(line.split()) for line in root.text_content().splitlines())
    return "\n".join(line for line in lines if line) or None


def _authors(entry: feedparser.FeedParserDict) -> tuple[str, ...]:
    names = [a.get("name", "").strip() for a in entry.get("authors", []) if isinstance(a, dict)]
    names = [n for n in names if n]
    if not names and entry.get("author"):
        names = [entry["author"].strip()]
    return tuple(dict.fromkeys(names))


def _link(entry: feedparser.FeedParserDict, base: str) -> str | None:
    candidates = [entry.get("link")]
    candidates += [ln.get("href") for ln in entry.get("links", []) if ln.get("rel") == "alternate"]
    guid = entry.get("id")
    if guid and entry.get("guidislink", True) and guid.startswith(("http://", "https://")):
        candidates.append(guid)
    for link in candidates:
        if link and link.strip():
            absolute = resolve(link, base)
            if absolute.startswith(("http://", "https://")):
                return absolute
    return None


def _content(entry: feedparser.FeedParserDict) -> str | None:
    blocks = entry.get("content") or []
    html = max((b.get("value", "") for b in blocks), key=len, default="")
    return html_to_text(html)


def _date(parsed: object, now: datetime) -> datetime | None:
    return clamp_future(to_utc(parsed), now) if parsed else None


def parse_feed(body: bytes, source: FeedSource, fetched_url: str, content_type: str = "") -> ParsedFeed:
    """Parse one fetched feed document; a document with no entries and a parse error is one reject."""
    headers = {"content-location": fetched_url}
    if content_type:
        headers["content-type"] = content_type
    doc = feedparser.parse(body, response_headers=headers, sanitize_html=False, resolve_relative_uris=True)
    feed_title = (doc.feed.get("title") or "").strip() or None
    if doc.bozo and not doc.entries:
        exc = doc.get("bozo_exception")
        reason = "not_a_feed" if not doc.get("version") else "malformed_feed"
        return ParsedFeed(feed_title, [], [Reject(source.url, None, "poll", reason,
                                                  detail=f"{type(exc).__name__}: {exc}"[:500])])
    name = source.name or feed_title or domain_of(source.url)
    now = utc_now()
    entries: list[FeedEntry] = []
    rejects: list[Reject] = []
    seen_ids: set[str] = set()
    for raw in doc.entries:
        guid = raw.get("id") or None
        if guid and guid in seen_ids:
            continue
        if guid:
            seen_ids.add(guid)
        link = _link(raw, fetched_url)
        title = (raw.get("title") or "").strip() or None
        if link is None:
            rejects.append(Reject(guid or fetched_url, source.url, "poll", "no_link",
                                  detail=f"entry without a usable link: {title or guid or '?'}"[:500]))
            continue
        terms = ((tag.get("term") or "").strip() for tag in raw.get("tags", []))
        categories = tuple(t for t in dict.fromkeys(terms) if t)
        entries.append(
            FeedEntry(
                feed_url=source.url,
                source=name,
                link=link,
                url_key=url_key(canonicalize_url(link)),
                entry_id=guid,
                title=title,
                summary=html_to_text(raw.get("summary")),
                content=_content(raw),
                authors=_authors(raw),
                categories=categories,
                # dict.get: FeedParserDict.get would silently alias updated_parsed to published_parsed
                published_at=_date(dict.get(raw, "published_parsed"), now),
                updated_at=_date(dict.get(raw, "updated_parsed"), now),
                language_hint=source.language or _language(doc),
                tags=source.tags,
            )
        )
    return ParsedFeed(feed_title, entries, rejects)


def _language(doc: feedparser.FeedParserDict) -> str | None:
    lang = (doc.feed.get("language") or "").strip().lower()
    return lang.split("-", 1)[0] or None
