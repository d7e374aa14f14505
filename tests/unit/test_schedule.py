"""Polling decisions with a fixed clock and a seeded rng: every term of the interval formula."""

from __future__ import annotations

import json
import random
from datetime import UTC, datetime, timedelta

import pytest

from pipeline.records import FeedSource
from pipeline.sources.schedule import (
    FeedState,
    ScheduleParams,
    after_failure,
    after_not_modified,
    after_success,
    backoff_delay,
    conditional_headers,
    freshness,
    is_due,
    items_per_day,
)

NOW = datetime(2026, 11, 26, 12, 0, tzinfo=UTC)
EXACT = ScheduleParams(jitter=0.0)  # intervals without jitter, to check the formula itself
DEFAULT = ScheduleParams()
FEED = FeedState("https://example.org/rss")
H, M = timedelta(hours=1), timedelta(minutes=1)


def _every(gap: timedelta, count: int, newest: datetime = NOW) -> list[datetime]:
    return [newest - gap * i for i in range(count)]


def _success(times: list, headers: dict | None = None, ttl: int | None = None, state: FeedState = FEED,
             params: ScheduleParams = EXACT, now: datetime = NOW, rng: random.Random | None = None) -> FeedState:
    return after_success(state, now, headers or {}, ttl, times, params=params, rng=rng)


def _interval(state: FeedState, now: datetime = NOW) -> timedelta:
    assert state.next_due_at is not None
    return state.next_due_at - now


# --- due, validators -------------------------------------------------------------------------------

def test_is_due() -> None:
    assert is_due(None, NOW) and is_due(FEED, NOW)
    state = FeedState(FEED.feed_url, next_due_at=NOW + M)
    assert not is_due(state, NOW) and is_due(state, NOW + M) and is_due(state, NOW + H)
    with pytest.raises(ValueError, match="timezone-aware"):
        is_due(state, datetime(2026, 11, 26, 12, 0))


def test_conditional_headers() -> None:
    assert conditional_headers(None) == {} and conditional_headers(FEED) == {}
    state = _success([], {"ETag": 'W/"abc"', "Last-Modified": "Wed, 25 Nov 2026 10:00:00 GMT"})
    assert conditional_headers(state) == {"If-None-Match": 'W/"abc"',
                                          "If-Modified-Since": "Wed, 25 Nov 2026 10:00:00 GMT"}
    # a 200 without validators clears the old ones: they describe an older representation
    assert conditional_headers(_success([], {}, state=state)) == {}


# --- the success interval ---------------------------------------------------------------------------

def test_rate_estimate() -> None:
    assert items_per_day([]) is None
    assert items_per_day(_every(H, 24), NOW) == pytest.approx(24 / (23 / 24))
    assert items_per_day([NOW], NOW) == 24  # one entry: the window is at least an hour
    # the window runs to `now`: a feed that went quiet slows down
    assert items_per_day(_every(H, 24, NOW - timedelta(days=9)), NOW) == pytest.approx(24 / (9 + 23 / 24))


@pytest.mark.parametrize(("gap", "count", "expected", "reason"), [
    (timedelta(minutes=3), 20, EXACT.min_interval, "min"),         # busy wire: clamped to 5 min
    (timedelta(hours=2), 10, timedelta(hours=18) / 20, "adaptive"),  # 10 in 18 h: every 54 min
    (timedelta(days=1), 5, timedelta(days=4) / 10, "adaptive"),     # 5 in 4 days: every 9.6 h
    (timedelta(days=30), 3, EXACT.max_interval, "max"),            # monthly: capped at 24 h
])
def test_adaptive_interval_is_half_the_mean_gap_clamped(gap: timedelta, count: int, expected: timedelta,
                                                        reason: str) -> None:
    state = _success(_every(gap, count))
    assert _interval(state) == expected and state.schedule_reason == reason


def test_no_dated_entries_gives_the_default_interval() -> None:
    state = _success([None, None, None])
    assert _interval(state) == EXACT.default_interval and state.schedule_reason == "default"
    assert state.entries_seen_total == 3 and state.recent_entry_times == ()


def test_ttl_is_a_lower_bound() -> None:
    busy = _every(timedelta(minutes=3), 20)
    assert _interval(_success(busy, ttl=90)) == 90 * M
    assert _success(busy, ttl=90).schedule_reason == "ttl"
    assert _interval(_success(busy, ttl=5 * 24 * 60)) == EXACT.max_interval  # still capped
    slow = _every(timedelta(days=1), 5)
    assert _success(slow, ttl=15).schedule_reason == "adaptive"  # a short TTL does not speed up


