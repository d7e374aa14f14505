"""ExtractArticles: pages in, articles out. A page with no usable text falls back to the feed entry."""

from __future__ import annotations

import apache_beam as beam
from apache_beam.metrics import Metrics

from pipeline.article import merge_article
from pipeline.extract import extract_page
from pipeline.records import Page, Reject
from pipeline.transforms.http_batch import REJECTS


class _ExtractFn(beam.DoFn):
    empty = Metrics.counter("news_ingest", "pages_without_text")

    def process(self, page: Page):
        extracted = None
        if page.html is not None:
            try:
                extracted = extract_page(page.html, page.final_url)
            except Exception as err:  # a parser bug on one page must not end the run
                yield beam.pvalue.TaggedOutput(REJECTS, Reject(
                    page.entry.link, page.entry.feed_url, "extract", "extract_error", page.http_status,
                    f"{type(err).__name__}: {err}"[:500]))
            if extracted is not None and extracted.text is None:
                self.empty.inc()
                yield beam.pvalue.TaggedOutput(REJECTS, Reject(
                    page.entry.link, page.entry.feed_url, "extract", "no_article_text", page.http_status,
                    "no article text found on the page; body taken from the feed"))
        yield merge_article(page.entry, page.final_url, extracted, page.http_status, page.fetched_at)


class ExtractArticles(beam.PTransform):
    def expand(self, pages: beam.PCollection) -> beam.pvalue.DoOutputsTuple:
        return pages | "Extract" >> beam.ParDo(_ExtractFn()).with_outputs(REJECTS, main="articles")
