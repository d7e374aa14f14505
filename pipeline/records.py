"""The records that flow between stages. Plain dataclasses: picklable, cheap, runner-agnostic."""

from __future__ import annotations

import functools
import operator
from dataclasses import dataclass, field, fields
from datetime import UTC, datetime, timedelta
from typing import Literal

from pipeline.text import scrub

FeedKind = Literal["feed", "news_sitemap"]
RejectStage = Literal["poll", "fetch", "extract"]
# page: extracted from the article page (page_recall: by trafilatura's recall mode, when its usual
# passes found too little); feed_content / feed_summary: the feed entry's full content or its
# summary (the page failed or had less text); none: neither had any text. Files written before
# these were told apart say `feed` for both feed values.
BodySource = Literal["page", "page_recall", "feed_content", "feed_summary", "none"]


def utc_now() -> datetime:
    return datetime.now(UTC)


_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_MICROSECOND = timedelta(microseconds=1)


@functools.cache
def _field_names(cls: type) -> tuple[str, ...]:
    return tuple(f.name for f in fields(cls))


@functools.cache
def _layout(cls: type) -> tuple[operator.attrgetter, tuple[int, ...]]:
    """(a getter of all field values, the positions of the fields that may hold a datetime)."""
    names = _field_names(cls)
    return operator.attrgetter(*names), tuple(i for i, f in enumerate(fields(cls)) if "datetime" in str(f.type))


def _unpickle(cls: type, values: tuple, stamps: tuple[tuple[int, int], ...]) -> object:
    if stamps:
        values = list(values)
        for i, micros in stamps:
            values[i] = _EPOCH + micros * _MICROSECOND
    record = object.__new__(cls)
    record.__dict__.update(zip(_field_names(cls), values, strict=True))
    return record


