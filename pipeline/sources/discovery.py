"""Finding a site's feed (`feeds: [{site: https://example.org/}]`, `news-ingest discover URL`).

Candidates come in three tiers, and the first tier that yields a working feed wins (fewer
requests to the publisher):

1. `<link rel="alternate">` of an RSS, Atom, RDF or JSON Feed type in the home page;
2. the usual paths (`/feed`, `/rss`, `/rss.xml`, `/atom.xml`, `/feed.xml`, `/index.xml`,
   `/feeds/posts/default`);
3. `Sitemap:` lines of the origin's robots.txt that are Google News sitemaps (a sitemap index is
   opened one level, its children named like news sitemaps first).

A candidate counts only when fetching and parsing it works (`parse_feed`, `parse_sitemap`);
within the tier they are ranked by language (the configured hint matches the document's), then
entry count, then the newest entry's date. Every probe goes through the same `Fetcher` (its
per-host gate) and robots policy as a poll; only the configured site's origin is trusted, so a
candidate on another host passes the private-address guard like any link found in a page.
Pure: network access only through the `Fetcher`/`Robots` protocols.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from urllib.parse import urlsplit

import lxml.html
from lxml.etree import ParserError

from pipeline.fetching import Fetcher, FetchResult, Robots
from pipeline.records import FeedKind, FeedSource
from pipeline.sources.feeds import parse_feed
from pipeline.sources.schedule import FeedState
from pipeline.sources.sitemaps import parse_sitemap
from pipeline.urls import origin, resolve

FEED_TYPES = {"application/rss+xml": "rss", "application/atom+xml": "atom", "application/rdf+xml": "rdf",
              "application/feed+json": "json", "application/json": "json"}
COMMON_PATHS = ("/feed", "/rss", "/rss.xml", "/atom.xml", "/feed.xml", "/index.xml", "/feeds/posts/default")
MAX_LINKS = 10  # alternate links verified from one home page
MAX_SITEMAPS = 5  # robots.txt Sitemap lines (and index children) verified
REDISCOVER_AFTER = timedelta(days=3)  # a chosen feed failing this long is looked for again
_HTML_ACCEPT = "text/html, application/xhtml+xml;q=0.9, */*;q=0.5"
_FEED_ACCEPT = ("application/rss+xml, application/atom+xml, application/feed+json, application/rdf+xml, "
                "application/xml;q=0.9, text/xml;q=0.9, application/json;q=0.8, */*;q=0.5")


@dataclass(frozen=True)
class Candidate:
    """A verified feed: it was fetched and parsed."""

    url: str
    kind: FeedKind
    found_by: str  # link | path | robots
    title: str | None
    entries: int
    newest: datetime | None
    language: str | None
    # the verifying response, so the poll right after discovery does not fetch the feed again
    response: FetchResult | None = field(default=None, compare=False, repr=False)


@dataclass(frozen=True)
class Discovery:
    chosen: Candidate | None
    candidates: list[Candidate]  # the winning tier's, best first
    tried: list[tuple[str, str]] = field(default_factory=list)  # (url, why it was not taken)

    def summary(self) -> str:
        return "; ".join(f"{url}: {why}" for url, why in self.tried)[:500] or "nothing to try"


def needs_discovery(state: FeedState, now: datetime) -> bool:
    """No feed chosen yet, or the chosen one has failed with neither a success nor a discovery
    in `REDISCOVER_AFTER` (a site that moved its feed is found again, one that is down briefly
    is not re-probed on every retry)."""
    if not state.discovered_url:
        return True
    if not state.consecutive_failures:
        return False
    recent = [t for t in (state.last_success_at, state.discovered_at) if t is not None]
    return not recent or now - max(recent) > REDISCOVER_AFTER


def alternate_links(html: bytes, base: str) -> list[str]:
    """Feed URLs a page declares with `<link rel="alternate" type=...>`, in document order."""
    try:
        doc = lxml.html.document_fromstring(html)
    except (ParserError, ValueError):
        return []
    base_href = next((b.get("href") for b in doc.iter("base") if b.get("href")), None)
    page_base = resolve(base_href, base) if base_href else base
    links: list[str] = []
    for link in doc.iter("link"):
        rels = (link.get("rel") or "").lower().split()
        kind = (link.get("type") or "").split(";", 1)[0].strip().lower()
        href = (link.get("href") or "").strip()
        if "alternate" in rels and kind in FEED_TYPES and href:
            url = resolve(href, page_base)
            if url.startswith(("http://", "https://")) and url not in links:
                links.append(url)
    return links[:MAX_LINKS]


def robots_sitemap_lines(body: bytes) -> list[str]:
    """`Sitemap:` URLs of a robots.txt body (used when no robots policy is in use)."""
    text = body.decode("utf-8", "replace")
    found = []
    for line in text.splitlines():
        name, _, value = line.partition(":")
        if name.strip().lower() == "sitemap" and value.strip():
            found.append(value.strip())
    return found


class _Prober:
    """Fetches for one discovery: robots first, the site's origin trusted, nothing else."""

    def __init__(self, http: Fetcher, robots: Robots | None, site: str, check_robots: bool):
        self.http, self.robots, self.site_origin, self.check_robots = http, robots, origin(site), check_robots
        self.tried: list[tuple[str, str]] = []

    def trusted(self, url: str) -> bool:
        return origin(url) == self.site_origin

    def get(self, url: str, accept: str) -> FetchResult | None:
        trusted = self.trusted(url)
        if self.robots is not None and self.check_robots and not self.robots.permits(
                url, self.http.user_agent, trusted=trusted):
            self.tried.append((url, self.robots.refusal(url, trusted=trusted)[0]))
            return None
        res = self.http.get(url, trusted=trusted, accept=accept)
        if not res.ok:
            self.tried.append((url, res.error or "failed"))
            return None
        return res

    def feed(self, url: str, found_by: str) -> Candidate | None:
        res = self.get(url, _FEED_ACCEPT)
        if res is None:
            return None
        parsed = parse_feed(res.body or b"", FeedSource(url), res.final_url, res.content_type)
        broken = [r for r in parsed.rejects if r.feed_url is None]
        if broken and not parsed.entries:
            self.tried.append((url, broken[0].reason))
            return None
        return _candidate(url, "feed", found_by, parsed.title, parsed.entries, res)

    def news_sitemap(self, url: str, depth: int = 0) -> Candidate | None:
        res = self.get(url, _FEED_ACCEPT)
        if res is None:
            return None
        parsed = parse_sitemap(res.body or b"", FeedSource(url, kind="news_sitemap"), res.final_url,
                               max_children=MAX_SITEMAPS)
        if parsed.is_index and depth == 0:
            children = sorted(parsed.children, key=lambda c: "news" not in urlsplit(c).path.lower())
            for child in children[:MAX_SITEMAPS]:
                if (found := self.news_sitemap(child, depth + 1)) is not None:
                    return found
            return None
        if not parsed.feed.entries:
            reasons = [r.reason for r in parsed.feed.rejects if r.feed_url is None]
            self.tried.append((url, reasons[0] if reasons else "no_news_entries"))
            return None
        return _candidate(url, "news_sitemap", "robots", parsed.feed.title, parsed.feed.entries, res)


