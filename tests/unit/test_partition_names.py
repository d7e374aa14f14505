"""Partition folder names: only Hive's special characters escaped, so Spark reads them as the others do."""

from __future__ import annotations

from pipeline.io.parquet import hive_escape, hive_unescape, partition_dir


def test_arabic_stays_raw_and_hive_specials_are_escaped() -> None:
    assert partition_dir({"ingest_date": "2026-12-01", "source": "أخبار الواحة"}) == \
        "ingest_date=2026-12-01/source=أخبار الواحة"
    assert hive_escape("a/b=c:d%e?f#g") == "a%2Fb%3Dc%3Ad%25e%3Ff%23g"
    assert hive_escape("line\nbreak") == "line%0Abreak"


def test_unescape_reads_both_namings() -> None:
    for value in ("أخبار الواحة", "a/b=c:d%e?f", "Harbor Daily"):
        assert hive_unescape(hive_escape(value)) == value
    assert hive_unescape("%D8%A3%D8%AE%D8%A8%D8%A7%D8%B1") == "أخبار"  # folders written before this version
