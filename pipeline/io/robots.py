"""robots.txt (RFC 9309): one parsed file per origin, cached, shared by a worker's threads.

    >>> robots = RobotsPolicy(http)                                   # doctest: +SKIP
    >>> robots.allowed("https://example.org/news/1", "news-ingest/0.1 (+https://...)")  # doctest: +SKIP
    True

What a fetch of `<scheme>://<host>[:<port>]/robots.txt` means (RFC 9309 §2.3.1):

    2xx                         the rules; only the first 500 KiB are read (§2.5), the last partial
                                line dropped, as UTF-8
    4xx except 429              "unavailable": everything is allowed (401 and 403 included)
    more than `max_redirects`   unavailable: allowed (the fetcher's own redirect limit)
    429, 5xx, network errors,   "unreachable": everything is disallowed for now, re-asked after
    timeouts, oversize bodies   `error_ttl_s`; a previously fetched copy, if any, keeps being used
                                instead (§2.4 allows a cached copy while unreachable)

Parsed and unavailable results are cached for `cache_ttl_s` (24 h, the RFC's ceiling). Groups are
matched on the user agent's product token (`news-ingest` in `news-ingest/0.1 (+https://...)`), so
words in the comment part of the header never select a group by accident.

Create one per worker, in `DoFn.setup`, next to its `HttpFetcher`: it holds a lock and a cache,
and refuses to be pickled. Policies given the same `shared` scope share one cache in a process:
the stages of a run and the runs of a backlog or a local stream (`run.run_batch`,
`streaming.run_local`) each built their own, so a 10,000-entry backlog (4 runs) asked every host
for robots.txt 5 times, and a 50,000-entry one 21 times.
"""

from __future__ import annotations

import re
import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal
from urllib.parse import urlsplit

from protego import Protego

from pipeline.fetching import Fetcher
from pipeline.urls import origin

MAX_ROBOTS_BYTES = 500 * 1024
_PRODUCT_TOKEN = re.compile(r"[A-Za-z_-]+")
_ACCEPT = "text/plain, */*;q=0.5"
_UNAVAILABLE_ERRORS = {"too_many_redirects", "redirect_loop"}
_SITE_UNREACHABLE = {"private_address", "dns_error", "connect_error", "connect_timeout", "invalid_url"}


@dataclass(frozen=True)
class RobotsRules:
    """What one origin's robots.txt says: `parsed` rules, or `allow`/`deny` everything."""

    kind: Literal["parsed", "allow", "deny"]
    parser: Protego | None
    expires_at: float  # on the policy's clock
    reason: str  # ok, http_404, http_503, timeout, ...
    stale: bool = False  # rules of an earlier fetch, kept while the file is unreachable


def product_token(user_agent: str) -> str:
    """The leading product token of a User-Agent header, lowercased ("*" when there is none)."""
    found = _PRODUCT_TOKEN.match(user_agent.strip())
    return found.group().lower() if found else "*"


def origin_of(url: str) -> tuple[str, str] | None:
    """(origin key, robots.txt URL) of an http(s) URL, or None for anything else."""
    key = origin(url)
    return None if key is None else (key, f"{key}/robots.txt")


def _decode(body: bytes, limit: int) -> str:
    if len(body) > limit:
        cut = body.rfind(b"\n", 0, limit)
        body = body[: cut + 1 if cut >= 0 else limit]
    return body.decode("utf-8", errors="replace").removeprefix("\ufeff")


