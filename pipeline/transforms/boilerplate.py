"""DropSiteBoilerplate: lines a site repeats on many of its pages leave the bodies
(`pipeline.articles.boilerplate` decides which).

Articles are grouped by site, so each site's pages of this run meet in one place; the site's
earlier pages come from the state store's bucket for that site, read once per bucket by each
worker and kept up to date with the pages it handles. The line keys of this run's pages leave as
a second output, recorded after the articles are written.
"""

from __future__ import annotations

from collections.abc import Iterable

import apache_beam as beam

from pipeline.articles.boilerplate import KEEP_PAGES, line_keys, repeated_lines, strip_lines
from pipeline.articles.merge import with_body
from pipeline.io import state
from pipeline.records import Article, utc_now
from pipeline.transforms.names import LINE_KEYS, counter


class _StripSite(beam.DoFn):
    dropped = counter("boilerplate_lines_dropped")

    def __init__(self, state_path: str, run_id: str):
        self.state_path, self.run_id = state_path, run_id

    def setup(self) -> None:
        self.buckets: dict[int, dict[str, dict[str, frozenset[str]]]] = {}

    def _earlier(self, domain: str) -> dict[str, frozenset[str]]:
        bucket = state.bucket_of(domain)
        if bucket not in self.buckets:
            self.buckets[bucket] = state.read_boilerplate_bucket(self.state_path, bucket, KEEP_PAGES)
        return self.buckets[bucket].setdefault(domain, {})

    def process(self, element: tuple[str, Iterable[tuple[bool, Article]]]):
        domain, items = element[0], list(element[1])
        earlier = self._earlier(domain)
        now = {a.article_id: line_keys(a.body) for _, a in items if a.body}
        drop = repeated_lines({**earlier, **now})
        for revision, article in items:
            if article.body and drop:
                body = strip_lines(article.body, drop)
                if body != article.body:
                    self.dropped.inc(len(article.body.splitlines()) - len(body.splitlines()))
                    article = with_body(article, body)
            yield revision, article
        seen_at = utc_now()
        for article_id, keys in now.items():
            yield beam.pvalue.TaggedOutput(
                LINE_KEYS, state.boilerplate_row(domain, article_id, keys, seen_at, self.run_id))
        earlier.update(now)
        while len(earlier) > KEEP_PAGES:  # dicts keep insertion order: the oldest go first
            earlier.pop(next(iter(earlier)))


class DropSiteBoilerplate(beam.PTransform):
    """`(revision, article)` pairs in (`ExtractArticles`), the same pairs out with their site's
    boilerplate lines removed from the bodies (a refetch is compared with a cleaned earlier
    version), plus the line keys of their pages (`LINE_KEYS`) for the state store."""

    def __init__(self, state_path: str, run_id: str):
        super().__init__()
        self.state_path, self.run_id = state_path, run_id

    def expand(self, extracted: beam.PCollection) -> beam.pvalue.DoOutputsTuple:
        return (extracted
                | "BySite" >> beam.Map(lambda pair: (pair[1].domain, pair))
                | "GroupBySite" >> beam.GroupByKey()
                | "Strip" >> beam.ParDo(_StripSite(self.state_path, self.run_id)).with_outputs(
                    LINE_KEYS, main="articles"))
