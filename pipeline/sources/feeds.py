"""Feed documents to `FeedEntry` records: RSS 0.9x/1.0/2.0 and Atom through feedparser, JSON Feed 1.x.

Deliberate choices: relative links resolve against xml:base or the feed URL (JSON Feed: against its
`home_page_url`, else the feed URL); an entry without a usable link is rejected (`no_link`) rather
than invented; an id repeated inside one document keeps its first entry (entries without an id are
deduplicated by link); dates in the future (beyond a day of clock skew) are dropped, not trusted.

Hostile documents are refused before any parser sees them: a DTD that declares parameter or
external entities, entities that refer to other entities (the "billion laughs"), long or many
entity values, or an oversized DTD is one reject `unsafe_xml` (see `pipeline.sources.xmlsafe`). Reject reasons of
a whole document: `empty_feed`, `not_a_feed`, `malformed_feed`, `unsafe_xml`, `parse_error`.

One bad character never costs more than its entry: invalid UTF-8 bytes and character references
to forbidden code points are repaired to U+FFFD first (`pipeline.sources.repair`), text is scrubbed
as records are built (`pipeline.records`), an entry whose link carries a broken character is a
`parse_error` reject, and any exception while parsing the document or one entry is a `parse_error`
reject of that document or entry, never an exception out of `parse_feed`.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from datetime import datetime

import feedparser
import lxml.html
from lxml.etree import ParserError

from pipeline.dates import clamp_future, to_utc
from pipeline.records import FeedEntry, FeedSource, Reject, utc_now
from pipeline.sources.repair import neutralize_char_refs, repair_utf8
from pipeline.sources.xmlsafe import xml_hazard
from pipeline.text import primary_language, scrub
from pipeline.urls import canonicalize_url, domain_of, resolve, url_key

_BLOCK_TAGS = ("p", "div", "br", "li", "h1", "h2", "h3", "h4", "h5", "h6", "blockquote", "tr")
_JSON_TYPES = ("application/feed+json", "application/json", "text/json")
_JSONFEED_VERSION = re.compile(r"^https?://jsonfeed\.org/version/1(?:\.\d+)?/?$")
# Flagged by feedparser although the document parsed fine: a feed with no items is then just empty.
_BENIGN_BOZO = (feedparser.CharacterEncodingOverride, feedparser.NonXMLContentType)
# RSS 1.0 syndication module: <sy:updatePeriod> per <sy:updateFrequency>, used when <ttl> is absent.
_SY_PERIOD_MINUTES = {"hourly": 60, "daily": 1440, "weekly": 10080, "monthly": 43200, "yearly": 525600}


@dataclass(frozen=True)
class ParsedFeed:
    title: str | None
    entries: list[FeedEntry]
    rejects: list[Reject]
    # RSS <ttl> (or the sy:updatePeriod/updateFrequency equivalent): minutes the publisher asks
    # readers to wait between polls. None when the document says nothing.
    ttl_minutes: int | None = None


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


# ---------------------------------------------------------------------------------------------
# RSS / Atom through feedparser.

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
    return _first_http(candidates, base)


def _first_http(candidates: list[object], base: str) -> str | None:
    for link in candidates:
        if isinstance(link, str) and link.strip():
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


def _ttl_minutes(feed: feedparser.FeedParserDict) -> int | None:
    ttl = str(feed.get("ttl") or "").strip()
    if ttl.isdigit() and int(ttl) > 0:
        return int(ttl)
    period = _SY_PERIOD_MINUTES.get(str(feed.get("sy_updateperiod") or "").strip().lower())
    if period is None:
        return None
    frequency = str(feed.get("sy_updatefrequency") or "1").strip()
    return max(1, period // int(frequency)) if frequency.isdigit() and int(frequency) > 0 else period


def _document_reject(source: FeedSource, reason: str, detail: str) -> Reject:
    return Reject(source.url, None, "poll", reason, detail=detail[:500])


class _Dedup:
    """One entry per id inside a document; entries without an id, one per link."""

    def __init__(self) -> None:
        self._seen: set[tuple[str, str]] = set()

    def first(self, guid: str | None, link: str | None) -> bool:
        key = ("id", guid) if guid else ("link", link) if link else None
        if key is None:
            return True
        if key in self._seen:
            return False
        self._seen.add(key)
        return True


def _no_link(source: FeedSource, fetched_url: str, guid: str | None, title: str | None,
             raw_link: object = None) -> Reject:
    """The reject names the link that was refused (a `javascript:` or `data:` URL, say) when there
    was one, else the guid, else the feed."""
    refused = raw_link.strip()[:2000] if isinstance(raw_link, str) and raw_link.strip() else None
    return Reject(refused or guid or fetched_url, source.url, "poll", "no_link",
                  detail=f"entry without a usable link: {title or guid or '?'}"[:500])


def error_detail(err: BaseException) -> str:
    """`Class: message` of an exception, for a reject's detail."""
    return f"{type(err).__name__}: {err}"[:500]


