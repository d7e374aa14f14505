"""The same graph on other runners: the direct runner's multi-process mode, and the portable runner
with the SDK worker (and the job service) in separate processes, all writing the rows the in-process
run does; and per-host limits that hold with two workers. Also what `pipeline.run` changes in Beam
for the launching process (its state sampler, options views, DoFn specs).
"""

from __future__ import annotations

import itertools
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import apache_beam as beam
import pytest
from apache_beam.coders import VarIntCoder
from apache_beam.options.pipeline_options import StandardOptions, TypeOptions
from apache_beam.runners.worker import statesampler
from apache_beam.transforms import userstate
from apache_beam.utils.counters import CounterFactory
from conftest import query

from pipeline.commands.demo import demo_config
from pipeline.commands.demo_server import DEMO_DIR, FixtureServer, send
from pipeline.config import parse_config
from pipeline.run import STATE_SAMPLING_PERIOD_MS, pipeline_options, run_batch

ROWS = "SELECT article_id, title, body, language, content_hash, body_source FROM t ORDER BY article_id"


@pytest.fixture(scope="module")
def site() -> Iterator[FixtureServer]:
    with FixtureServer(DEMO_DIR / "site") as server:
        yield server


@pytest.fixture(scope="module")
def reference(site: FixtureServer, tmp_path_factory: pytest.TempPathFactory) -> list[tuple]:
    out = tmp_path_factory.mktemp("in_process")
    run_batch(demo_config(site.base, str(out)))
    return query(out, ROWS)


def test_multi_process_direct_runner_writes_the_same_rows(site, reference, tmp_path: Path) -> None:
    run_batch(demo_config(site.base, str(tmp_path)),
              ["--direct_num_workers=2", "--direct_running_mode=multi_processing"])
    assert query(tmp_path, ROWS) == reference


