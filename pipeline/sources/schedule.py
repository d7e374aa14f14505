"""When to poll each feed next: per-feed state and pure decisions (no I/O, no clock: `now` is passed).

    >>> p = ScheduleParams()
    >>> now = datetime(2026, 11, 26, 12, 0, tzinfo=UTC)
    >>> s = after_success(FeedState("https://example.org/rss"), now, {"etag": '"v1"'}, ttl_minutes=None,
    ...                   entry_times=[now - timedelta(hours=h) for h in range(0, 24, 2)],
    ...                   params=p, rng=random.Random(0))
    >>> round(s.items_per_day, 1), s.schedule_reason, conditional_headers(s)
    (13.1, 'adaptive', {'If-None-Match': '"v1"'})

After a successful poll (200, or 304 via `after_not_modified`) the next interval is

    interval = clamp(max(adaptive, ttl, fresh_for), min_interval, max_interval)
    adaptive = 1 day / (polls_per_gap × rate)               (default_interval without any rate)
    rate = max(items_per_day, seen_rate)
    items_per_day = n / max(now − oldest, 1 h) × 1 day      (n = recent entry publish times kept, ≤ 20)
    seen_rate = m / max(now − start, 1 h) × 1 day           (m = first-seen times of new entries, ≤ 20;
                start = when keys were first kept, or the oldest of 20 once 20 are kept)
    fixed = a feed's poll_every, which replaces adaptive and is neither clamped nor jittered
    ttl = RSS <ttl> minutes (remembered from the last 200, reused after a 304)
    fresh_for = HTTP freshness lifetime − Age, RFC 9111 §4.2: Cache-Control max-age, else Expires −
                Date (Expires − now without a Date); no-store/no-cache and invalid Expires give 0

so a feed is polled about `polls_per_gap` (2) times per mean gap between its entries (by their
dates, or by when new entries appeared, whichever says more), a feed that went quiet slows down
by itself (the window runs to `now`, not to its last entry), and what the publisher asks for
(TTL, Cache-Control, Expires) is a lower bound, never undercut.

After a failed poll the delay is exponential with a cap, and a server's Retry-After is honoured
when it asks for more (itself capped, so a feed is never parked for good):

    delay = max(min_interval, min(backoff_base × 2^(failures − 1), backoff_max), min(retry_after, retry_after_max))

Jitter only lengthens: next_due_at = now + interval × (1 + U(0, jitter)). Nothing here ever
disables a feed: the next success resets `consecutive_failures` to 0.
"""

from __future__ import annotations

import random
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, fields, replace
from datetime import datetime, timedelta

from pipeline.config import ScheduleParams
from pipeline.dates import parse_http_date
from pipeline.records import as_row

_DAY = timedelta(days=1)
_MIN_RATE_WINDOW = timedelta(hours=1)


