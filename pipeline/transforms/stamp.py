"""StampProvenance: run provenance for each article that survived deduplication.

The per-article analysis (language, script, counts, keywords) is CPU work, so it runs in the
extraction pool beside trafilatura (`pipeline.transforms.extract`), on every core.
"""

from __future__ import annotations

import apache_beam as beam

from pipeline.articles.merge import stamp


class StampProvenance(beam.PTransform):
    def __init__(self, run_id: str):
        super().__init__()
        self.run_id = run_id

    def expand(self, articles: beam.PCollection) -> beam.PCollection:
        return articles | "StampProvenance" >> beam.Map(stamp, run_id=self.run_id)
