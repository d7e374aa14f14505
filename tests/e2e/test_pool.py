"""The extraction pool's processes come ready: forked from a server that loaded the extraction code
and the language model, and never Beam."""

from __future__ import annotations

import os
import sys
from pathlib import Path

from pipeline.transforms.pool import start_pool, start_pool_server, stop_pool_server

_MODULES = ("trafilatura", "pipeline.articles.build", "apache_beam")


def _state_at_start() -> tuple[dict[str, bool], int]:
    """Run in a pool process before any page: which modules it has, and whether the model is loaded."""
    from pipeline.articles import language

    return {name: name in sys.modules for name in _MODULES}, language._identifier.cache_info().currsize


def test_pool_processes_start_with_extraction_code_and_model_loaded_and_without_beam() -> None:
    start_pool_server()
    pool = start_pool(2)
    try:
        modules, models = pool.submit(_state_at_start).result(timeout=120)
    finally:
        pool.shutdown()
        stop_pool_server()
    assert modules == {"trafilatura": True, "pipeline.articles.build": True, "apache_beam": False}
    assert models == 1


def _pool_servers() -> list[int]:
    """This process's children that are forkservers."""
    found = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            ppid = int(stat.read_text().rsplit(")", 1)[1].split()[1])
            cmdline = (stat.parent / "cmdline").read_bytes()
        except (OSError, IndexError, ValueError):
            continue
        if ppid == os.getpid() and b"forkserver" in cmdline:
            found.append(int(stat.parent.name))
    return found


def test_a_batch_run_starts_the_pool_server_and_stops_it_when_done(tmp_path: Path) -> None:
    # imported here: a pool process imports this module to run `_state_at_start`, and must not get Beam
    from pipeline.commands.demo import demo_config
    from pipeline.commands.demo_server import DEMO_DIR, FixtureServer
    from pipeline.run import run_batch
    from pipeline.transforms import extract

    seen: list[list[int]] = []
    real_start = extract.start_pool

    def start_and_look(processes: int):
        seen.append(_pool_servers())
        return real_start(processes)

    with FixtureServer(DEMO_DIR / "site") as server:
        cfg = demo_config(server.base, str(tmp_path))
        cfg = cfg.model_copy(update={"extract": cfg.extract.model_copy(update={"processes": 2})})
        extract.start_pool = start_and_look
        try:
            summary = run_batch(cfg)
        finally:
            extract.start_pool = real_start
    assert summary.counters["articles_written"] == 16
    assert seen and all(len(servers) == 1 for servers in seen)  # started before the pool needed it
    assert _pool_servers() == []


def test_feeds_are_parsed_on_the_pool_unless_it_has_one_process(tmp_path: Path, monkeypatch) -> None:
    """feedparser is counted in this process only: the pool's processes run the server's copy."""
    import feedparser

    from pipeline.commands.demo import demo_config
    from pipeline.commands.demo_server import DEMO_DIR, FixtureServer
    from pipeline.run import run_batch

    calls: list[str] = []
    real_parse = feedparser.parse

    def counted(*args, **kwargs):
        calls.append("parse")
        return real_parse(*args, **kwargs)

    monkeypatch.setattr(feedparser, "parse", counted)
    written = {}
    for processes in (2, 1):
        with FixtureServer(DEMO_DIR / "site") as server:
            cfg = demo_config(server.base, str(tmp_path / f"out{processes}"))
            cfg = cfg.model_copy(update={"extract": cfg.extract.model_copy(update={"processes": processes})})
            written[processes] = (run_batch(cfg).counters["articles_written"], len(calls), len(cfg.feeds))
            calls.clear()
    articles, parses, _ = written[2]
    assert articles == 16 and parses == 0  # every feed parsed elsewhere, and the same articles out
    articles, parses, feeds = written[1]
    assert articles == 16 and parses == feeds >= 2  # one parse per feed, in this process
