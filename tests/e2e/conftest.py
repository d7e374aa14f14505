"""End-to-end tests: loopback servers, real Beam pipelines, subprocess CLI runs (marker `e2e`).
Shared fixtures: a real HTTP server on 127.0.0.1 and a DuckDB view of what a run wrote."""

from __future__ import annotations

import socket
import threading
from collections.abc import Iterator
from pathlib import Path

import duckdb
import pytest

from pipeline.commands.demo_server import DEMO_DIR, FixtureServer


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    here = Path(__file__).parent
    for item in items:
        if here in Path(item.fspath).parents:
            item.add_marker(pytest.mark.e2e)


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
