"""Google News sitemaps to `FeedEntry` records, and sitemap indexes to the child sitemaps to fetch.

A news sitemap is a `<urlset>` whose `<url>` elements carry a `<news:news>` block
(namespace http://www.google.com/schemas/sitemap-news/0.9):

    <url><loc>https://example.org/a</loc>
      <news:news><news:publication><news:name>Daily</news:name><news:language>en</news:language>
        </news:publication><news:publication_date>2026-11-26T09:30:00Z</news:publication_date>
        <news:title>Headline</news:title><news:keywords>ports, strikes</news:keywords></news:news></url>

Entries follow the feed rules (`pipeline.sources.feeds`): relative `<loc>` resolves against the sitemap's
URL, a `<url>` without a usable http(s) `<loc>` is rejected (`no_link`), a `<loc>` repeated inside
one document is kept once, and publication dates in the future are dropped. `<url>` elements
without `<news:news>` are ordinary sitemap entries (often years of archive) and are skipped.
Documents are parsed without entity expansion (`pipeline.sources.xmlsafe.safe_xml_root`);
gzip-compressed sitemaps (`.xml.gz` served as a file, not as Content-Encoding) are inflated with
an output cap.

A `<sitemapindex>` yields no entries: `parse_sitemap` returns its child
sitemap URLs, newest `<lastmod>` first and at most `max_children`, for the caller to fetch.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from datetime import datetime

from lxml import etree

from pipeline.dates import clamp_future, to_utc
from pipeline.inflate import BadData, CappedInflater, TooLarge
from pipeline.records import FeedEntry, FeedSource, Reject, utc_now
from pipeline.sources.feeds import ParsedFeed, error_detail
from pipeline.sources.repair import neutralize_char_refs, repair_utf8
from pipeline.sources.xmlsafe import UnsafeXml, safe_xml_root
from pipeline.text import primary_language
from pipeline.urls import canonicalize_url, domain_of, resolve, url_key

NEWS_NS = "http://www.google.com/schemas/sitemap-news/0.9"
MAX_URLS = 50_000  # the sitemaps.org limit per file
MAX_CHILDREN = 50
MAX_INFLATED_BYTES = 50 * 1024 * 1024  # the sitemaps.org limit for an uncompressed file


@dataclass(frozen=True)
class ParsedSitemap:
    """One sitemap document: entries (a urlset) or child sitemaps (an index), and rejects."""

    feed: ParsedFeed
    children: list[str]
    is_index: bool


def _local(el: etree._Element) -> str:
    return etree.QName(el).localname if isinstance(el.tag, str) else ""


def _child(el: etree._Element, name: str, ns: str | None = None) -> etree._Element | None:
    for child in el:
        if _local(child) == name and (ns is None or etree.QName(child).namespace == ns):
            return child
    return None


def _text(el: etree._Element | None) -> str | None:
    if el is None:
        return None
    value = " ".join("".join(el.itertext()).split())
    return value or None


def _inflate(body: bytes) -> bytes:
    if not body.startswith(b"\x1f\x8b"):
        return body
    try:
        return CappedInflater("gzip", MAX_INFLATED_BYTES).feed(body)
    except (BadData, TooLarge) as err:
        raise ValueError(f"sitemap: {err}") from None


def _reject(source: FeedSource, reason: str, detail: str) -> Reject:
    return Reject(source.url, None, "poll", reason, detail=detail[:500])


def parse_sitemap(body: bytes, source: FeedSource, fetched_url: str, *,
                  max_children: int = MAX_CHILDREN) -> ParsedSitemap:
    """Parse a fetched sitemap of either kind. Document-level reject reasons are those of feeds:
    `empty_feed`, `unsafe_xml`, `malformed_feed` (not XML or bad gzip), `not_a_feed` (XML that is
    neither a urlset nor a sitemapindex), `parse_error` (any other exception: never raises)."""
    try:
        return _parse_sitemap(body, source, fetched_url, max_children)
    except Exception as err:  # any parser failure is this document's reject
        return _failed(source, "parse_error", error_detail(err))


def _failed(source: FeedSource, reason: str, detail: str) -> ParsedSitemap:
    return ParsedSitemap(ParsedFeed(None, [], [_reject(source, reason, detail)]), [], False)


def _parse_sitemap(body: bytes, source: FeedSource, fetched_url: str, max_children: int) -> ParsedSitemap:
    def failed(reason: str, detail: str) -> ParsedSitemap:
        return _failed(source, reason, detail)

    if not body.strip():
        return failed("empty_feed", "empty response body")
    try:
        root = safe_xml_root(neutralize_char_refs(repair_utf8(_inflate(body))))
    except UnsafeXml as err:
        return failed("unsafe_xml", str(err))
    except ValueError as err:
        return failed("malformed_feed", str(err))
    kind = _local(root)
    if kind == "sitemapindex":
        return ParsedSitemap(ParsedFeed(None, [], []), _children(root, fetched_url, max_children), True)
    if kind != "urlset":
        return failed("not_a_feed", f"root element is <{kind}>, not <urlset> or <sitemapindex>")
    return ParsedSitemap(_entries(root, source, fetched_url), [], False)


def _children(root: etree._Element, base: str, limit: int) -> list[str]:
    found: dict[str, datetime | None] = {}
    for position, el in enumerate(root):
        if position >= MAX_URLS:
            break
        if _local(el) != "sitemap":
            continue
        loc = _text(_child(el, "loc"))
        if not loc:
            continue
        url = resolve(loc, base)
        if url.startswith(("http://", "https://")) and url not in found:
            found[url] = to_utc(_text(_child(el, "lastmod")))
    # sorted() is stable, so undated children and equal dates keep their document order
    ranked = sorted(found, key=lambda u: (found[u] is None, -(found[u].timestamp() if found[u] else 0)))
    return ranked[:max(0, limit)]


def _entries(root: etree._Element, source: FeedSource, base: str) -> ParsedFeed:
    now = utc_now()
    entries: list[FeedEntry] = []
    rejects: list[Reject] = []
    seen: set[str] = set()
    publication_names: list[str] = []
    for position, el in enumerate(root):
        if position >= MAX_URLS:
            rejects.append(_reject(source, "too_many_urls", f"more than {MAX_URLS} <url> elements; rest ignored"))
            break
        if _local(el) != "url":
            continue
        try:
            entry = _entry(el, source, base, now, seen, publication_names)
        except Exception as err:  # one <url>'s failure is that entry's reject
            rejects.append(Reject(base, source.url, "poll", "parse_error", detail=error_detail(err)))
            continue
        if isinstance(entry, FeedEntry):
            entries.append(entry)
        elif entry is not None:
            rejects.append(entry)
    # the most frequent publication name, the first seen on a tie
    title = Counter(publication_names).most_common(1)[0][0] if publication_names else None
    return ParsedFeed(title, entries, rejects)


def _entry(el: etree._Element, source: FeedSource, base: str, now: datetime, seen: set[str],
           publication_names: list[str]) -> FeedEntry | Reject | None:
    """One `<url>`: its record, its reject, or None (not news, or a repeat)."""
    news = _child(el, "news", NEWS_NS)
    if news is None:
        return None
    loc = _text(_child(el, "loc"))
    link = resolve(loc, base) if loc else None
    title = _text(_child(news, "title", NEWS_NS))
    if link is None or not link.startswith(("http://", "https://")):
        return Reject(loc or base, source.url, "poll", "no_link",
                      detail=f"sitemap <url> without a usable <loc>: {title or loc or '?'}"[:500])
    if "\ufffd" in link:
        return Reject(link, source.url, "poll", "parse_error",
                      detail=f"invalid character in <loc>: {title or '?'}"[:500])
    if link in seen:
        return None
    seen.add(link)
    publication = _child(news, "publication", NEWS_NS)
    pub_name = _text(_child(publication, "name", NEWS_NS)) if publication is not None else None
    if pub_name:
        publication_names.append(pub_name)
    language = _text(_child(publication, "language", NEWS_NS)) if publication is not None else None
    keywords = _text(_child(news, "keywords", NEWS_NS))
    published = _text(_child(news, "publication_date", NEWS_NS))
    return FeedEntry(
        feed_url=source.url,
        source=source.name or pub_name or domain_of(source.url),
        link=link,
        url_key=url_key(canonicalize_url(link)),
        title=title,
        categories=tuple(dict.fromkeys(k.strip() for k in (keywords or "").split(",") if k.strip())),
        published_at=clamp_future(to_utc(published), now) if published else None,
        updated_at=_lastmod(el, now),
        language_hint=source.language or _language(language),
        tags=source.tags,
    )


def _lastmod(url_el: etree._Element, now: datetime) -> datetime | None:
    value = _text(_child(url_el, "lastmod"))
    return clamp_future(to_utc(value), now) if value else None


def _language(value: str | None) -> str | None:
    # Google News uses ISO 639 codes, except zh-cn and zh-tw; the hint keeps the primary subtag.
    return primary_language(value)
