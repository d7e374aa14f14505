import time
from datetime import UTC, date, datetime, timedelta, timezone

import pytest

from pipeline.dates import clamp_future, to_utc


def utc(*args: int) -> datetime:
    return datetime(*args, tzinfo=UTC)


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        # ISO 8601
        ("2026-11-24", utc(2026, 11, 24)),
        ("2026-11-24T10:30:00Z", utc(2026, 11, 24, 10, 30)),
        ("2026-11-24T10:30:00.250+03:00", utc(2026, 11, 24, 7, 30, 0, 250000)),
        ("2026-11-24T01:30:00-05:00", utc(2026, 11, 24, 6, 30)),
        ("  2026-11-24 10:30  ", utc(2026, 11, 24, 10, 30)),
        ("٢٠٢٦-١١-٢٤T١٠:٣٠:٠٠Z", utc(2026, 11, 24, 10, 30)),
        # RFC 822 / 1123
        ("Tue, 24 Nov 2026 10:30:00 GMT", utc(2026, 11, 24, 10, 30)),
        ("Tue, 24 Nov 2026 10:30:00 +0300", utc(2026, 11, 24, 7, 30)),
        ("24 Nov 2026 10:30:00 -0000", utc(2026, 11, 24, 10, 30)),
        # Arabic, Egyptian/Gulf month names
        ("٢٤ نوفمبر ٢٠٢٦", utc(2026, 11, 24)),
        ("الثلاثاء 24 نوفمبر 2026 - 10:30", utc(2026, 11, 24, 10, 30)),
        ("الثلاثاء ٢٤ نوفمبر ٢٠٢٦ - ١٠:٣٠ م", utc(2026, 11, 24, 22, 30)),
        ("1 يناير 2026 12:15 ص", utc(2026, 1, 1, 0, 15)),
        ("3 أبريل 2026", utc(2026, 4, 3)),
        ("3 ابريل 2026", utc(2026, 4, 3)),
        ("9 يونيه 2026", utc(2026, 6, 9)),
        ("9 يوليه 2026 09:05 صباحاً", utc(2026, 7, 9, 9, 5)),
        ("15 أغسطس 2026", utc(2026, 8, 15)),
        ("1 أكتوبر 2026 12:00 م", utc(2026, 10, 1, 12, 0)),
        ("24 نوفمبر، 2026", utc(2026, 11, 24)),
        ("24 نوفمـــبر 2026م", utc(2026, 11, 24)),
        # Arabic, Levantine/Iraqi month names
        ("24 تشرين الثاني 2026", utc(2026, 11, 24)),
        ("24 كانون الأول 2026", utc(2026, 12, 24)),
        ("2 كانون الثاني 2026 18:45", utc(2026, 1, 2, 18, 45)),
        ("10 شباط 2026", utc(2026, 2, 10)),
        ("21 آذار 2026", utc(2026, 3, 21)),
        ("5 أيار 2026", utc(2026, 5, 5)),
        ("6 آب 2026 08:00 م", utc(2026, 8, 6, 20, 0)),
        ("30 أيلول 2026", utc(2026, 9, 30)),
        ("6 تشرين الأول 2026", utc(2026, 10, 6)),
        # both names, and a Hijri date before the Gregorian one
        ("24 نوفمبر/تشرين الثاني 2026", utc(2026, 11, 24)),
        ("الخميس 4 جمادى الآخرة 1448 هـ الموافق 24 نوفمبر 2026", utc(2026, 11, 24)),
    ],
)
def test_strings(value: str, expected: datetime) -> None:
    assert to_utc(value) == expected


def test_datetimes_and_dates() -> None:
    assert to_utc(datetime(2026, 1, 1, 12)) == utc(2026, 1, 1, 12)
    plus3 = timezone(timedelta(hours=3))
    converted = to_utc(datetime(2026, 1, 1, 12, tzinfo=plus3))
    assert converted == utc(2026, 1, 1, 9)
    assert converted is not None and converted.tzinfo is UTC
    assert to_utc(date(2026, 1, 2)) == utc(2026, 1, 2)


def test_feedparser_struct_time_is_utc() -> None:
    assert to_utc(time.gmtime(1_795_000_000)) == datetime.fromtimestamp(1_795_000_000, UTC)
    leap = time.struct_time((2016, 12, 31, 23, 59, 60, 5, 366, 0))
    assert to_utc(leap) == utc(2016, 12, 31, 23, 59, 59)


@pytest.mark.parametrize(
    "value",
    [
        None, 12, 3.5, b"2026-11-24", [], "", "   ", "not a date", "2026-13-45",
        "32 نوفمبر 2026", "29 فبراير 2025", "24 نوفمبر", "نوفمبر 2026",
        "24 نوفمبر 2026 25:61", "9999-12-31T23:59:59-05:00", "٢٤ ابوظبي ٢٠٢٦",
    ],
)
def test_unusable_values_give_none(value: object) -> None:
    assert to_utc(value) is None


def test_clamp_future() -> None:
    now = utc(2026, 11, 24, 12)
    assert clamp_future(None, now) is None
    assert clamp_future(utc(2026, 11, 24, 8), now) == utc(2026, 11, 24, 8)
    assert clamp_future(utc(2026, 11, 25, 12), now) == utc(2026, 11, 25, 12)
    assert clamp_future(utc(2026, 11, 25, 12, 1), now) is None
    assert clamp_future(utc(2026, 11, 24, 14), now, timedelta(hours=1)) is None
    assert clamp_future(utc(1990, 1, 1), now) == utc(1990, 1, 1)
    assert clamp_future(utc(1989, 12, 31, 23, 59), now) is None


def test_clamp_future_accepts_naive_as_utc() -> None:
    now = datetime(2026, 11, 24, 12)
    assert clamp_future(utc(2026, 11, 30), now) is None
    assert clamp_future(datetime(2026, 11, 24, 9), now) == datetime(2026, 11, 24, 9)
