"""FetchArticles: feed entries in, article pages out (undecoded, `records.Page`); every failed fetch
is also a reject.

A failed fetch still yields a `Page` without a body, so the article can fall back to the feed's text.
"""

from __future__ import annotations

from collections.abc import Iterable
from urllib.parse import urlsplit

import apache_beam as beam

from pipeline.articles.decoding import binary_kind, is_html
from pipeline.config import HttpConfig
from pipeline.fetching import FetchResult
from pipeline.records import FeedEntry, Page, Reject
from pipeline.transforms.host_scheduler import ByHost, HostScheduledFn
from pipeline.transforms.names import REJECTS, counter

HTML_ACCEPT = "text/html, application/xhtml+xml;q=0.9, */*;q=0.1"


class _FetchFn(HostScheduledFn):
    fetched = counter("pages_fetched")
    failed = counter("pages_failed")

    def work(self, entry: FeedEntry) -> FetchResult:
        if self.robots is not None and not self.robots.permits(entry.link, self.http.user_agent):
            reason, detail = self.robots.refusal(entry.link)
            return FetchResult(entry.link, entry.link, error=reason, detail=f"{detail}; body taken from the feed")
        return self.http.get(entry.link, accept=HTML_ACCEPT)

    def emit(self, entry: FeedEntry, res: FetchResult) -> Iterable:
        reason, detail = res.error, res.detail
        if res.ok and (not res.body or res.body.isspace()):  # strip() would copy a page ending in a newline
            reason, detail = "empty_body", "200 with an empty body"
        elif res.ok and not is_html(res.content_type, res.body or b""):
            kind = binary_kind(res.body or b"")
            reason, detail = "not_html", (f"content-type {res.content_type or 'missing'}"
                                          + (f" but the body is {kind}" if kind else ""))
        if reason:
            self.failed.inc()
            yield Page(entry, res.final_url, res.status, None)
            yield beam.pvalue.TaggedOutput(
                REJECTS, Reject(entry.link, entry.feed_url, "fetch", reason, res.status, detail))
            return
        self.fetched.inc()
        yield Page(entry, res.final_url, res.status, res.body, res.content_type or "")


class FetchArticles(beam.PTransform):
    """`robots_scope`: the runs that share their robots.txt files (`io/robots.py`)."""

    def __init__(self, http: HttpConfig, respect_robots: bool, robots_scope: str | None = None):
        super().__init__()
        self.http, self.respect_robots, self.robots_scope = http, respect_robots, robots_scope

    def expand(self, entries: beam.PCollection) -> beam.pvalue.DoOutputsTuple:
        return (entries
                | "ByHost" >> ByHost(lambda entry: urlsplit(entry.link).hostname or "")
                | "Fetch" >> beam.ParDo(_FetchFn(self.http, self.respect_robots, self.robots_scope)).with_outputs(
                    REJECTS, main="pages"))