@pytest.mark.parametrize(("headers", "expected"), [
    ({"Cache-Control": "public, max-age=7200"}, 2 * H),
    ({"cache-control": 'max-age="7200"', "Age": "1800"}, 1.5 * H),
    ({"Cache-Control": "max-age=7200", "Expires": "Thu, 26 Nov 2026 20:00:00 GMT"}, 2 * H),  # max-age wins
    ({"Expires": "Thu, 26 Nov 2026 15:00:00 GMT"}, 3 * H),
    ({"Expires": "Thu, 26 Nov 2026 15:00:00 GMT", "Date": "Thu, 26 Nov 2026 14:00:00 GMT"}, 1 * H),  # server clock
    ({"Expires": "0"}, timedelta(0)),
    ({"Cache-Control": "no-cache, max-age=7200"}, timedelta(0)),
    ({"Cache-Control": "max-age=soon"}, timedelta(0)),
    ({"Cache-Control": "private"}, None),
    ({}, None),
])
def test_freshness(headers: dict, expected: timedelta | None) -> None:
    assert freshness(headers, NOW) == expected


def test_http_cache_lifetime_is_a_lower_bound() -> None:
    busy = _every(timedelta(minutes=3), 20)
    state = _success(busy, {"Cache-Control": "max-age=3600"})
    assert _interval(state) == H and state.schedule_reason == "http-cache"
    assert _interval(_success(busy, {"Cache-Control": "max-age=60"})) == EXACT.min_interval
    assert _interval(_success(busy, {"Expires": "Sat, 28 Nov 2026 12:00:00 GMT"})) == EXACT.max_interval


def test_jitter_only_lengthens_and_is_seeded() -> None:
    times = _every(timedelta(hours=2), 10)
    base = _interval(_success(times))
    spreads = {_interval(_success(times, params=DEFAULT, rng=random.Random(seed))) for seed in range(50)}
    assert all(base <= s <= base * 1.1 for s in spreads) and len(spreads) == 50
    assert (_success(times, params=DEFAULT, rng=random.Random(7)).next_due_at
            == _success(times, params=DEFAULT, rng=random.Random(7)).next_due_at)


def test_success_bookkeeping_and_recent_times_merge() -> None:
    first = after_success(FEED, NOW, {"etag": '"1"'}, None, [*_every(H, 25), None], params=EXACT)
    assert first.entries_seen_total == 26 and first.articles_written_total == 0
    assert first.recent_entry_times == tuple(_every(H, 20))  # newest 20, newest first
    assert first.last_polled_at == first.last_success_at == NOW and first.ttl_minutes is None
    # the same entries seen again add nothing to the rate; a new one is added
    later = NOW + 30 * M
    second = after_success(first, later, {}, 30, [later, *_every(H, 25)], params=EXACT)
    assert second.recent_entry_times == (later, *_every(H, 19))
    assert second.entries_seen_total == 52 and second.articles_written_total == 0 and second.ttl_minutes == 30
    # distinct entries sharing a date-only timestamp each count, once
    day = datetime(2026, 11, 26, tzinfo=UTC)
    dated = _success([day] * 3)
    assert dated.recent_entry_times == (day,) * 3
    assert _success([day] * 3, state=dated).recent_entry_times == (day,) * 3
    # future entry times (clock skew within the feed's tolerance) count as now
    assert _success([NOW + H]).recent_entry_times == (NOW,)
    assert first.items_per_day == pytest.approx(20 / (19 / 24))


# --- 304 ---------------------------------------------------------------------------------------------

def test_not_modified_keeps_validators_and_remembered_ttl() -> None:
    state = _success(_every(timedelta(minutes=3), 20), {"ETag": '"v1"', "Last-Modified": "Wed, 25 Nov 2026"},
                     ttl=120)
    state = after_failure(state, NOW + H, "timeout", None, EXACT)
    later = NOW + 2 * H
    nm = after_not_modified(state, later, {}, EXACT)
    assert nm.etag == '"v1"' and nm.last_modified == "Wed, 25 Nov 2026"
    assert nm.consecutive_failures == 0 and nm.last_error == "timeout" and nm.last_success_at == later
    assert nm.entries_seen_total == state.entries_seen_total and nm.recent_entry_times == state.recent_entry_times
    assert _interval(nm, later) == 120 * M and nm.schedule_reason == "ttl"
    refreshed = after_not_modified(nm, later, {"etag": '"v2"', "cache-control": "max-age=10800"}, EXACT)
    assert refreshed.etag == '"v2"' and _interval(refreshed, later) == 3 * H


