"""Publication dates from feeds, normalised to aware UTC datetimes.

Feeds give dates as feedparser struct_times, ISO 8601, RFC 822, or, on many
Arabic sites, free text such as "الثلاثاء ٢٤ نوفمبر ٢٠٢٦ - 10:30 م" using
either the Egyptian/Gulf or the Levantine/Iraqi month names. Values with no
time zone are taken as UTC.
"""

import re
import time
from datetime import UTC, date, datetime, timedelta
from email.utils import parsedate_to_datetime

_EPOCH_OF_NEWS = datetime(1990, 1, 1, tzinfo=UTC)

# Fold what Arabic spellings vary on before matching month names.
_FOLD = {
    **{0x0660 + d: str(d) for d in range(10)},  # Arabic-Indic digits
    **{0x06F0 + d: str(d) for d in range(10)},  # Persian digits
    **{cp: None for cp in range(0x064B, 0x0660)},  # harakat
    0x0640: None,  # tatweel
    0x0623: "ا", 0x0625: "ا", 0x0622: "ا", 0x0671: "ا",  # أ إ آ ٱ
    0x0649: "ي",  # ى
    0x06CC: "ي",  # ی
    0x06A9: "ك",  # ک
}

_MONTHS = {
    # Egyptian/Gulf (transliterated)
    "يناير": 1, "فبراير": 2, "مارس": 3, "ابريل": 4, "مايو": 5, "يونيو": 6,
    "يونيه": 6, "يوليو": 7, "يوليه": 7, "اغسطس": 8, "سبتمبر": 9, "اكتوبر": 10,
    "نوفمبر": 11, "ديسمبر": 12,
    # Levantine/Iraqi (Syriac-derived)
    "كانون الثاني": 1, "شباط": 2, "اذار": 3, "نيسان": 4, "ايار": 5,
    "حزيران": 6, "تموز": 7, "اب": 8, "ايلول": 9, "تشرين الاول": 10,
    "تشرين الثاني": 11, "كانون الاول": 12,
}
# Longest first so "كانون الثاني" is not cut short by another name.
_MONTH = "|".join(sorted(map(re.escape, _MONTHS), key=len, reverse=True))
_NO_LETTER_NEXT = r"(?![^\W\d_])"  # keeps "اب" from matching inside "ابريل"
# "24 نوفمبر/تشرين الثاني 2026م": the second, equivalent name is skipped and
# the era suffix (م, هـ) is allowed after the year.
_ARABIC_DATE = re.compile(
    rf"(?<!\d)(?P<day>\d{{1,2}})\s+(?P<month>{_MONTH}){_NO_LETTER_NEXT}"
    rf"(?:\s*[/\-–]\s*(?:{_MONTH}){_NO_LETTER_NEXT})?\s*[,،]?\s*(?P<year>\d{{4}})(?!\d)"
)
_TIME = re.compile(
    r"(?<!\d)(?P<hour>\d{1,2}):(?P<minute>\d{2})(?::(?P<second>\d{2}))?"
    r"(?:\s*(?P<half>ص|م|صباحا|مساء|am|pm)(?!\w))?",
    re.IGNORECASE,
)
_AFTERNOON = frozenset({"م", "مساء", "pm"})


def _from_datetime(value: datetime) -> datetime:
    if value.tzinfo is None:
        return value.replace(tzinfo=UTC)
    return value.astimezone(UTC)


def _parse_arabic(text: str) -> datetime | None:
    found = _ARABIC_DATE.search(text)
    if not found:
        return None
    hour = minute = second = 0
    clock = _TIME.search(text)
    if clock:
        hour, minute = int(clock["hour"]), int(clock["minute"])
        second = int(clock["second"] or 0)
        half = (clock["half"] or "").lower()
        if half and hour <= 12:
            hour = hour % 12 + (12 if half in _AFTERNOON else 0)
    return datetime(
        int(found["year"]), _MONTHS[found["month"]], int(found["day"]),
        hour, minute, second, tzinfo=UTC,
    )


def _parse_string(text: str) -> datetime | None:
    text = text.strip().translate(_FOLD)
    if not text:
        return None
    try:
        return _from_datetime(datetime.fromisoformat(text))
    except ValueError:
        pass
    try:
        return _from_datetime(parsedate_to_datetime(text))
    except (ValueError, TypeError, IndexError):
        pass
    return _parse_arabic(text)


def to_utc(value: object) -> datetime | None:
    """Parse a feed date into an aware UTC datetime; None if unusable.

    Accepts datetimes and dates (naive = UTC), feedparser's ``*_parsed``
    struct_times (already UTC) and strings. Never raises on bad input.
    """
    try:
        if isinstance(value, datetime):
            return _from_datetime(value)
        if isinstance(value, date):
            return datetime(value.year, value.month, value.day, tzinfo=UTC)
        if isinstance(value, time.struct_time):
            # Leap seconds (60, 61) are valid in struct_time, not in datetime.
            return datetime(*value[:5], min(value.tm_sec, 59), tzinfo=UTC)
        if isinstance(value, str):
            return _parse_string(value)
    except (ValueError, OverflowError):
        return None
    return None


def _as_utc(value: datetime) -> datetime:
    return value if value.tzinfo else value.replace(tzinfo=UTC)


def clamp_future(
    dt: datetime | None, now: datetime, tolerance: timedelta = timedelta(hours=24)
) -> datetime | None:
    """Drop dates a feed cannot truthfully claim: future ones and pre-1990.

    ``tolerance`` allows for clock skew and time zones mislabelled as UTC.
    """
    if dt is None:
        return None
    moment = _as_utc(dt)
    if moment - _as_utc(now) > tolerance or moment < _EPOCH_OF_NEWS:
        return None
    return dt


def parse_http_date(value: str | None) -> datetime | None:
    """An HTTP date (RFC 9110 §5.6.7; Expires, Date, Retry-After) as aware UTC; None if unusable."""
    if not value:
        return None
    try:
        when = parsedate_to_datetime(value.strip())
    except (TypeError, ValueError, IndexError):
        return None
    return when if when.tzinfo else when.replace(tzinfo=UTC)


def parse_retry_after(value: str | None, now: datetime | None = None) -> float | None:
    """Seconds to wait from a Retry-After header (delta-seconds or an HTTP date)."""
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    when = parse_http_date(value)
    if when is None:
        return None
    return max(0.0, (when - (now or datetime.now(UTC))).total_seconds())


_DURATION = re.compile(r"\s*(\d+(?:\.\d+)?)\s*([smhd]?)\s*")
_UNIT_SECONDS = {"": 1, "s": 1, "m": 60, "h": 3600, "d": 86400}


def duration_seconds(value: object) -> float:
    """Seconds from `90s`, `10m`, `2h`, `1d`, a bare number string, or a number; ValueError otherwise.
    One parser for the command line (`--tick`) and the config (`poll_every`)."""
    if isinstance(value, int | float) and not isinstance(value, bool):
        return float(value)
    match = _DURATION.fullmatch(value) if isinstance(value, str) else None
    if not match:
        raise ValueError(f"not a duration: {value!r} (use e.g. 90s, 10m, 2h, or seconds)")
    return float(match.group(1)) * _UNIT_SECONDS[match.group(2)]