class _Memory:
    """What a policy remembers: each origin's rules, and a lock per origin being fetched."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.rules: OrderedDict[str, RobotsRules] = OrderedDict()
        self.origin_locks: dict[str, threading.Lock] = {}


_SHARED: OrderedDict[str, _Memory] = OrderedDict()  # by scope; the newest few, should one not be released
_SHARED_LOCK = threading.Lock()
_MAX_SCOPES = 8


def _shared_memory(scope: str) -> _Memory:
    with _SHARED_LOCK:
        memory = _SHARED.get(scope)
        if memory is None:
            memory = _SHARED[scope] = _Memory()
            while len(_SHARED) > _MAX_SCOPES:
                _SHARED.popitem(last=False)
        _SHARED.move_to_end(scope)
        return memory


def release_shared(scope: str) -> None:
    """Forget the robots.txt files a scope cached: its runs are over."""
    with _SHARED_LOCK:
        _SHARED.pop(scope, None)


class RobotsPolicy:
    """Thread-safe robots.txt answers; at most one fetch per origin at a time, then cached (in the
    `shared` scope's cache when one is named)."""

    def __init__(self, fetcher: Fetcher, *, max_bytes: int = MAX_ROBOTS_BYTES, cache_ttl_s: float = 24 * 3600,
                 error_ttl_s: float = 600.0, max_origins: int = 10_000,
                 clock: Callable[[], float] = time.monotonic, shared: str | None = None):
        self._fetcher = fetcher
        self._max_bytes = max_bytes
        self._cache_ttl_s = cache_ttl_s
        self._error_ttl_s = error_ttl_s
        self._max_origins = max_origins
        self._clock = clock
        memory = _Memory() if shared is None else _shared_memory(shared)
        self._lock, self._rules, self._origin_locks = memory.lock, memory.rules, memory.origin_locks

    def __getstate__(self) -> dict:
        raise TypeError("RobotsPolicy holds a cache, locks and a client: create it in DoFn.setup, "
                        "do not pickle it")

    def allowed(self, url: str, user_agent: str, *, trusted: bool = False) -> bool:
        """May `url` be fetched by `user_agent`? Non-http(s) URLs are never allowed.

        `trusted` is passed to the fetcher for the robots.txt request (a configured feed's host
        may be on a private network); the file is cached per origin whichever way it was fetched.
        """
        located = origin_of(url)
        if located is None:
            return False
        rules = self.rules(url, trusted=trusted)
        if rules.kind != "parsed" or rules.parser is None:
            return rules.kind == "allow"
        return rules.parser.can_fetch(url, product_token(user_agent))

    def permits(self, url: str, user_agent: str, *, trusted: bool = False) -> bool:
        """`allowed`, and when it is, the origin's Crawl-delay now spaces the fetcher's requests."""
        if not self.allowed(url, user_agent, trusted=trusted):
            return False
        delay = self.crawl_delay(url, user_agent, trusted=trusted)
        if delay:
            self._fetcher.set_host_delay(urlsplit(url).hostname or "", delay)
        return True

    def refusal(self, url: str, *, trusted: bool = False) -> tuple[str, str]:
        """Reject reason and detail for a URL that `permits` refused: the rules, or no rules at all."""
        rules = self.rules(url, trusted=trusted) if origin_of(url) else None
        if rules is None or rules.kind == "parsed":
            return "robots_disallowed", "robots.txt disallows this URL"
        if rules.reason in _SITE_UNREACHABLE:  # the site itself failed, not just its robots.txt
            return rules.reason, "robots.txt could not be fetched either; page not requested"
        return "robots_unreachable", f"robots.txt could not be read ({rules.reason}); retried later"

    def sitemaps(self, url: str, *, trusted: bool = False) -> list[str]:
        """The `Sitemap:` URLs of the robots.txt of `url`'s origin (feed discovery reads them)."""
        if origin_of(url) is None:
            return []
        rules = self.rules(url, trusted=trusted)
        return list(rules.parser.sitemaps) if rules.parser is not None else []

    def crawl_delay(self, url: str, user_agent: str, *, trusted: bool = False) -> float | None:
        """Seconds to wait between requests to this origin: Crawl-delay, or the interval a
        Request-rate implies when that is longer; None when robots.txt sets neither."""
        if origin_of(url) is None:
            return None
        rules = self.rules(url, trusted=trusted)
        if rules.parser is None:
            return None
        token = product_token(user_agent)
        delays = []
        if (delay := rules.parser.crawl_delay(token)) is not None:
            delays.append(float(delay))
        rate = rules.parser.request_rate(token)
        if rate is not None and rate.requests:
            delays.append(rate.seconds / rate.requests)
        return max(delays) if delays else None

    def rules(self, url: str, *, trusted: bool = False) -> RobotsRules:
        """The cached rules for `url`'s origin, fetching robots.txt when absent or expired."""
        located = origin_of(url)
        if located is None:
            raise ValueError(f"not an http(s) URL: {url[:200]}")
        origin, robots_url = located
        with self._lock:
            cached = self._fresh(origin, trusted)
            if cached is not None:
                return cached
            origin_lock = self._origin_locks.setdefault(origin, threading.Lock())
        with origin_lock:
            with self._lock:  # another thread may have fetched it while this one waited
                cached = self._fresh(origin, trusted)
                previous = self._rules.get(origin)
            if cached is not None:
                return cached
            rules = self._fetch(robots_url, trusted, previous)
            with self._lock:
                self._rules[origin] = rules
                self._rules.move_to_end(origin)
                while len(self._rules) > self._max_origins:
                    self._rules.popitem(last=False)
                self._origin_locks.pop(origin, None)
            return rules

    def _fresh(self, origin: str, trusted: bool) -> RobotsRules | None:
        rules = self._rules.get(origin)
        if rules is None or rules.expires_at <= self._clock():
            return None
        if trusted and rules.reason == "private_address":
            return None  # refused for an untrusted link earlier; a configured URL may fetch it
        self._rules.move_to_end(origin)
        return rules

    def _fetch(self, robots_url: str, trusted: bool, previous: RobotsRules | None) -> RobotsRules:
        result = self._fetcher.get(robots_url, trusted=trusted, accept=_ACCEPT)
        now = self._clock()
        status = result.status
        if result.ok and status is not None and 200 <= status < 300:
            try:
                parser = Protego.parse(_decode(result.body or b"", self._max_bytes))
            except Exception as err:  # a parser bug must not stop the crawl: as if no rule parsed
                return RobotsRules("allow", None, now + self._cache_ttl_s, f"unparseable: {err}"[:200])
            return RobotsRules("parsed", parser, now + self._cache_ttl_s, "ok")
        reason = result.error or f"http_{status}"
        unavailable = (
            (status is not None and 400 <= status < 500 and status != 429)
            or result.error in _UNAVAILABLE_ERRORS
            or (result.ok and status is not None and 300 <= status < 400)  # a redirect without Location
        )
        if unavailable:
            return RobotsRules("allow", None, now + self._cache_ttl_s, reason)
        if previous is not None and previous.kind == "parsed":
            return RobotsRules("parsed", previous.parser, now + self._error_ttl_s, reason, stale=True)
        return RobotsRules("deny", None, now + self._error_ttl_s, reason)
