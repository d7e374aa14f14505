"""The extraction pool's processes come ready: forked from a server that loaded the extraction code
and the language model, and never Beam."""

from __future__ import annotations

import sys

from pipeline.transforms.pool import start_pool, start_pool_server

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
    assert modules == {"trafilatura": True, "pipeline.articles.build": True, "apache_beam": False}
    assert models == 1