def test_portable_runner_with_separate_worker_writes_the_same_rows(site, reference, worker_pool, tmp_path: Path,
                                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    # A relative output path must still land here, not in the worker's own working directory.
    monkeypatch.chdir(tmp_path)
    summary = run_batch(demo_config(site.base, "out"),
                        ["--runner=PortableRunner", "--job_endpoint=embed", "--environment_type=EXTERNAL",
                         f"--environment_config=localhost:{worker_pool}"])
    assert query(tmp_path / "out", ROWS) == reference
    assert summary.counters["articles_written"] == len(reference)


def test_output_and_state_given_as_uris(site, reference, tmp_path: Path) -> None:
    """Paths go through pyarrow's file systems (s3://, gs://, file://): checked here with file://."""
    summary = run_batch(demo_config(site.base, f"file://{tmp_path}/uri-out"))
    assert query(tmp_path / "uri-out", ROWS) == reference
    assert (tmp_path / "uri-out/_state/feeds").is_dir() and summary.counters["articles_written"] == len(reference)


def test_portable_runner_with_a_separate_job_service_writes_the_same_rows(site, reference, job_service, worker_pool,
                                                                          tmp_path: Path) -> None:
    beam_args = ["--runner=PortableRunner", f"--job_endpoint=127.0.0.1:{job_service}",
                 "--environment_type=EXTERNAL", f"--environment_config=127.0.0.1:{worker_pool}"]
    run_batch(demo_config(site.base, str(tmp_path)), beam_args)
    assert query(tmp_path, ROWS) == reference
    rerun = run_batch(demo_config(site.base, str(tmp_path)), beam_args)
    assert rerun.counters["articles_written"] == 0 and query(tmp_path, ROWS) == reference


class _Timed:
    """Every request's (start, end) at one loopback host, pages taking `latency_s`."""

    def __init__(self, server: FixtureServer, feeds: int, pages: int, latency_s: float):
        self.server, self.latency_s, self.spans = server, latency_s, []
        self.lock = threading.Lock()
        for f in range(feeds):
            items = "".join(f"<item><title>{server.base} {f}-{i}</title><link>{server.base}/{f}/{i}.html</link></item>"
                            for i in range(pages))
            body = f"<rss version='2.0'><channel><title>F{f}</title>{items}</channel></rss>".encode()
            server.routes[f"/feed{f}.xml"] = self._timed(lambda h, b=body: send(h, 200, b, "application/rss+xml"))
            for i in range(pages):
                words = " ".join(f"w{server.base[-5:]}x{f}x{i}x{k}" for k in range(80))  # no two pages alike
                page = (f"<html><body><article><p>{words}</p>"
                        "</article></body></html>").encode()
                server.routes[f"/{f}/{i}.html"] = self._timed(lambda h, b=page: send(h, 200, b, "text/html"))
        server.routes["/robots.txt"] = self._timed(lambda h: send(h, 404, b"", "text/plain"))

    def _timed(self, respond):
        def route(h) -> None:
            start = time.monotonic()
            time.sleep(self.latency_s)
            with self.lock:  # ended before the response goes out: the client cannot have it sooner
                self.spans.append((start, time.monotonic()))
            respond(h)
        return route


def test_two_workers_keep_each_hosts_limits(tmp_path: Path) -> None:
    """With 2 worker processes, each host still sees one request at a time, starts 0.2 s apart."""
    delay = 0.2
    servers = [FixtureServer(tmp_path, host=f"127.0.0.{n}") for n in (2, 3)]
    with servers[0], servers[1]:
        hosts = [_Timed(s, feeds=2, pages=8, latency_s=0.05) for s in servers]
        cfg = parse_config({
            "feeds": [{"url": s.url(f"feed{f}.xml")} for s in servers for f in range(2)],
            "output": {"path": str(tmp_path / "out")},
            "http": {"allow_private_networks": True, "per_host_delay_s": delay, "per_host_concurrency": 1,
                     "retries": 0},
            "polling": {"max_entries_per_run": 0}})
        summary = run_batch(cfg, ["--direct_num_workers=2", "--direct_running_mode=multi_processing"])
    assert summary.counters["articles_written"] == 32
    for host in hosts:
        spans = sorted(host.spans)
        assert len(spans) >= 1 + 2 + 16  # robots.txt (once per stage), feeds, pages
        # The server sees a start when the request line has arrived: a request on a new connection
        # (the first to a host) shows up later than it started, so one gap may look short.
        gaps = [b[0] - a[0] for a, b in itertools.pairwise(spans)]
        assert sum(gap < delay * 0.75 for gap in gaps) <= 1, gaps
        assert all(a[1] <= b[0] for a, b in itertools.pairwise(spans))  # never two at once


def test_bundles_on_this_process_sample_their_states_briefly() -> None:
    """Each bundle's end waits for its state sampler's sleep: Beam's 200 ms made every stage of the
    in-process runner idle up to that long."""
    assert statesampler.StateSampler("stage", CounterFactory()).sampling_period_ms == STATE_SAMPLING_PERIOD_MS


def test_options_make_each_view_once_and_keep_it_current() -> None:
    """Beam builds an argument parser for every view it asks for; the launch's options keep theirs."""
    options = pipeline_options(["--streaming"])
    assert options.view_as(TypeOptions) is options.view_as(TypeOptions)
    standard = options.view_as(StandardOptions)
    assert standard.streaming and standard.runner == "FnApiRunner"
    standard.runner = "PortableRunner"
    assert options.view_as(StandardOptions).runner == "PortableRunner"
    copied = beam.Pipeline(runner="FnApiRunner", options=options).options  # Beam deep-copies the options
    copied.view_as(StandardOptions).streaming = False
    assert not copied.view_as(StandardOptions).streaming and options.view_as(StandardOptions).streaming


def test_a_dofns_state_specs_are_looked_up_once_per_instance() -> None:
    """Beam looks a DoFn's state and timer specs up with `inspect.signature` of each of its methods,
    six times per ParDo while building and translating; `pipeline.run` keeps them per instance."""
    spec = userstate.ReadModifyWriteStateSpec("count", VarIntCoder())
    count_param = beam.DoFn.StateParam(spec)

    class Count(beam.DoFn):
        def process(self, element, count=count_param):
            yield element

    fn = Count()
    specs = userstate.get_dofn_specs(fn)
    assert specs == ({spec}, set()) and userstate.is_stateful_dofn(fn)
    assert userstate.get_dofn_specs(fn) is specs
    assert userstate.get_dofn_specs(Count()) is not specs
    assert userstate.get_dofn_specs(beam.DoFn()) == (set(), set())