@dataclass(frozen=True)
class FeedState:
    """What is known about one feed between polls. Datetimes are timezone-aware."""

    feed_url: str
    etag: str | None = None
    last_modified: str | None = None  # the server's Last-Modified, verbatim, for If-Modified-Since
    last_polled_at: datetime | None = None
    last_success_at: datetime | None = None
    last_error: str | None = None  # reason code of the latest failure (kept after a recovery)
    last_error_at: datetime | None = None
    consecutive_failures: int = 0
    next_due_at: datetime | None = None
    entries_seen_total: int = 0
    articles_written_total: int = 0
    recent_entry_times: tuple[datetime, ...] = ()  # newest first, at most params.recent_entries
    ttl_minutes: int | None = None  # RSS <ttl> from the last full response
    schedule_reason: str | None = None  # which term set next_due_at: adaptive, default, ttl,
    # http-cache, min, max, backoff, retry-after
    robots_allowed_at: datetime | None = None  # when robots.txt last allowed this feed
    crawl_delay_s: float | None = None  # the Crawl-delay its host asked for then
    recent_keys: tuple[str, ...] = ()  # url_key prefixes of recent entries: which entries are new
    seen_since: datetime | None = None  # first poll that recorded keys: new entries are counted since
    recent_seen_times: tuple[datetime, ...] = ()  # first-seen times of new entries, newest first
    discovered_url: str | None = None  # a `site:` source: the feed discovery chose
    discovered_kind: str | None = None  # its kind (feed or news_sitemap)
    discovered_at: datetime | None = None
    # per recent entry: (key, change signal, refetches, first seen epoch s), `pipeline.sources.revisions`
    entry_marks: tuple[tuple[str, str, int, int], ...] = ()

    @property
    def items_per_day(self) -> float | None:
        """Publishing rate as of the last poll: by the entries' dates or by when new entries were
        first seen, whichever is higher (see `publishing_rate`)."""
        return publishing_rate(self, self.last_polled_at) if self.last_polled_at else items_per_day(
            self.recent_entry_times)

    def to_dict(self) -> dict:
        """JSON-friendly form (ISO 8601 datetimes), for a state store."""
        data = as_row(self)
        for key, value in data.items():
            if isinstance(value, datetime):
                data[key] = value.isoformat()
        data["recent_entry_times"] = [t.isoformat() for t in self.recent_entry_times]
        data["recent_keys"] = list(self.recent_keys)
        data["recent_seen_times"] = [t.isoformat() for t in self.recent_seen_times]
        data["entry_marks"] = [list(m) for m in self.entry_marks]
        return data

    @classmethod
    def from_dict(cls, data: Mapping) -> FeedState:
        """Inverse of `to_dict`; unknown keys are ignored so older/newer stores stay readable."""
        known = {f.name for f in fields(cls)}
        values = {k: v for k, v in data.items() if k in known}
        for key in ("last_polled_at", "last_success_at", "last_error_at", "next_due_at", "robots_allowed_at",
                    "discovered_at", "seen_since"):
            if isinstance(values.get(key), str):
                values[key] = datetime.fromisoformat(values[key])
        values["recent_entry_times"] = tuple(
            datetime.fromisoformat(t) if isinstance(t, str) else t for t in values.get("recent_entry_times") or ())
        values["recent_keys"] = tuple(values.get("recent_keys") or ())
        values["recent_seen_times"] = tuple(
            datetime.fromisoformat(t) if isinstance(t, str) else t for t in values.get("recent_seen_times") or ())
        values["entry_marks"] = tuple(tuple(m) for m in values.get("entry_marks") or ())
        return cls(**values)


@dataclass(frozen=True)
class _Interval:
    length: timedelta
    reason: str


def _aware(moment: datetime, name: str = "now") -> datetime:
    if moment.tzinfo is None:
        raise ValueError(f"{name} must be timezone-aware")
    return moment


def items_per_day(times: Iterable[datetime], now: datetime | None = None) -> float | None:
    """Entries per day over the window from the oldest known entry to `now` (the newest entry
    when `now` is None), the window being at least an hour; None without any entry time."""
    times = list(times)
    if not times:
        return None
    end = now or max(times)
    window = max(end - min(times), _MIN_RATE_WINDOW)
    return len(times) / (window / _DAY)


def is_due(state: FeedState | None, now: datetime) -> bool:
    """A feed never polled, or whose next_due_at has come, is due."""
    if state is None or state.next_due_at is None:
        return True
    return _aware(now) >= state.next_due_at


def conditional_headers(state: FeedState | None) -> dict[str, str]:
    """Request headers for a conditional GET: If-None-Match and If-Modified-Since when known."""
    headers: dict[str, str] = {}
    if state is not None and state.etag:
        headers["If-None-Match"] = state.etag
    if state is not None and state.last_modified:
        headers["If-Modified-Since"] = state.last_modified
    return headers


def _header(headers: Mapping[str, str], name: str) -> str | None:
    for key, value in headers.items():
        if key.lower() == name:
            return value.strip() if isinstance(value, str) else None
    return None


