"""Versions of one article: a refetched page whose body differs (beyond normalization) from the
article's latest version becomes a new row with the same `article_id`, the next `version` and the
`previous_content_hash`; an unchanged body writes nothing. Pure: tested without Beam.

What is known of an article's latest version is kept as one seen key per version (kind
`version`, `pipeline.io.state`), `article_id:version:content_hash:cluster_id:body_source`, so it
is rebuilt from the articles dataset like every other seen key, and a rerun after a crash finds
the version it already wrote and adds nothing.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, replace

from pipeline.records import Article


@dataclass(frozen=True)
class Latest:
    """An article's newest version as recorded."""

    version: int
    content_hash: str
    cluster_id: str
    body_source: str


def version_key(article_id: str, version: int | None, content_hash: str | None, cluster_id: str | None,
                body_source: str | None) -> str:
    """Columns a file written before versions lacks read as version 1, its own cluster, a page body."""
    return f"{article_id}:{version or 1}:{content_hash or ''}:{cluster_id or article_id}:{body_source or 'page'}"


def key_of(article: Article) -> str:
    return version_key(article.article_id, article.version, article.content_hash, article.cluster_id,
                       article.body_source)


def article_of_key(key: str) -> str:
    """The `article_id` a version key belongs to (its state bucket is that of the article)."""
    return key.split(":", 1)[0]


def latest_versions(keys: Iterable[str]) -> dict[str, Latest]:
    """article_id -> its newest recorded version."""
    latest: dict[str, Latest] = {}
    for key in keys:
        article_id, version, content_hash, cluster_id, body_source = key.split(":", 4)
        number = int(version)
        if article_id not in latest or number > latest[article_id].version:
            latest[article_id] = Latest(number, content_hash, cluster_id, body_source)
    return latest


def next_version(latest: Latest, article: Article) -> Article | None:
    """The refetched `article` as the version after `latest`, or None when its body is the same
    (normalized hash), empty, or only the feed's text where the latest came from the page (a
    refetch that failed is not a correction)."""
    if not article.content_hash or article.content_hash == latest.content_hash:
        return None
    if latest.body_source.startswith("page") and not article.body_source.startswith("page"):
        return None
    return replace(article, version=latest.version + 1, previous_content_hash=latest.content_hash,
                   cluster_id=latest.cluster_id, updated_at=article.updated_at or article.fetched_at)
