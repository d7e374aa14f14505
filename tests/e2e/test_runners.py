"""The same graph on other runners: the direct runner's multi-process mode, and the portable runner
with the SDK worker in a separate process (as on Flink), both writing the rows the in-process run does.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from conftest import query

from pipeline.commands.demo import demo_config
from pipeline.commands.demo_server import DEMO_DIR, FixtureServer
from pipeline.run import run_batch

ROWS = "SELECT article_id, title, body, language, content_hash, body_source FROM t ORDER BY article_id"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def site() -> Iterator[FixtureServer]:
    with FixtureServer(DEMO_DIR / "site") as server:
        yield server


@pytest.fixture(scope="module")
def reference(site: FixtureServer, tmp_path_factory: pytest.TempPathFactory) -> list[tuple]:
    out = tmp_path_factory.mktemp("in_process")
    run_batch(demo_config(site.base, str(out)))
    return query(out, ROWS)


@pytest.fixture(scope="module")
def worker_pool() -> Iterator[int]:
    """Beam's worker pool on loopback; workers start `python` from PATH, so put ours first."""
    port = _free_port()
    env = {**os.environ, "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}"}
    proc = subprocess.Popen(
        [sys.executable, "-m", "apache_beam.runners.worker.worker_pool_main", f"--service_port={port}"],
        env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        with socket.socket() as s:
            if s.connect_ex(("127.0.0.1", port)) == 0:
                break
        time.sleep(0.2)
    else:
        proc.kill()
        pytest.fail("worker pool did not start")
    yield port
    proc.terminate()
    proc.wait(timeout=30)


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