class CompactPickle:
    """Pickles a record as its field values, with UTC datetimes as microseconds since the epoch.

    Every record that crosses a Beam stage is pickled (and unpickled) there, several times over a
    run. A timezone-aware datetime costs about 5 us to pickle (its tzinfo is reduced each time), so
    the two or three in an article or entry took about a third of its pickling time, more than its
    text (`tests/unit/test_records.py` checks the round trip)."""

    __slots__ = ()

    def __reduce__(self) -> tuple:
        get, dated = _layout(type(self))
        values, stamps = get(self), []
        for i in dated:
            value = values[i]
            if type(value) is datetime and value.tzinfo is UTC:
                stamps.append((i, (value - _EPOCH) // _MICROSECOND))
        if stamps:
            values = list(values)
            for i, _ in stamps:
                values[i] = None
        return _unpickle, (type(self), tuple(values), tuple(stamps))


def as_row(record: object) -> dict:
    """A flat record's fields by name. `dataclasses.asdict` gives the same for these records, but
    deep-copies every value: 40-75 us per entry or article, against 2-6 us here."""
    return {name: getattr(record, name) for name in _field_names(type(record))}


def _scrub_fields(record: object) -> None:
    """Text fields as valid Unicode (`pipeline.text.scrub`), in place on a frozen dataclass: feed
    text enters records here, so no later stage or writer meets a lone surrogate."""
    for f in fields(record):  # type: ignore[arg-type]
        value = getattr(record, f.name)
        if isinstance(value, str):
            clean = scrub(value)
        elif isinstance(value, tuple) and any(isinstance(v, str) for v in value):
            clean = tuple(scrub(v) if isinstance(v, str) else v for v in value)
        else:
            continue
        if clean != value:
            object.__setattr__(record, f.name, clean)


@dataclass(frozen=True)
class FeedSource:
    """One feed to poll, as configured. Config URLs are trusted (their exact origin may be a
    private address); links found in feeds, sitemap children on other origins and feeds listed by
    an OPML document fetched from a URL are not (`trusted` False).

    With `site` set, `url` is a site's home page: its feed is found by discovery
    (`pipeline.sources.discovery`) and only the site's own origin is trusted. The cadence fields
    override the polling defaults for this feed (seconds; None: the global setting)."""

    url: str
    name: str | None = None
    language: str | None = None
    tags: tuple[str, ...] = ()
    kind: FeedKind = "feed"
    check_robots: bool = True
    trusted: bool = True
    site: bool = False
    poll_every_s: float | None = None  # a fixed interval instead of the adaptive one
    min_interval_s: float | None = None
    max_interval_s: float | None = None
    max_refetches: int | None = None  # refetches of one changed entry (None: polling.max_refetches)
    refetch_window_s: float | None = None  # how long after publication (None: polling.refetch_window_s)


@dataclass(frozen=True)
class FeedEntry(CompactPickle):
    """One entry of a polled feed, normalised across RSS/Atom flavours."""

    feed_url: str
    source: str
    link: str
    url_key: str  # article_id of the canonicalised link: the pre-fetch dedup key
    entry_id: str | None = None
    title: str | None = None
    summary: str | None = None
    content: str | None = None
    authors: tuple[str, ...] = ()
    categories: tuple[str, ...] = ()
    published_at: datetime | None = None
    updated_at: datetime | None = None
    language_hint: str | None = None
    tags: tuple[str, ...] = ()
    # when this poll saw the entry: with the seen store, an entry is emitted on its first poll only,
    # so this is its first-seen time, the `published_at` of an undated entry (`date_source first_seen`)
    first_seen_at: datetime | None = None
    # the feed says this entry, listed in an earlier poll, changed since (`pipeline.sources.revisions`):
    # its page is fetched again, past the link check, and a changed body becomes a new version
    revision: bool = False

    def __post_init__(self) -> None:
        _scrub_fields(self)

    def own_text(self) -> tuple[str | None, BodySource]:
        """The entry's longest text, its full content or its summary, and which one it is."""
        texts = [(t, s) for t, s in ((self.content, "feed_content"), (self.summary, "feed_summary")) if t]
        return max(texts, key=lambda pair: len(pair[0]), default=(None, "none"))


@dataclass(frozen=True)
class Page:
    """A fetched article page, as the server sent it (decompressed); `body` is None when the fetch
    failed (the reason is in rejects). It is decoded in the extraction pool
    (`articles.decoding`): bytes pickle as a copy, while the decoded text of a 128 KB page took
    0.27 ms to decode and 0.29 ms to pickle again (UTF-8) in the process that feeds the pool."""

    entry: FeedEntry
    final_url: str
    http_status: int | None
    body: bytes | None
    content_type: str = ""
    fetched_at: datetime = field(default_factory=utc_now)


@dataclass(frozen=True)
class Extracted:
    """Fields trafilatura found on the page; every field may be missing."""

    text: str | None = None
    text_source: BodySource = "page"  # which extraction pass gave `text`
    title: str | None = None
    description: str | None = None
    authors: tuple[str, ...] = ()
    date: str | None = None
    sitename: str | None = None
    categories: tuple[str, ...] = ()
    tags: tuple[str, ...] = ()
    image: str | None = None
    canonical_url: str | None = None
    language: str | None = None
    accessible_for_free: bool | None = None  # JSON-LD isAccessibleForFree, when the page says


@dataclass(frozen=True)
class Reject:
    """A failed item. Errors are values: every one ends up in the rejects dataset."""

    url: str
    feed_url: str | None
    stage: RejectStage
    reason: str  # short machine-friendly code, e.g. http_404, timeout, not_html
    http_status: int | None = None
    detail: str | None = None
    at: datetime = field(default_factory=utc_now)

    def __post_init__(self) -> None:
        _scrub_fields(self)


@dataclass
class Article(CompactPickle):
    """One output row. Field order and types are declared once, in `pipeline.schema`."""

    article_id: str
    url: str
    canonical_url: str
    feed_url: str
    source: str
    domain: str
    site_name: str | None
    title: str | None
    body: str | None
    summary: str | None
    authors: list[str] = field(default_factory=list)
    categories: list[str] = field(default_factory=list)
    tags: list[str] = field(default_factory=list)
    image_url: str | None = None
    published_at: datetime | None = None
    date_source: str | None = None
    fetched_at: datetime | None = None
    language: str = "und"
    language_confidence: float = 0.0
    word_count: int = 0
    char_count: int = 0
    content_hash: str = ""
    cluster_id: str = ""
    duplicate_of: str | None = None
    version: int = 1
    updated_at: datetime | None = None
    previous_content_hash: str | None = None
    script: str | None = None
    reading_time_min: float = 0.0
    has_paywall: bool | None = None
    keywords: list[str] = field(default_factory=list)
    body_source: BodySource = "none"
    http_status: int | None = None
    extractor: str = ""
    run_id: str = ""
    ingest_date: str = ""