def freshness(headers: Mapping[str, str], now: datetime) -> timedelta | None:
    """How long the response stays fresh (RFC 9111 §4.2), None when the headers do not say."""
    directives: dict[str, str] = {}
    for part in (_header(headers, "cache-control") or "").split(","):
        name, _, value = part.strip().partition("=")
        if name:
            directives[name.strip().lower()] = value.strip().strip('"')
    if "no-store" in directives or "no-cache" in directives:
        return timedelta(0)
    lifetime: timedelta | None = None
    if "max-age" in directives:  # an unreadable max-age makes the response stale (RFC 9111 §4.2.1)
        seconds = directives["max-age"]
        lifetime = timedelta(seconds=int(seconds) if seconds.isdigit() else 0)
    elif (expires_raw := _header(headers, "expires")) is not None:
        expires = parse_http_date(expires_raw)
        date = parse_http_date(_header(headers, "date")) or _aware(now)
        lifetime = max(expires - date, timedelta(0)) if expires else timedelta(0)  # invalid = expired
    if lifetime is None:
        return None
    age = _header(headers, "age") or ""
    return max(lifetime - timedelta(seconds=int(age) if age.isdigit() else 0), timedelta(0))


def _merge_times(old: tuple[datetime, ...], new: Iterable[datetime | None], now: datetime,
                 keep: int) -> tuple[datetime, ...]:
    # A multiset union (max of counts): re-seeing the same entries adds nothing, while distinct
    # entries sharing a timestamp (date-only feeds) still count once each.
    fresh = Counter(min(_aware(t, "entry time"), now) for t in new if t is not None)
    merged = Counter(old) | fresh
    return tuple(sorted(merged.elements(), reverse=True)[:keep])


_KEY_CHARS = 12  # of a url_key: enough to tell a feed's recent entries apart, small in the state row


def _first_seen(state: FeedState, now: datetime, entry_keys: Sequence[str] | None,
                params: ScheduleParams) -> FeedState:
    """The remembered keys and first-seen times after a poll. The first poll that has keys only
    remembers them (`seen_since`); on later polls every entry with a new key counts at `now`,
    when it was first seen, whatever date (stale, wrong, none) the publisher put on it."""
    if entry_keys is None:
        return state
    short = [k[:_KEY_CHARS] for k in entry_keys]
    keys = tuple(dict.fromkeys([*short, *state.recent_keys]))[:params.recent_keys]
    if state.seen_since is None:
        return replace(state, recent_keys=keys, seen_since=now)
    known = set(state.recent_keys)
    new = len({k for k in short if k not in known})
    seen = ((now,) * new + state.recent_seen_times)[:params.recent_entries]
    return replace(state, recent_keys=keys, recent_seen_times=seen)


def seen_rate(state: FeedState, now: datetime, keep: int) -> float | None:
    """New entries per day by when they were first seen: over the window since key tracking
    began (`seen_since`), or since the oldest first-seen time kept once `keep` are kept."""
    times = state.recent_seen_times
    if not times or state.seen_since is None:
        return None
    start = min(times) if len(times) >= keep else state.seen_since
    return len(times) / (max(now - start, _MIN_RATE_WINDOW) / _DAY)


def publishing_rate(state: FeedState, now: datetime, keep: int = 20) -> float | None:
    """The higher of the rate by the entries' own dates and the rate by first-seen times: a feed
    with good dates is measured by them, one with stale or missing dates by what is seen to appear."""
    rates = [r for r in (items_per_day(state.recent_entry_times, now), seen_rate(state, now, keep)) if r]
    return max(rates) if rates else None


def _success_interval(state: FeedState, now: datetime, ttl_minutes: int | None,
                      headers: Mapping[str, str], params: ScheduleParams) -> _Interval:
    rate = publishing_rate(state, now, params.recent_entries)
    if params.fixed_interval is not None:  # poll_every: replaces the adaptive term, not the publisher's floors
        candidates: dict[str, timedelta] = {"fixed": params.fixed_interval}
    else:
        candidates = (
            {"adaptive": _DAY / (params.polls_per_gap * rate)} if rate else {"default": params.default_interval})
    if ttl_minutes and ttl_minutes > 0:
        candidates["ttl"] = timedelta(minutes=ttl_minutes)
    fresh = freshness(headers, now)
    if fresh is not None:
        candidates["http-cache"] = fresh
    reason = max(candidates, key=lambda k: candidates[k])  # first key wins ties: the adaptive term
    length = candidates[reason]
    if reason == "fixed":
        return _Interval(length, reason)
    if length < params.min_interval:
        length, reason = params.min_interval, "min"
    elif length > params.max_interval:
        length, reason = params.max_interval, "max"
    return _Interval(length, reason)


