"""Per-host scheduling of HTTP work: many requests in flight per worker, polite to every host.

One blocking request per element caps a worker at 1/latency requests per second. Here a stage's
items are first grouped by host (`ByHost`): the group of a host goes to one worker, so no two
workers ever talk to the same publisher at once, whatever the parallelism. On that worker, items
queue per host and a small scheduler hands them to a thread pool (one shared client), longest
queue first: a host's next item goes out only when the process-wide `HostGate` says its gap has
passed (`http.per_host_delay_s`, or its robots.txt Crawl-delay) and it has fewer than
`http.per_host_concurrency` in flight; meanwhile other hosts' requests proceed. The gate itself
spaces the requests; the scheduler only avoids parking threads on it, so a link refused without a
request (robots, a private address) costs its host no gap. Results are emitted as they complete,
in their group's window.
"""

from __future__ import annotations

import time
from collections import defaultdict, deque
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from typing import Any

import apache_beam as beam
from apache_beam.utils.windowed_value import WindowedValue

from pipeline.config import HttpConfig
from pipeline.io.http import HttpFetcher
from pipeline.io.robots import RobotsPolicy

_MAX_QUEUED = 20_000  # items held per bundle before process() waits for some to finish


class ByHost(beam.PTransform):
    """Items in; (host, items of that host) out, per window: the routing that makes politeness hold
    across workers."""

    def __init__(self, host_of: Callable[[Any], str]):
        super().__init__()
        self.host_of = host_of

    def expand(self, items: beam.PCollection) -> beam.PCollection:
        host_of = self.host_of
        return (items
                | "KeyByHost" >> beam.Map(lambda x: (host_of(x), x)).with_output_types(tuple[str, Any])
                | "GroupByHost" >> beam.GroupByKey())


class HostScheduledFn(beam.DoFn):
    """Takes (host, items) from `ByHost`. Subclasses implement `work(item)` (run on the pool) and
    `emit(item, result)` (run on the bundle's thread, where Beam counters and outputs work). Built
    per worker in `setup`; robots.txt files are cached per worker and `robots_scope`
    (`io/robots.py`)."""

    def __init__(self, http: HttpConfig, respect_robots: bool, robots_scope: str | None = None):
        self.http_cfg, self.respect_robots, self.robots_scope = http, respect_robots, robots_scope

    def setup(self) -> None:
        self.http = HttpFetcher(self.http_cfg)
        self.robots = RobotsPolicy(self.http, shared=self.robots_scope) if self.respect_robots else None
        self.pool = ThreadPoolExecutor(self.http_cfg.concurrency, thread_name_prefix="news-ingest-http")

    def teardown(self) -> None:
        self.pool.shutdown(wait=False, cancel_futures=True)
        self.http.close()

    def start_bundle(self) -> None:
        self.queues: defaultdict[str, deque] = defaultdict(deque)
        self.queued = 0
        self.running: dict[Future, tuple] = {}
        self.in_flight: defaultdict[str, int] = defaultdict(int)

    def process(self, element: tuple[str, Iterable], window=beam.DoFn.WindowParam,
                timestamp=beam.DoFn.TimestampParam):
        host, items = element
        for item in items:
            self.queues[host].append((item, window, timestamp))
            self.queued += 1
            if self.queued + len(self.running) > _MAX_QUEUED:
                yield from self._step(block=True)
        yield from self._step(block=False)

    def finish_bundle(self):
        while self.queued or self.running:
            yield from self._step(block=True)

    def _dispatch(self) -> float:
        """Hand each host that may start now one item, the longest queue first; return seconds until
        the next could. A host goes no faster than its gap allows, so serving hosts in a fixed order
        left the last ones with most of their items, fetched a few per second at the end of a run
        while the stages they feed sat idle; longest first, the queues run out together."""
        soonest = float("inf")
        if len(self.running) >= self.http_cfg.concurrency:
            return soonest  # only a completion frees a thread
        for host in sorted(self.queues, key=lambda h: len(self.queues[h]), reverse=True):
            queue = self.queues[host]
            if not queue:
                del self.queues[host]
                continue
            if len(self.running) >= self.http_cfg.concurrency:
                return soonest
            if self.in_flight[host] >= self.http_cfg.per_host_concurrency:
                continue  # a completion wakes the loop
            ready_in = self.http.gate.ready_in(host)
            if ready_in > 0:
                soonest = min(soonest, ready_in)
                continue
            item, window, timestamp = queue.popleft()
            self.queued -= 1
            self.in_flight[host] += 1
            self.running[self.pool.submit(self.work, item)] = (item, window, timestamp, host)
            if queue:
                soonest = 0.0  # one per host per round: the started request moves the host's clock
        return soonest

    def _step(self, block: bool) -> Iterator:
        soonest = self._dispatch()
        if block:
            timeout = None if soonest == float("inf") else max(soonest, 0.001)
            if self.running:
                wait(self.running, timeout=timeout, return_when=FIRST_COMPLETED)
            elif timeout is not None:
                time.sleep(timeout)
        for future in [f for f in self.running if f.done()]:
            item, window, timestamp, host = self.running.pop(future)
            self.in_flight[host] -= 1
            for out in self.emit(item, future.result()):
                if isinstance(out, beam.pvalue.TaggedOutput):
                    yield beam.pvalue.TaggedOutput(out.tag, WindowedValue(out.value, timestamp, [window]))
                else:
                    yield WindowedValue(out, timestamp, [window])

    def work(self, item: object) -> object:
        raise NotImplementedError

    def emit(self, item: object, result: object) -> Iterable:
        raise NotImplementedError
