"""Enrich: language, counts and run provenance for each article that survived deduplication."""

from __future__ import annotations

import apache_beam as beam

from pipeline.article import enrich_article


class Enrich(beam.PTransform):
    def __init__(self, run_id: str):
        super().__init__()
        self.run_id = run_id

    def expand(self, articles: beam.PCollection) -> beam.PCollection:
        return articles | "Enrich" >> beam.Map(enrich_article, run_id=self.run_id)
