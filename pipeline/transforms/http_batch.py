"""A DoFn base for HTTP work: a batch of elements per call, run on a thread pool over one client.

One blocking request per element caps a worker at 1/latency requests per second; a shared client
on a bounded pool keeps many requests in flight while `HttpFetcher` enforces per-host limits.
"""

from __future__ import annotations

from collections.abc import Iterable
from concurrent.futures import ThreadPoolExecutor

import apache_beam as beam

from pipeline.config import HttpConfig
from pipeline.io.http import HttpFetcher
from pipeline.io.robots import RobotsPolicy

REJECTS = "rejects"


def batched(pcoll: beam.PCollection, cfg: HttpConfig, label: str) -> beam.PCollection:
    return pcoll | label >> beam.BatchElements(
        min_batch_size=cfg.concurrency, max_batch_size=cfg.concurrency * 4)


class HttpBatchFn(beam.DoFn):
    """Subclasses implement `work(item)`, run on the pool, and `emit(item, result)`, run on the
    bundle's thread: Beam counters and outputs only work there. The client is built in `setup`."""

    def __init__(self, http: HttpConfig, respect_robots: bool):
        self.http_cfg, self.respect_robots = http, respect_robots

    def setup(self) -> None:
        self.http = HttpFetcher(self.http_cfg)
        self.robots = RobotsPolicy(self.http) if self.respect_robots else None
        self.pool = ThreadPoolExecutor(self.http_cfg.concurrency, thread_name_prefix="news-ingest-http")

    def teardown(self) -> None:
        self.pool.shutdown(wait=False, cancel_futures=True)
        self.http.close()

    def process(self, batch: list) -> Iterable:
        for item, result in zip(batch, self.pool.map(self.work, batch), strict=True):
            yield from self.emit(item, result)

    def work(self, item: object) -> object:
        raise NotImplementedError

    def emit(self, item: object, result: object) -> Iterable:
        raise NotImplementedError
