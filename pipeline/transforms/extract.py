"""ExtractArticles: pages in, analysed articles out, each as `(revision, article)`: whether its
entry is a refetch of a changed one. One output for both keeps them one `PCollection`: on the local
runner a `Flatten` of two is written out and read back whole, one more pass of every article through
Beam's coder. A page with no usable text falls back to the feed entry.

Pages arrive undecoded and are decoded in the pool (`records.Page` says why).

Extraction (and the per-article analysis that follows it: language, counts, keywords) is the
CPU-bound heart of the pipeline, and Python threads cannot share it out, so pages are built into
articles on a pool of processes (`extract.processes`, one per core by default; 1 keeps
it in the worker, e.g. when the runner already runs one worker per core). In a batch run
(`sign`) the body's MinHash signature is computed there too (`SIGNED`, by content hash): on the
local runner the near-duplicate stage runs after extraction, on one core, and signing was the
biggest single step in it. A pool left idle between bundles is shut down (`_ExtractFn.idle_s`):
its processes hold a parser's memory each, and on the local runner the stages after extraction
run after it, with their own peak.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait
from concurrent.futures.process import BrokenProcessPool

import apache_beam as beam
from apache_beam.utils.windowed_value import WindowedValue

from pipeline.articles.build import Built, build, built
from pipeline.records import Page, Reject
from pipeline.transforms.names import REJECTS, SIGNED, counter
from pipeline.transforms.pool import pool_size, start_pool

_IN_FLIGHT_PER_PROCESS = 4  # pages queued per pool process: keeps it busy, bounds memory


class _ExtractFn(beam.DoFn):
    """Pages go to the process pool as they arrive and come back as they finish, so the bundle's
    thread keeps feeding the fetch scheduler upstream (fused into the same stage) meanwhile."""

    empty = counter("pages_without_text")
    # Seconds without a bundle before the pools are shut down (about 260 MB per process): long
    # enough for a stream's back-to-back bundles to keep them, short against a batch run's tail.
    idle_s = 0.5

    def __init__(self, processes: int, sign: bool):
        self.processes, self.sign = pool_size(processes), sign

    def setup(self) -> None:
        self.pool: ProcessPoolExecutor | None = None
        self.solo: ProcessPoolExecutor | None = None  # retries pages a dying pool took down
        self.lock = threading.Lock()  # the idle timer's thread against the bundle's
        self.in_bundle = False
        self.idle: threading.Timer | None = None

    def teardown(self) -> None:
        if self.idle is not None:
            self.idle.cancel()
        with self.lock:  # the timer may be shutting the pools down right now
            self._shut_down()

    def _shut_down(self) -> None:
        for pool in (self.pool, self.solo):
            if pool is not None:
                pool.shutdown(cancel_futures=True)
        self.pool = self.solo = None

    def _release_if_idle(self) -> None:
        with self.lock:
            if not self.in_bundle:
                self._shut_down()

    def start_bundle(self) -> None:
        with self.lock:
            self.in_bundle = True
        if self.idle is not None:
            self.idle.cancel()
        self.running: dict[Future, tuple] = {}

    def process(self, page: Page, window=beam.DoFn.WindowParam, timestamp=beam.DoFn.TimestampParam):
        if page.body is None or self.processes < 2:
            yield from self._outputs(page, build(page, self.sign))
            return
        try:
            future = self._pool().submit(build, page, self.sign)
        except BrokenProcessPool:  # broke since the last page: its casualties are collected below
            self.pool = None
            future = self._pool().submit(build, page, self.sign)
        self.running[future] = (page, window, timestamp)
        yield from self._collect(block=len(self.running) >= _IN_FLIGHT_PER_PROCESS * self.processes)

    def _pool(self) -> ProcessPoolExecutor:
        if self.pool is None:
            self.pool = start_pool(self.processes)
        return self.pool

    def finish_bundle(self):
        while self.running:
            yield from self._collect(block=True)
        with self.lock:
            self.in_bundle = False
        if self.pool is not None or self.solo is not None:
            self.idle = threading.Timer(self.idle_s, self._release_if_idle)
            self.idle.daemon = True
            self.idle.start()

    def _collect(self, block: bool) -> Iterator:
        if block:
            wait(self.running, return_when=FIRST_COMPLETED)
        for future in [f for f in self.running if f.done()]:
            page, window, timestamp = self.running.pop(future)
            for out in self._outputs(page, self._result(future, page)):
                if isinstance(out, beam.pvalue.TaggedOutput):
                    yield beam.pvalue.TaggedOutput(out.tag, WindowedValue(out.value, timestamp, [window]))
                else:
                    yield WindowedValue(out, timestamp, [window])

    def _result(self, future: Future, page: Page) -> Built:
        """The pool's answer. A pool whose process died (killed, or crashed on a page) fails every
        page it held: those are retried one at a time in a one-process pool, so only the page that
        kills its process again is lost, and it falls back to its feed text with a reject."""
        try:
            return future.result()
        except BrokenProcessPool:
            self.pool = None
        try:
            return self._solo().submit(build, page, self.sign).result()
        except BrokenProcessPool as err:
            self.solo = None
            return built(page, None, f"extraction process died: {err}"[:500], self.sign)

    def _solo(self) -> ProcessPoolExecutor:
        if self.solo is None:
            self.solo = start_pool(1)
        return self.solo

    def _outputs(self, page: Page, result: Built) -> Iterator:
        article, extracted, error, signature = result
        if error:
            yield beam.pvalue.TaggedOutput(REJECTS, Reject(
                page.entry.link, page.entry.feed_url, "extract", "extract_error", page.http_status, error))
        elif extracted is not None and extracted.text is None:
            self.empty.inc()
            yield beam.pvalue.TaggedOutput(REJECTS, Reject(
                page.entry.link, page.entry.feed_url, "extract", "no_article_text", page.http_status,
                "no article text found on the page; body taken from the feed"))
        if signature is not None and article.content_hash:
            yield beam.pvalue.TaggedOutput(SIGNED, (article.content_hash, signature))
        yield page.entry.revision, article


class ExtractArticles(beam.PTransform):
    """`sign`: also emit each body's signature (`SIGNED`) for `MarkNearDuplicates`."""

    def __init__(self, processes: int = 0, sign: bool = False):
        super().__init__()
        self.processes, self.sign = processes, sign

    def expand(self, pages: beam.PCollection) -> beam.pvalue.DoOutputsTuple:
        return pages | "Extract" >> beam.ParDo(_ExtractFn(self.processes, self.sign)).with_outputs(
            REJECTS, SIGNED, main="articles")