def test_not_modified_slows_a_feed_that_went_quiet() -> None:
    state = _success(_every(H, 20))
    assert _interval(state) < H
    a_week_later = NOW + timedelta(days=7)
    assert _interval(after_not_modified(state, a_week_later, {}, EXACT), a_week_later) > 2 * H


# --- failures -----------------------------------------------------------------------------------------

def test_backoff_doubles_up_to_the_cap() -> None:
    state, delays = _success(_every(H, 10), {"etag": '"x"'}), []
    for n in range(1, 12):
        state = after_failure(state, NOW, "http_503", None, EXACT)
        delays.append(_interval(state))
        assert state.consecutive_failures == n and state.last_error == "http_503" and state.last_error_at == NOW
    assert delays[:5] == [5 * M, 10 * M, 20 * M, 40 * M, 80 * M]
    assert delays[-1] == EXACT.backoff_max and state.schedule_reason == "backoff"
    assert state.etag == '"x"' and state.recent_entry_times  # kept through failures
    assert backoff_delay(10**9, None, EXACT) == (EXACT.backoff_max, "backoff")  # no overflow


def test_retry_after_honoured_when_larger_and_capped() -> None:
    assert backoff_delay(1, 3600, EXACT) == (H, "retry-after")
    assert backoff_delay(6, 3600, EXACT) == (160 * M, "backoff")  # smaller than the backoff
    assert backoff_delay(1, 30 * 86400, EXACT) == (EXACT.retry_after_max, "retry-after")
    assert backoff_delay(1, float("inf"), EXACT) == (EXACT.retry_after_max, "retry-after")
    state = after_failure(FEED, NOW, "http_429", 7200, EXACT)
    assert _interval(state) == 2 * H and state.schedule_reason == "retry-after"


def test_failures_with_jitter_and_recovery() -> None:
    state = FEED
    for _ in range(30):
        state = after_failure(state, NOW, "connect_error", None, DEFAULT, random.Random(3))
        assert _interval(state) <= DEFAULT.backoff_max * 1.1  # never parked for good
    assert state.consecutive_failures == 30 and not is_due(state, NOW) and is_due(state, NOW + 27 * H)
    recovered = _success(_every(H, 5), state=state, now=NOW + 27 * H)
    assert recovered.consecutive_failures == 0 and recovered.last_error == "connect_error"
    assert after_failure(recovered, NOW + 28 * H, "timeout", None, EXACT).consecutive_failures == 1
    assert _interval(after_failure(recovered, NOW + 28 * H, "timeout", None, EXACT), NOW + 28 * H) == 5 * M


# --- params and persistence ----------------------------------------------------------------------------

@pytest.mark.parametrize("kwargs", [
    {"min_interval": timedelta(0)},
    {"min_interval": 2 * H, "default_interval": H},
    {"max_interval": 30 * M},
    {"backoff_base": timedelta(days=2)},
    {"jitter": 1.5},
    {"recent_entries": 1},
])
def test_params_are_validated(kwargs: dict) -> None:
    with pytest.raises(ValueError):
        ScheduleParams(**kwargs)


def test_state_round_trips_through_json() -> None:
    state = after_failure(_success(_every(H, 3), {"etag": '"e"'}, ttl=30), NOW + H, "http_500", 120, DEFAULT,
                          random.Random(1))
    data = json.loads(json.dumps(state.to_dict()))
    assert FeedState.from_dict(data) == state
    assert FeedState.from_dict({"feed_url": "u", "added_later": 1}) == FeedState("u")


# --- first-seen: new entries count from when they appear, whatever their dates -----------------

STALE = datetime(2020, 1, 1, tzinfo=UTC)  # a CMS that stamps every entry with the same old date


def _poll_keys(state: FeedState, keys: list[str], now: datetime, times: list | None = None) -> FeedState:
    return after_success(state, now, {}, None, times if times is not None else [STALE] * len(keys),
                         params=EXACT, entry_keys=keys)


def test_stale_dated_new_entries_still_shorten_the_interval() -> None:
    first = _poll_keys(FEED, [f"k{i}" for i in range(20)], NOW)
    assert first.schedule_reason == "max" and first.seen_since == NOW and first.recent_seen_times == ()
    later = NOW + H
    second = _poll_keys(first, ["new1", *[f"k{i}" for i in range(19)]], later)
    assert second.recent_seen_times == (later,)
    # one new entry in the hour since tracking began: 24 a day, so polled every 30 minutes
    assert (second.schedule_reason, second.next_due_at - later) == ("adaptive", 30 * M)
    # without keys the same poll sees only the publisher's dates and stays at the maximum
    blind = after_success(first, later, {}, None, [STALE] * 20, params=EXACT)
    assert blind.schedule_reason == "max"


