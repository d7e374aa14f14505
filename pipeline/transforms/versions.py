"""NumberVersions: refetched articles of changed feed entries in; new versions out, unchanged
bodies dropped, and refetches of articles with no recorded version handed back to deduplication.

One refetch per `article_id` per tick (`dedup.first_per_key`: grouped by the article's seen-store
bucket, the same order as deduplication), then each bucket's picks through a stateful DoFn keyed by
that bucket, in the global window (`AcrossTicks`): the latest version of every article of the
bucket, read from the bucket's folder on its first picks (`version` seen keys,
`pipeline.articles.versions`), updated with each version it lets through. A rerun after a crash
finds the version the killed run wrote (its article file's keys are rebuilt, `state.rebuild_seen`)
and writes nothing again.
"""

from __future__ import annotations

import apache_beam as beam
from apache_beam.coders import PickleCoder
from apache_beam.transforms import window
from apache_beam.transforms.userstate import ReadModifyWriteStateSpec

from pipeline.articles.versions import Latest, latest_versions, next_version
from pipeline.io import state
from pipeline.records import Article
from pipeline.transforms.across_ticks import AcrossTicks
from pipeline.transforms.dedup import article_order, first_per_key
from pipeline.transforms.names import FRESH, counter

_LATEST = beam.DoFn.StateParam(ReadModifyWriteStateSpec("latest", PickleCoder()))  # article_id -> Latest


class _Number(beam.DoFn):
    written = counter("versions_written")
    unchanged = counter("refetches_unchanged")

    def __init__(self, state_path: str):
        self.state_path = state_path

    def process(self, element: tuple[int, list[tuple[str, Article]]], latest=_LATEST):
        bucket, picks = element
        known = latest.read()
        if known is None:
            known = latest_versions(state.read_seen_bucket(self.state_path, bucket)[state.VERSION])
        for _, article in picks:
            prior = known.get(article.article_id)
            if prior is None:  # never written (or written before versions were kept and not rebuilt)
                yield beam.pvalue.TaggedOutput(FRESH, article)
                continue
            version = next_version(prior, article)
            if version is None:
                self.unchanged.inc()
                continue
            self.written.inc()
            known[article.article_id] = Latest(version.version, version.content_hash, version.cluster_id,
                                               version.body_source)
            yield version
        latest.write(known)


class NumberVersions(beam.PTransform):
    """(new versions, refetches to deduplicate as new articles)."""

    def __init__(self, state_path: str, tick_windows: window.WindowFn | None = None):
        super().__init__()
        self.state_path, self.tick_windows = state_path, tick_windows

    def expand(self, refetched: beam.PCollection) -> tuple[beam.PCollection, beam.PCollection]:
        picked = first_per_key(refetched, lambda a: a.article_id, article_order, "Article")
        number = beam.ParDo(_Number(self.state_path)).with_outputs(FRESH, main="versions")
        versions, fresh = picked.first | "Number" >> AcrossTicks(number, self.tick_windows)
        return versions, fresh
