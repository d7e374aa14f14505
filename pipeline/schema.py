"""The one declaration of the output datasets: column names, Arrow types and their meaning.

The README's data dictionary is this file in prose; `tests/test_schema.py` keeps them in step.
Partition columns are declared here too but, as Hive-style datasets do, live only in folder names.
"""

from __future__ import annotations

import pyarrow as pa

_TS = pa.timestamp("us", tz="UTC")


def _f(name: str, type_: pa.DataType, doc: str, nullable: bool = True) -> pa.Field:
    return pa.field(name, type_, nullable=nullable, metadata={"doc": doc})


ARTICLE_SCHEMA = pa.schema(
    [
        _f("article_id", pa.string(), "sha256(canonical_url), first 32 hex chars: stable across runs.", False),
        _f("url", pa.string(), "The link as found in the feed entry.", False),
        _f("canonical_url", pa.string(), "Canonicalised URL (page's rel=canonical when present).", False),
        _f("feed_url", pa.string(), "The feed the entry came from.", False),
        _f("source", pa.string(), "Source name: config `name`, else the feed title, else the host.", False),
        _f("domain", pa.string(), "Registered host of canonical_url, without `www.`.", False),
        _f("site_name", pa.string(), "Site name from the page's metadata (og:site_name and similar)."),
        _f("title", pa.string(), "Headline (page metadata, else the feed entry)."),
        _f("body", pa.string(), "Article text as extracted, original characters kept."),
        _f("summary", pa.string(), "Feed entry summary, else the page's description."),
        _f("authors", pa.list_(pa.string()), "Authors (page metadata, else the feed entry)."),
        _f("categories", pa.list_(pa.string()), "Categories from the feed entry and the page."),
        _f("tags", pa.list_(pa.string()), "Tags from the feed's config entry."),
        _f("image_url", pa.string(), "Lead image (og:image or similar)."),
        _f("published_at", _TS, "Publication time in UTC; null when unknown or implausible."),
        _f("date_source", pa.string(), "Where published_at came from: page | feed | null."),
        _f("fetched_at", _TS, "When the page (or feed, for feed-only rows) was fetched, UTC.", False),
        _f("language", pa.string(), "ISO 639-1 code detected offline; `und` when undetermined.", False),
        _f("language_confidence", pa.float32(), "Detector confidence in [0, 1].", False),
        _f("word_count", pa.int32(), "Words in body (Arabic-aware).", False),
        _f("char_count", pa.int32(), "Characters in body.", False),
        _f("content_hash", pa.string(), "Hash of the normalised body: exact-duplicate key.", False),
        _f("cluster_id", pa.string(), "article_id of the earliest article of its near-duplicate cluster.", False),
        _f("duplicate_of", pa.string(), "cluster_id when this is a near-duplicate; null for the first."),
        _f("version", pa.int32(),
           "1 for an article's first row, 2, 3, ... for each changed body; null (1) in older files."),
        _f("updated_at", _TS, "The feed entry's updated date; for a later version without one, when it was fetched."),
        _f("previous_content_hash", pa.string(), "content_hash of the version before this one; null for version 1."),
        _f("script", pa.string(), "Dominant script of the text (ISO 15924: Arab, Latn, ...)."),
        _f("reading_time_min", pa.float32(), "Estimated reading time in minutes (per-script reading speed).", False),
        _f("has_paywall", pa.bool_(), "True when the page says it is not free (JSON-LD isAccessibleForFree)."),
        _f("keywords", pa.list_(pa.string()),
           "Up to 8 salient terms, extracted offline; empty for languages without word spaces or stopwords."),
        _f("body_source", pa.string(),
           "Where body came from: page | page_recall | feed_content | feed_summary | none (neither had text).", False),
        _f("http_status", pa.int16(), "HTTP status of the article fetch; null if not fetched."),
        _f("extractor", pa.string(), "Extractor and version, e.g. trafilatura/2.3.1.", False),
        _f("run_id", pa.string(), "The run that wrote the row.", False),
        _f("ingest_date", pa.string(), "UTC date of the run, YYYY-MM-DD (partition column).", False),
    ]
)

REJECT_SCHEMA = pa.schema(
    [
        _f("url", pa.string(), "The feed or article URL that failed.", False),
        _f("feed_url", pa.string(), "The feed the item came from (null for a feed failure)."),
        _f("stage", pa.string(), "poll | fetch | extract.", False),
        _f("reason", pa.string(), "Short code: http_404, timeout, not_html, too_large, ...", False),
        _f("http_status", pa.int16(), "HTTP status when there was one."),
        _f("detail", pa.string(), "Human-readable detail."),
        _f("at", _TS, "When it failed, UTC.", False),
        _f("run_id", pa.string(), "The run that recorded it.", False),
        _f("ingest_date", pa.string(), "UTC date of the run (partition column).", False),
    ]
)

REJECT_PARTITIONS = ("ingest_date",)

# Raised whenever a column is added; recorded in each dataset's descriptor (`pipeline.io.layout`).
# Evolution is additive only: a new version may add nullable columns, never rename, drop or retype.
SCHEMA_VERSION = 2  # 2: version, updated_at, previous_content_hash

# Partition values live in folder names, so a reader must be told their types: `ingest_date` is
# a DATE (DuckDB, Polars and Spark infer that; pyarrow and pandas need this schema).
PARTITION_TYPES: dict[str, pa.DataType] = {
    "ingest_date": pa.date32(), "language": pa.string(), "source": pa.string(), "domain": pa.string()}


def partition_schema(names: tuple[str, ...] | list[str]) -> pa.Schema:
    return pa.schema([pa.field(n, PARTITION_TYPES[n]) for n in names])