def _due(now: datetime, length: timedelta, params: ScheduleParams, rng: random.Random | None,
         reason: str = "") -> datetime:
    if reason == "fixed":  # the operator asked for this cadence: no jitter
        return now + length
    u = (rng or random).random()
    return now + length * (1 + params.jitter * u)


def after_success(state: FeedState, now: datetime, headers: Mapping[str, str], ttl_minutes: int | None,
                  entry_times: Iterable[datetime | None], params: ScheduleParams,
                  rng: random.Random | None = None, entry_keys: Sequence[str] | None = None) -> FeedState:
    """State after a 200 with a parsed feed.

    `entry_times` holds one item per entry in the document (its publish time, else its update
    time, else None): all count towards `entries_seen_total`. `entry_keys`, aligned with it, are
    the entries' url_keys: with them a new entry counts from when it was first seen (see
    `_first_seen`); without them only the dated entries feed the rate.
    The response's ETag/Last-Modified replace the stored ones (absent ones are cleared).
    """
    now = _aware(now)
    entry_times = list(entry_times)
    times = _merge_times(state.recent_entry_times, entry_times, now, params.recent_entries)
    state = replace(_first_seen(state, now, entry_keys, params), recent_entry_times=times)
    ttl = ttl_minutes if ttl_minutes and ttl_minutes > 0 else None
    interval = _success_interval(state, now, ttl, headers, params)
    return replace(
        state,
        etag=_header(headers, "etag") or None,
        last_modified=_header(headers, "last-modified") or None,
        last_polled_at=now,
        last_success_at=now,
        consecutive_failures=0,
        next_due_at=_due(now, interval.length, params, rng, interval.reason),
        entries_seen_total=state.entries_seen_total + len(entry_times),
        ttl_minutes=ttl,
        schedule_reason=interval.reason,
    )


def after_not_modified(state: FeedState, now: datetime, headers: Mapping[str, str], params: ScheduleParams,
                       rng: random.Random | None = None) -> FeedState:
    """State after a 304: validators kept (or refreshed when the 304 carries new ones), the
    remembered TTL and entry times reused, scheduled as after a success."""
    now = _aware(now)
    interval = _success_interval(state, now, state.ttl_minutes, headers, params)
    return replace(
        state,
        etag=_header(headers, "etag") or state.etag,
        last_modified=_header(headers, "last-modified") or state.last_modified,
        last_polled_at=now,
        last_success_at=now,
        consecutive_failures=0,
        next_due_at=_due(now, interval.length, params, rng, interval.reason),
        schedule_reason=interval.reason,
    )


def backoff_delay(failures: int, retry_after_s: float | None, params: ScheduleParams) -> tuple[timedelta, str]:
    """The delay before retrying after `failures` consecutive failures, and which term set it."""
    exponent = min(max(failures, 1) - 1, 60)  # in float seconds: no overflow, far past any cap
    seconds = params.backoff_base.total_seconds() * 2.0**exponent
    delay = timedelta(seconds=min(seconds, params.backoff_max.total_seconds()))
    reason = "backoff"
    if retry_after_s is not None and retry_after_s > 0:
        asked = min(timedelta(seconds=min(retry_after_s, 10**9)), params.retry_after_max)
        if asked > delay:
            delay, reason = asked, "retry-after"
    if delay < params.min_interval:
        delay, reason = params.min_interval, "min"
    return delay, reason


def after_failure(state: FeedState, now: datetime, reason: str, retry_after_s: float | None,
                  params: ScheduleParams, rng: random.Random | None = None) -> FeedState:
    """State after a failed poll (network error, HTTP error, unparseable feed): validators and
    entry history are kept, the retry is backed off, never abandoned."""
    now = _aware(now)
    failures = state.consecutive_failures + 1
    delay, why = backoff_delay(failures, retry_after_s, params)
    return replace(
        state,
        last_polled_at=now,
        last_error=reason,
        last_error_at=now,
        consecutive_failures=failures,
        next_due_at=_due(now, delay, params, rng),
        schedule_reason=why,
    )