def _parse_error(source: FeedSource, url: str, err: BaseException | str) -> Reject:
    detail = err if isinstance(err, str) else error_detail(err)
    return Reject(url, source.url, "poll", "parse_error", detail=detail[:500])


def _broken_link(link: str) -> bool:
    """A link that held an invalid byte or character: fetching a guess would be wrong."""
    return "\ufffd" in scrub(link)


def parse_feed(body: bytes, source: FeedSource, fetched_url: str, content_type: str = "") -> ParsedFeed:
    """Parse one fetched feed document; a document that yields no entries and is broken is one
    reject. Never raises: an exception is a `parse_error` reject of the document or the entry."""
    try:
        return _parse_feed(body, source, fetched_url, content_type)
    except Exception as err:  # any parser failure is this document's reject
        return ParsedFeed(None, [], [_document_reject(source, "parse_error", error_detail(err))])


def _parse_feed(body: bytes, source: FeedSource, fetched_url: str, content_type: str) -> ParsedFeed:
    stripped = body.lstrip(b"\xef\xbb\xbf \t\r\n\f\x00")
    if not stripped:
        return ParsedFeed(None, [], [_document_reject(source, "empty_feed", "empty response body")])
    media_type = content_type.split(";", 1)[0].strip().lower()
    if stripped.startswith(b"{") or (media_type in _JSON_TYPES and not stripped.startswith(b"<")):
        return _parse_json_feed(body, source, fetched_url)
    hazard = xml_hazard(body)
    if hazard:
        return ParsedFeed(None, [], [_document_reject(source, "unsafe_xml", hazard)])
    headers = {"content-location": fetched_url}
    if content_type:
        headers["content-type"] = content_type
    body = neutralize_char_refs(repair_utf8(body, content_type))
    # Links (`<link>`, `href`, ids) are resolved against the feed's URL and xml:base either way; links
    # inside summary and content HTML need not be, as only their text is kept (a third of the parse).
    doc = feedparser.parse(body, response_headers=headers, sanitize_html=False, resolve_relative_uris=False)
    feed_title = (doc.feed.get("title") or "").strip() or None
    ttl = _ttl_minutes(doc.feed)
    broken = doc.bozo and not isinstance(doc.get("bozo_exception"), _BENIGN_BOZO)
    if not doc.entries and (broken or not doc.get("version")):
        exc = doc.get("bozo_exception")
        reason = "not_a_feed" if not doc.get("version") else "malformed_feed"
        detail = f"{type(exc).__name__}: {exc}" if exc else "no feed element (an HTML page?)"
        return ParsedFeed(feed_title, [], [_document_reject(source, reason, detail)], ttl)
    name = source.name or feed_title or domain_of(source.url)
    language = source.language or primary_language(doc.feed.get("language"))
    now = utc_now()
    entries: list[FeedEntry] = []
    rejects: list[Reject] = []
    dedup = _Dedup()
    for raw in doc.entries:
        try:
            entry = _rss_entry(raw, source, fetched_url, name, language, now, dedup)
        except Exception as err:  # one entry's failure is that entry's reject
            rejects.append(_parse_error(source, _entry_ref(raw, fetched_url), err))
            continue
        if isinstance(entry, FeedEntry):
            entries.append(entry)
        elif entry is not None:
            rejects.append(entry)
    return ParsedFeed(feed_title, entries, rejects, ttl)


def _entry_ref(raw: dict, fetched_url: str) -> str:
    for key in ("link", "url", "id"):
        value = raw.get(key)
        if isinstance(value, str) and value.strip():
            return value
    return fetched_url


def _rss_entry(raw: feedparser.FeedParserDict, source: FeedSource, fetched_url: str, name: str,
               language: str | None, now: datetime, dedup: _Dedup) -> FeedEntry | Reject | None:
    """One feedparser entry: the record, its reject, or None for a repeat."""
    guid = raw.get("id") or None
    link = _link(raw, fetched_url)
    if not dedup.first(guid, link):
        return None
    title = (raw.get("title") or "").strip() or None
    if link is None:
        return _no_link(source, fetched_url, guid, title, raw.get("link"))
    if _broken_link(link):
        return _parse_error(source, link, f"invalid character in link: {title or guid or '?'}")
    terms = ((tag.get("term") or "").strip() for tag in raw.get("tags", []))
    categories = tuple(t for t in dict.fromkeys(terms) if t)
    return FeedEntry(
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
        # feedparser cannot read Arabic month names: the raw string goes to pipeline.dates then
        published_at=_date(dict.get(raw, "published_parsed") or dict.get(raw, "published"), now),
        updated_at=_date(dict.get(raw, "updated_parsed") or dict.get(raw, "updated"), now),
        language_hint=language,
        tags=source.tags,
    )


