"""End-to-end tests: loopback servers, real Beam pipelines, subprocess CLI runs (marker `e2e`).
Shared fixtures: a real HTTP server on 127.0.0.1 and a DuckDB view of what a run wrote."""

from __future__ import annotations

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
