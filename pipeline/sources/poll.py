"""One poll of one feed, start to finish: robots, conditional GET, parse, and the feed's next state.

Plain functions over a fetcher and a robots policy, so the whole decision is tested without Beam;
`pipeline.transforms.poll` only runs them on a thread pool and routes the outcome. The fetcher and
robots policy are the protocols of `pipeline.fetching`.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from urllib.parse import urlsplit

from pipeline.config import PollingConfig, ScheduleParams
from pipeline.dates import parse_retry_after
from pipeline.fetching import Fetcher, FetchResult, Robots
from pipeline.records import FeedEntry, FeedSource, Reject, utc_now
from pipeline.sources.discovery import discover, needs_discovery
from pipeline.sources.feeds import ParsedFeed, error_detail, parse_feed
from pipeline.sources.revisions import mark_revisions
from pipeline.sources.schedule import (
    FeedState,
    after_failure,
    after_not_modified,
    after_success,
    conditional_headers,
)
from pipeline.sources.sitemaps import parse_sitemap
from pipeline.urls import origin

FEED_ACCEPT = ("application/rss+xml, application/atom+xml, application/feed+json, application/rdf+xml, "
               "application/xml;q=0.9, text/xml;q=0.9, application/json;q=0.8, */*;q=0.5")


# parse_feed's signature: (body, source, fetched URL, content type) -> ParsedFeed
FeedParser = Callable[[bytes, FeedSource, str, str], ParsedFeed]


@dataclass(frozen=True)
class PollOutcome:
    state: FeedState
    status: str  # ok | not_modified | failed
    entries: list[FeedEntry] = field(default_factory=list)
    rejects: list[Reject] = field(default_factory=list)


def _parse(http: Fetcher, source: FeedSource, res: FetchResult, max_children: int,
           trusted: bool, parse_document: FeedParser) -> ParsedFeed:
    body = res.body or b""
    if source.kind != "news_sitemap":
        return parse_document(body, source, res.final_url, res.content_type)
    parsed = parse_sitemap(body, source, res.final_url, max_children=max_children)
    if not parsed.is_index:
        return parsed.feed
    entries: list[FeedEntry] = []
    rejects: list[Reject] = []
    for child in parsed.children:  # one level only: an index of indexes is not followed
        # discovered, so trusted only on the exact origin of a trusted index (pipeline.urls.origin)
        child_res = http.get(child, trusted=trusted and origin(child) == origin(source.url), accept=FEED_ACCEPT)
        if not child_res.ok:
            rejects.append(Reject(child, source.url, "poll", child_res.error or "failed", child_res.status,
                                  child_res.detail))
            continue
        child_feed = parse_sitemap(child_res.body or b"", source, child_res.final_url).feed
        entries += child_feed.entries
        rejects += child_feed.rejects
    return ParsedFeed(None, entries, rejects)


ROBOTS_TTL = timedelta(days=1)  # RFC 9309 §2.4: a robots.txt may be cached for up to 24 hours


def _robots_known_ok(state: FeedState, now: datetime) -> bool:
    return state.robots_allowed_at is not None and now - state.robots_allowed_at < ROBOTS_TTL


def poll_feed(http: Fetcher, robots: Robots | None, source: FeedSource, state: FeedState,
              polling: PollingConfig, now: datetime | None = None,
              parse_document: FeedParser = parse_feed) -> PollOutcome:
    """Poll `source` once; never raises (an unforeseen exception is this feed's `poll_error`, not
    the end of the run). A 304 produces nothing but a new schedule. A `site` source first finds its
    feed (`pipeline.sources.discovery`) when it has none or the chosen one has been failing for
    days, then polls that feed; its state stays under the site's URL. `parse_document` parses a
    fetched RSS/Atom/JSON feed (`parse_feed`, or the same on another process)."""
    now = now or utc_now()
    params = polling.schedule_params().for_feed(source)
    try:
        return _poll_source(http, robots, source, state, polling, params, now, parse_document)
    except Exception as err:  # one feed's bug must not fail every other feed's poll
        return PollOutcome(after_failure(state, now, "poll_error", None, params), "failed",
                           rejects=[Reject(source.url, None, "poll", "poll_error", detail=error_detail(err))])


def _poll_source(http: Fetcher, robots: Robots | None, source: FeedSource, state: FeedState,
                 polling: PollingConfig, params: ScheduleParams, now: datetime,
                 parse_document: FeedParser) -> PollOutcome:
    if not source.site:
        return _poll(http, robots, source, state, polling, params, now, source.trusted, parse_document)
    prefetched = None
    if needs_discovery(state, now):
        found = discover(http, robots, source.url, language=source.language, check_robots=source.check_robots)
        if found.chosen is None:
            return PollOutcome(after_failure(state, now, "no_feed_found", None, params), "failed",
                               rejects=[Reject(source.url, None, "poll", "no_feed_found", detail=found.summary())])
        if found.chosen.url != state.discovered_url:  # validators and robots answer were another URL's
            state = replace(state, etag=None, last_modified=None, robots_allowed_at=None, crawl_delay_s=None,
                            recent_keys=(), seen_since=None, recent_seen_times=(), entry_marks=())
        state = replace(state, discovered_url=found.chosen.url, discovered_kind=found.chosen.kind,
                        discovered_at=now)
        prefetched = found.chosen.response
    feed = replace(source, url=state.discovered_url or source.url, site=False,
                   kind="news_sitemap" if state.discovered_kind == "news_sitemap" else "feed")
    # only the configured site's own origin is trusted
    trusted = source.trusted and origin(feed.url) == origin(source.url)
    return _poll(http, robots, feed, state, polling, params, now, trusted, parse_document, prefetched)


def _poll(http: Fetcher, robots: Robots | None, source: FeedSource, state: FeedState, polling: PollingConfig,
          params: ScheduleParams, now: datetime, trusted: bool, parse_document: FeedParser,
          prefetched: FetchResult | None = None) -> PollOutcome:
    """One poll of one feed URL; `prefetched` is the response discovery verified it with, if any."""
    def failed(reason: str, status: int | None = None, detail: str | None = None,
               retry_after: float | None = None) -> PollOutcome:
        return PollOutcome(after_failure(state, now, reason, retry_after, params), "failed",
                           rejects=[Reject(source.url, None, "poll", reason, status, detail)])

    if robots is not None and source.check_robots:
        if _robots_known_ok(state, now):  # asked within the day: a re-poll costs one request, not two
            if state.crawl_delay_s:
                http.set_host_delay(urlsplit(source.url).hostname or "", state.crawl_delay_s)
        elif robots.permits(source.url, http.user_agent, trusted=trusted):
            state = replace(state, robots_allowed_at=now,
                            crawl_delay_s=robots.crawl_delay(source.url, http.user_agent, trusted=trusted))
        else:
            reason, detail = robots.refusal(source.url, trusted=trusted)
            return failed(reason, detail=f"{detail} (check_robots: false if the publisher allows this feed)")
    res = prefetched or http.get(source.url, trusted=trusted, accept=FEED_ACCEPT, headers=conditional_headers(state))
    if res.status == 304:
        return PollOutcome(after_not_modified(state, now, res.headers, params), "not_modified")
    if not res.ok:
        return failed(res.error or "failed", res.status, res.detail,
                      parse_retry_after(res.headers.get("retry-after")))
    try:
        parsed = _parse(http, source, res, polling.sitemap_max_children, trusted, parse_document)
    except Exception as err:  # the parsers return rejects; anything they miss is still this feed's
        return failed("parse_error", res.status, error_detail(err))
    document_errors = [r for r in parsed.rejects if r.feed_url is None]
    if not parsed.entries and document_errors:
        return PollOutcome(after_failure(state, now, document_errors[0].reason, None, params), "failed",
                           rejects=parsed.rejects)
    entries = [replace(e, first_seen_at=now) for e in parsed.entries]  # see FeedEntry.first_seen_at
    times = [e.published_at or e.updated_at for e in entries]
    new_state = after_success(state, now, res.headers, parsed.ttl_minutes, times, params,
                              entry_keys=[e.url_key for e in entries])
    entries, marks = mark_revisions(state.entry_marks, entries, now, polling.refetch_limits(source),
                                    params.recent_keys)
    return PollOutcome(replace(new_state, entry_marks=marks), "ok", entries, parsed.rejects)