# ---------------------------------------------------------------------------------------------
# JSON Feed 1.0 / 1.1 (https://www.jsonfeed.org/version/1.1/), which feedparser does not read.

def _text(value: object) -> str | None:
    return value.strip() or None if isinstance(value, str) else None


def _json_authors(obj: dict) -> tuple[str, ...]:
    people = obj.get("authors")
    if not isinstance(people, list):  # 1.0 has a single `author` object
        people = [obj.get("author")]
    names = (_text(p.get("name")) for p in people if isinstance(p, dict))
    return tuple(dict.fromkeys(n for n in names if n))


def _parse_json_feed(body: bytes, source: FeedSource, fetched_url: str) -> ParsedFeed:
    try:
        doc = json.loads(body)
    except (ValueError, RecursionError) as err:  # JSONDecodeError and UnicodeDecodeError are ValueErrors
        return ParsedFeed(None, [], [_document_reject(source, "malformed_feed",
                                                      f"invalid JSON: {type(err).__name__}: {err}")])
    version = doc.get("version") if isinstance(doc, dict) else None
    if not isinstance(version, str) or not _JSONFEED_VERSION.match(version.strip()):
        return ParsedFeed(None, [], [_document_reject(source, "not_a_feed",
                                                      "JSON without a jsonfeed.org version")])
    feed_title = _text(doc.get("title"))
    items = doc.get("items")
    if not isinstance(items, list):
        return ParsedFeed(feed_title, [], [_document_reject(source, "malformed_feed",
                                                            "JSON Feed without an items list")])
    home = _first_http([doc.get("home_page_url")], fetched_url)
    base = home or fetched_url
    name = source.name or feed_title or domain_of(source.url)
    feed_language = primary_language(doc.get("language"))
    feed_authors = _json_authors(doc)
    now = utc_now()
    entries: list[FeedEntry] = []
    rejects: list[Reject] = []
    dedup = _Dedup()
    for position, item in enumerate(items):
        if not isinstance(item, dict):
            rejects.append(Reject(fetched_url, source.url, "poll", "malformed_entry",
                                  detail=f"item {position} is a {type(item).__name__}, not an object"))
            continue
        try:
            entry = _json_entry(item, source, fetched_url, base, name, feed_language, feed_authors, now, dedup)
        except Exception as err:  # one item's failure is that item's reject
            rejects.append(_parse_error(source, _entry_ref(item, fetched_url), err))
            continue
        if isinstance(entry, FeedEntry):
            entries.append(entry)
        elif entry is not None:
            rejects.append(entry)
    return ParsedFeed(feed_title, entries, rejects)


def _json_entry(item: dict, source: FeedSource, fetched_url: str, base: str, name: str, feed_language: str | None,
                feed_authors: tuple[str, ...], now: datetime,
                dedup: _Dedup) -> FeedEntry | Reject | None:
    """One JSON Feed item: the record, its reject, or None for a repeat."""
    raw_id = item.get("id")
    # The spec: an id given as a number (or another type) is coerced to a string.
    guid = (_text(raw_id) if isinstance(raw_id, str)
            else str(raw_id) if isinstance(raw_id, int | float) and not isinstance(raw_id, bool) else None)
    link = _first_http([item.get("url"), item.get("external_url")], base)
    if not dedup.first(guid, link):
        return None
    title = _text(item.get("title"))
    if link is None:
        return _no_link(source, fetched_url, guid, title, item.get("url") or item.get("external_url"))
    if _broken_link(link):
        return _parse_error(source, scrub(link), f"invalid character in link: {title or guid or '?'}")
    html = _text(item.get("content_html"))
    tags = item.get("tags") if isinstance(item.get("tags"), list) else []
    return FeedEntry(
        feed_url=source.url,
        source=name,
        link=link,
        url_key=url_key(canonicalize_url(link)),
        entry_id=guid,
        title=title,
        summary=_text(item.get("summary")),
        content=html_to_text(html) if html else _text(item.get("content_text")),
        authors=_json_authors(item) or feed_authors,
        categories=tuple(dict.fromkeys(t for t in map(_text, tags) if t)),
        published_at=_date(_text(item.get("date_published")), now),
        updated_at=_date(_text(item.get("date_modified")), now),
        language_hint=source.language or primary_language(item.get("language")) or feed_language,
        tags=source.tags,
    )