def _candidate(url: str, kind: FeedKind, found_by: str, title: str | None, entries: list,
               response: FetchResult) -> Candidate:
    dates = [e.published_at or e.updated_at for e in entries if e.published_at or e.updated_at]
    languages = [e.language_hint for e in entries if e.language_hint]
    language = max(set(languages), key=languages.count) if languages else None
    return Candidate(url, kind, found_by, title, len(entries), max(dates) if dates else None, language, response)


def rank(candidates: list[Candidate], language: str | None) -> list[Candidate]:
    """Best first: the language hint matched, then more entries, then the fresher newest entry."""
    def key(c: Candidate) -> tuple:
        return (bool(language) and c.language == language, c.entries, c.newest.timestamp() if c.newest else 0.0)
    return sorted(candidates, key=key, reverse=True)


def discover(http: Fetcher, robots: Robots | None, site: str, *, language: str | None = None,
             check_robots: bool = True) -> Discovery:
    """Probe `site` for its feeds, tier by tier; never raises. `chosen` is None when nothing works."""
    probe = _Prober(http, robots, site, check_robots)
    root = probe.site_origin or site.rstrip("/")
    seen: set[str] = set()

    def verified(urls: list[str], found_by: str) -> list[Candidate]:
        found = []
        for url in urls:
            if url in seen:
                continue
            seen.add(url)
            candidate = probe.news_sitemap(url) if found_by == "robots" else probe.feed(url, found_by)
            if candidate is not None:
                found.append(candidate)
        return found

    def done(found: list[Candidate]) -> Discovery:
        ranked = rank(found, language)
        return Discovery(ranked[0] if ranked else None, ranked, probe.tried)

    home = probe.get(site, _HTML_ACCEPT)
    seen.add(site)
    if home is not None and (found := verified(alternate_links(home.body or b"", home.final_url), "link")):
        return done(found)
    if found := verified([root + path for path in COMMON_PATHS], "path"):
        return done(found)
    if robots is not None:
        sitemaps = robots.sitemaps(site, trusted=True)
    else:
        res = probe.get(root + "/robots.txt", "text/plain, */*;q=0.5")
        sitemaps = robots_sitemap_lines(res.body or b"") if res is not None else []
    return done(verified([resolve(s, root + "/") for s in sitemaps[:MAX_SITEMAPS]], "robots"))
