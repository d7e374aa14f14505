"""A DoFn base for HTTP work: many requests in flight per worker, polite to every host.

One blocking request per element caps a worker at 1/latency requests per second. Here elements
queue per host and a small scheduler hands them to a thread pool (one shared client): a host gets
its next request only when its gap (`http.per_host_delay_s`, or its robots.txt Crawl-delay) has
passed and it has fewer than `http.per_host_concurrency` in flight, and meanwhile other hosts'
requests proceed. Elements often arrive grouped by feed, that is by host: queueing per host, not
in arrival order, is what keeps the pool busy. Results are emitted as they complete, each in its
element's own window.
"""

from __future__ import annotations

import time
from collections import defaultdict, deque
from collections.abc import Iterable, Iterator
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait

import apache_beam as beam
from apache_beam.utils.windowed_value import WindowedValue

from pipeline.config import HttpConfig
from pipeline.io.http import HttpFetcher
from pipeline.io.robots import RobotsPolicy

REJECTS = "rejects"
_MAX_QUEUED = 20_000  # elements held per bundle before process() waits for some to finish


class HttpBatchFn(beam.DoFn):
    """Subclasses implement `host_of(item)`, `work(item)` (run on the pool) and `emit(item, result)`
    (run on the bundle's thread, where Beam counters and outputs work). Built per worker in `setup`."""

    def __init__(self, http: HttpConfig, respect_robots: bool):
        self.http_cfg, self.respect_robots = http, respect_robots

    def setup(self) -> None:
        self.http = HttpFetcher(self.http_cfg)
        self.robots = RobotsPolicy(self.http) if self.respect_robots else None
        self.pool = ThreadPoolExecutor(self.http_cfg.concurrency, thread_name_prefix="news-ingest-http")

    def teardown(self) -> None:
        self.pool.shutdown(wait=False, cancel_futures=True)
        self.http.close()

    def start_bundle(self) -> None:
        self.queues: defaultdict[str, deque] = defaultdict(deque)
        self.queued = 0
        self.running: dict[Future, tuple] = {}
        self.in_flight: defaultdict[str, int] = defaultdict(int)
        self.next_start: dict[str, float] = {}

    def process(self, item, window=beam.DoFn.WindowParam, timestamp=beam.DoFn.TimestampParam):
        self.queues[self.host_of(item)].append((item, window, timestamp))
        self.queued += 1
        yield from self._step(block=self.queued + len(self.running) > _MAX_QUEUED)

    def finish_bundle(self):
        while self.queued or self.running:
            yield from self._step(block=True)

    def _dispatch(self) -> float:
        """Start what politeness allows; return seconds until the next queued host may start."""
        now, soonest = time.monotonic(), float("inf")
        for host, queue in self.queues.items():
            while queue and len(self.running) < self.http_cfg.concurrency:
                ready_at = self.next_start.get(host, 0.0)
                if ready_at > now or self.in_flight[host] >= self.http_cfg.per_host_concurrency:
                    soonest = min(soonest, max(ready_at - now, 0.0))
                    break
                item, window, timestamp = queue.popleft()
                self.queued -= 1
                self.in_flight[host] += 1
                self.next_start[host] = now + self.http.host_delay(host)
                self.running[self.pool.submit(self.work, item)] = (item, window, timestamp, host)
        return soonest

    def _step(self, block: bool) -> Iterator:
        soonest = self._dispatch()
        if block:
            if self.running:
                wait(self.running, timeout=None if soonest == float("inf") else soonest,
                     return_when=FIRST_COMPLETED)
            elif soonest != float("inf"):
                time.sleep(soonest)
        for future in [f for f in self.running if f.done()]:
            item, window, timestamp, host = self.running.pop(future)
            self.in_flight[host] -= 1
            for out in self.emit(item, future.result()):
                if isinstance(out, beam.pvalue.TaggedOutput):
                    yield beam.pvalue.TaggedOutput(out.tag, WindowedValue(out.value, timestamp, [window]))
                else:
                    yield WindowedValue(out, timestamp, [window])

    def host_of(self, item: object) -> str:
        raise NotImplementedError

    def work(self, item: object) -> object:
        raise NotImplementedError

    def emit(self, item: object, result: object) -> Iterable:
        raise NotImplementedError