def test_re_seen_entries_do_not_count_and_undated_new_ones_do() -> None:
    first = _poll_keys(FEED, ["a", "b"], NOW, times=[None, None])
    assert first.schedule_reason == "default"
    again = _poll_keys(first, ["a", "b"], NOW + H, times=[None, None])
    assert again.recent_seen_times == () and again.schedule_reason == "default"
    grown = _poll_keys(again, ["c", "d", "a", "b"], NOW + 2 * H, times=[None] * 4)
    assert grown.recent_seen_times == (NOW + 2 * H,) * 2
    assert grown.schedule_reason == "adaptive" and grown.items_per_day == pytest.approx(24.0)


def test_good_dates_are_not_overridden_by_first_seen_times() -> None:
    # an hourly feed with correct dates: its dates give 24/day; first-seen agrees or says less
    keys = [f"k{i}" for i in range(12)]
    first = _poll_keys(FEED, keys, NOW, times=_every(H, 12))
    second = _poll_keys(first, ["n", *keys[:11]], NOW + 6 * H, times=_every(H, 12, NOW + 5 * H))
    assert second.items_per_day == pytest.approx(items_per_day(second.recent_entry_times, NOW + 6 * H))


def test_entry_keys_are_bounded_short_and_survive_the_store() -> None:
    params = ScheduleParams(jitter=0.0, recent_keys=5)
    keys = [f"{i:02d}" + "f" * 30 for i in range(8)]
    state = after_success(FEED, NOW, {}, None, [None] * 8, params=params, entry_keys=keys)
    assert len(state.recent_keys) == 5 and all(len(k) == 12 for k in state.recent_keys)
    state = _poll_keys(state, ["x" * 32], NOW + H)
    back = FeedState.from_dict(json.loads(json.dumps(state.to_dict())))
    assert back == state and back.recent_seen_times == (NOW + H,) and back.seen_since == NOW


# --- per-feed cadence: poll_every, min_interval, max_interval -----------------------------------

def _feed(**cadence: float) -> FeedSource:
    return FeedSource("https://example.org/rss", **cadence)


def test_poll_every_is_a_fixed_interval_without_jitter_or_clamping() -> None:
    params = DEFAULT.for_feed(_feed(poll_every_s=30))
    busy, quiet = _every(M, 20), _every(24 * H, 3)
    for times in (busy, quiet, []):
        state = _success(times, params=params, rng=random.Random(1))
        assert (state.schedule_reason, _interval(state)) == ("fixed", timedelta(seconds=30))
    # the publisher's floor still holds: a TTL of an hour is not undercut
    ttl = _success(busy, ttl=60, params=EXACT.for_feed(_feed(poll_every_s=30)))
    assert (ttl.schedule_reason, _interval(ttl)) == ("ttl", H)
    # failures back off as for any feed, Retry-After included
    failed = after_failure(FEED, NOW, "http_503", 7200, params, rng=random.Random(0))
    assert failed.schedule_reason == "retry-after" and _interval(failed) >= 2 * H
    backoff = after_failure(FEED, NOW, "timeout", None, EXACT.for_feed(_feed(poll_every_s=30)))
    assert (backoff.schedule_reason, _interval(backoff)) == ("backoff", 5 * M)


def test_min_and_max_interval_overrides() -> None:
    quiet = _every(24 * H, 3, NOW - 10 * 24 * H)  # the adaptive term wants more than a day
    capped = _success(quiet, params=EXACT.for_feed(_feed(max_interval_s=2 * 3600)))
    assert (capped.schedule_reason, _interval(capped)) == ("max", 2 * H)
    busy = _every(M, 20)
    floored = _success(busy, params=EXACT.for_feed(_feed(min_interval_s=1800)))
    assert (floored.schedule_reason, _interval(floored)) == ("min", 30 * M)
    faster = _success(busy, params=EXACT.for_feed(_feed(min_interval_s=60)))
    assert _interval(faster) < 5 * M  # below the global 5-minute floor
    # the feed's own bound wins a conflict with the global other one
    assert EXACT.for_feed(_feed(max_interval_s=60)).min_interval == M
    assert EXACT.for_feed(_feed(min_interval_s=2 * 86400)).max_interval == 48 * H
    assert EXACT.for_feed(_feed()) is EXACT
