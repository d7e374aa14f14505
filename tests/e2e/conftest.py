"""End-to-end tests: loopback servers, real Beam pipelines, subprocess CLI runs (marker `e2e`).
Shared fixtures: a real HTTP server on 127.0.0.1 and a DuckDB view of what a run wrote."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import duckdb
import loopback_only  # noqa: F401  (this process's gRPC servers, e.g. the runner's, bind 127.0.0.1)
import pytest

from pipeline.commands.demo_server import DEMO_DIR, FixtureServer, send

LOOPBACK_ONLY = Path(__file__).parent / "loopback_only.py"


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    here = Path(__file__).parent
    for item in items:
        if here in Path(item.fspath).parents:
            item.add_marker(pytest.mark.e2e)


@pytest.fixture(scope="session", autouse=True)
def temp_files_under_pytest(tmp_path_factory: pytest.TempPathFactory) -> Iterator[None]:
    """Temporary files of this process and its children go under pytest's own temp root, which
    pytest prunes: Beam makes a `beam-pipeline-temp*` folder for every graph and removes it only
    when the graph runs to its end, so a graph built but not run, or a run a test kills, would
    leave one in /tmp for good."""
    before = os.environ.get("TMPDIR")
    os.environ["TMPDIR"] = str(tmp_path_factory.mktemp("tmp"))
    tempfile.tempdir = None  # read TMPDIR again
    yield
    if before is None:
        del os.environ["TMPDIR"]
    else:
        os.environ["TMPDIR"] = before
    tempfile.tempdir = None


@pytest.fixture
def demo_site() -> Iterator[FixtureServer]:
    with FixtureServer(DEMO_DIR / "site") as server:
        yield server


@pytest.fixture
def empty_site(tmp_path: Path) -> Iterator[FixtureServer]:
    """A server with no files: tests add `routes` for the behaviour they need."""
    site = tmp_path / "site"
    site.mkdir()
    with FixtureServer(site) as server:
        yield server


def query(output: Path | str, sql: str, dataset: str = "articles") -> list[tuple]:
    """Run `sql` against a view `t` over a dataset a run wrote, read by DuckDB (a second engine)."""
    con = duckdb.connect()
    con.execute(f"CREATE VIEW t AS SELECT * FROM read_parquet('{output}/{dataset}/**/*.parquet', "
                "hive_partitioning=true)")
    return con.execute(sql).fetchall()


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def beam_service(module: str, *args: str, port: int) -> Iterator[int]:
    """A Beam service (`python -m module args`) in its own process on 127.0.0.1:port, until the
    generator is closed. Workers it starts run `python` from PATH, so ours goes first."""
    env = {**os.environ, "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}"}
    proc = subprocess.Popen([sys.executable, str(LOOPBACK_ONLY), module, *args], env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and proc.poll() is None:
            with socket.socket() as s:
                if s.connect_ex(("127.0.0.1", port)) == 0:
                    break
            time.sleep(0.2)
        else:
            pytest.fail(f"{module} did not start")
        yield port
    finally:
        os.killpg(proc.pid, 15)
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, 9)
            proc.wait(timeout=30)


@pytest.fixture(scope="module")
def worker_pool() -> Iterator[int]:
    """Beam's SDK worker pool in its own process (`--environment_type=EXTERNAL`), as on an engine."""
    port = free_port()
    yield from beam_service("apache_beam.runners.worker.worker_pool_main", f"--service_port={port}", port=port)


@pytest.fixture(scope="module")
def job_service() -> Iterator[int]:
    """Beam's portable job service in its own process (`--runner=PortableRunner --job_endpoint=...`)."""
    port = free_port()
    yield from beam_service("apache_beam.runners.portability.local_job_service_main", f"--port={port}", port=port)


WORDS = ["harbour", "council", "ferry", "timetable", "winter", "dredging", "quay", "cargo", "tide", "pilot"]


def _page(i: int) -> bytes:
    # Each story its own words, so no two are near-duplicates of each other.
    words = " ".join(f"{WORDS[(i + k) % len(WORDS)]}{i}x{k}" for k in range(120))
    return f"<html><body><article><h1>Story {i}</h1><p>{words}</p></article></body></html>".encode()


class GrowingFeed:
    """A feed that gains an entry every `every_s` seconds (or on every poll), serving its pages."""

    def __init__(self, server: FixtureServer, start: int, every_s: float | None = None):
        self.server, self.start, self.every_s = server, start, every_s
        self.born, self.polls = time.monotonic(), 0
        server.routes["/feed.xml"] = self.feed
        for i in range(200):
            server.routes[f"/p{i}.html"] = self.page

    @staticmethod
    def page(h) -> None:
        send(h, 200, _page(int(h.path[2:].split(".")[0])), "text/html")

    def count(self) -> int:
        grown = self.polls if self.every_s is None else int((time.monotonic() - self.born) / self.every_s)
        return min(self.start + grown, 200)

    def feed(self, h) -> None:
        n = self.count()
        self.polls += 1
        items = "".join(f"<item><title>Story {i}</title><link>{self.server.base}/p{i}.html</link>"
                        f"<guid>g{i}</guid></item>" for i in range(n))
        send(h, 200, f"<rss version='2.0'><channel><title>T</title>{items}</channel></rss>".encode(),
             "application/rss+xml")


class TrickleServer:
    """A raw socket server on 127.0.0.1 that answers every request with response headers one byte
    per `gap_s`, never finishing them (bounded: at most `limit` bytes per connection). Stops its
    threads on exit."""

    HEAD = b"HTTP/1.1 200 OK\r\nContent-Type: text/html\r\nX-Slow: " + b"z" * 10_000

    def __init__(self, gap_s: float = 0.2, limit: int = 300):
        self.gap_s, self.limit = gap_s, limit
        self.connections = 0
        self._stop = threading.Event()
        self._sock = socket.create_server(("127.0.0.1", 0))
        self._sock.settimeout(0.1)
        self.base = f"http://127.0.0.1:{self._sock.getsockname()[1]}"
        self._threads = [threading.Thread(target=self._accept, daemon=True)]

    def url(self, path: str) -> str:
        return f"{self.base}/{path.lstrip('/')}"

    def _accept(self) -> None:
        while not self._stop.is_set():
            try:
                conn, _ = self._sock.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            self.connections += 1
            worker = threading.Thread(target=self._trickle, args=(conn,), daemon=True)
            self._threads.append(worker)
            worker.start()

    def _trickle(self, conn: socket.socket) -> None:
        with conn:
            conn.settimeout(1)
            try:
                conn.recv(65536)
                for byte in self.HEAD[:self.limit]:
                    if self._stop.wait(self.gap_s):
                        return
                    conn.sendall(bytes([byte]))
            except OSError:
                return  # the client gave up: what the tests expect

    def __enter__(self) -> TrickleServer:
        self._threads[0].start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._sock.close()
        for thread in list(self._threads):
            thread.join(timeout=5)


@pytest.fixture
def trickle_server() -> Iterator[TrickleServer]:
    with TrickleServer() as server:
        yield server
