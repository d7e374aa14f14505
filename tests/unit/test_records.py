"""Records cross every Beam stage pickled: the compact form must give back exactly what went in."""

import copy
import dataclasses
import pickle
from datetime import UTC, datetime, timedelta, timezone

import pytest

from pipeline.records import Article, FeedEntry

_DATES = [
    datetime(2026, 12, 1, 23, 59, 59, 999_999, tzinfo=UTC),
    datetime(1969, 7, 20, 20, 17, 40, 1, tzinfo=UTC),  # before the epoch
    datetime(2026, 3, 1, 10, 0, tzinfo=timezone(timedelta(hours=3))),  # another offset: pickled as is
    datetime(2026, 3, 1, 10, 0),  # naive: pickled as is
    None,
]


def _entry(published: datetime | None) -> FeedEntry:
    return FeedEntry(feed_url="http://127.0.0.1/feed.xml", source="Akhbar", link="http://127.0.0.1/a/1",
                     url_key="k1", title="عنوان الخبر", summary="ملخص", authors=("كاتب",),
                     categories=("اقتصاد",), published_at=published, first_seen_at=_DATES[0], revision=True)


def _article(published: datetime | None) -> Article:
    return Article(article_id="a1", url="http://127.0.0.1/a/1", canonical_url="http://127.0.0.1/a/1",
                   feed_url="http://127.0.0.1/feed.xml", source="Akhbar", domain="127.0.0.1", site_name=None,
                   title="عنوان", body="نص الخبر " * 50, summary=None, authors=["كاتب"], keywords=["نص"],
                   published_at=published, fetched_at=_DATES[0], updated_at=None, language="ar")


@pytest.mark.parametrize("published", _DATES)
@pytest.mark.parametrize("make", [_entry, _article])
def test_pickle_round_trip_keeps_every_field_and_its_timezone(make, published):
    record = make(published)
    for back in (pickle.loads(pickle.dumps(record, pickle.HIGHEST_PROTOCOL)), copy.deepcopy(record)):
        assert back == record
        assert type(back) is type(record)
        for name in ("published_at", "first_seen_at", "fetched_at", "updated_at"):
            if hasattr(record, name):
                original, restored = getattr(record, name), getattr(back, name)
                assert restored == original
                assert (restored.tzinfo, restored.utcoffset()) == (original.tzinfo, original.utcoffset()) \
                    if original else restored is None
        assert dataclasses.replace(back, title="x").title == "x"


def test_utc_datetimes_do_not_travel_as_datetime_objects():
    """The point of the compact form: no tz-aware datetime is reduced inside the pickle."""
    data = pickle.dumps(_article(_DATES[0]), pickle.HIGHEST_PROTOCOL)
    assert b"datetime" not in data
    assert b"datetime" in pickle.dumps(_article(_DATES[2]), pickle.HIGHEST_PROTOCOL)  # kept as is
