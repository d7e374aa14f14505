"""Pure helpers behind operating the command: environment overrides, the effective config dump,
JSON log lines, strict OPML, freezing the imports out of the collector's sight."""

from __future__ import annotations

import json
import logging
import subprocess
import sys
from pathlib import Path

import pytest

from pipeline.config import ConfigError, dump_config, load_config, parse_config, with_env
from pipeline.logs import JsonFormatter, _RunIdFilter, current_run_id
from pipeline.sources.opml import OpmlError, parse_opml

FILE = {"feeds": [{"url": "https://example.org/rss.xml"}], "http": {"timeout_s": 20}}


def test_env_overrides_nested_keys_as_yaml_scalars_and_win() -> None:
    data = with_env(FILE, {"NEWS_INGEST__HTTP__TIMEOUT_S": "30", "NEWS_INGEST__POLLING__RESPECT_ROBOTS": "false",
                           "NEWS_INGEST__OUTPUT__PATH": "/srv/news", "OTHER__HTTP__RETRIES": "9"})
    cfg = parse_config(data)
    assert cfg.http.timeout_s == 30 and cfg.polling.respect_robots is False and cfg.output.path == "/srv/news"
    assert cfg.http.retries == 2  # not our prefix
    assert FILE["http"]["timeout_s"] == 20  # the file's mapping is not changed in place


def test_env_override_errors_name_the_variable() -> None:
    with pytest.raises(ConfigError, match=r"NEWS_INGEST__HTTP__TIMEOUT_S__X: 'http\.timeout_s' is not a mapping"):
        with_env(FILE, {"NEWS_INGEST__HTTP__TIMEOUT_S__X": "1"})
    with pytest.raises(ConfigError, match="empty key"):
        with_env(FILE, {"NEWS_INGEST__HTTP____TIMEOUT_S": "1"})
    with pytest.raises(ConfigError, match=r"http\.timeout_s"):
        parse_config(with_env(FILE, {"NEWS_INGEST__HTTP__TIMEOUT_S": "soon"}))


def test_load_config_applies_the_environment_it_is_given(tmp_path: Path) -> None:
    path = tmp_path / "c.yaml"
    path.write_text("feeds:\n  - url: https://example.org/rss.xml\nhttp:\n  timeout_s: 20\n")
    assert load_config(path, {}).http.timeout_s == 20
    assert load_config(path, {"NEWS_INGEST__HTTP__TIMEOUT_S": "7.5"}).http.timeout_s == 7.5


def test_dump_config_reads_back_as_the_same_config(tmp_path: Path) -> None:
    cfg = parse_config({**FILE, "dedup": {"near_duplicates": "drop"}})
    path = tmp_path / "shown.yaml"
    path.write_text(dump_config(cfg))
    assert load_config(path, {}) == cfg


def test_json_log_lines_carry_the_current_run_id() -> None:
    record = logging.LogRecord("news_ingest", logging.INFO, __file__, 1, "run committed: %d", (3,), None)
    record.feed_url = "https://example.org/rss.xml"
    token = current_run_id.set("20261201T000000Z-abc123")
    try:
        assert _RunIdFilter().filter(record)
    finally:
        current_run_id.reset(token)
    line = json.loads(JsonFormatter().format(record))
    assert line["run_id"] == "20261201T000000Z-abc123" and line["message"] == "run committed: 3"
    assert line["level"] == "info" and line["feed_url"] == "https://example.org/rss.xml"
    assert line["ts"].endswith("+00:00")


def test_a_truncated_opml_file_is_an_error_not_the_feeds_before_the_cut() -> None:
    whole = b'<opml version="2.0"><body><outline text="a" xmlUrl="https://example.org/rss"/></body></opml>'
    assert len(parse_opml(whole)) == 1
    with pytest.raises(OpmlError, match="not well-formed"):
        parse_opml(whole[:-20])


def test_imports_load_with_the_collector_paused_and_are_frozen_once_a_process() -> None:
    """In a child process: freezing is process-wide, and this one's collector stays as it was."""
    script = ("import gc\n"
              "from pipeline.cli import imports_out_of_collection\n"
              "with imports_out_of_collection():\n"
              "    paused = not gc.isenabled()\n"
              "    import json.decoder\n"
              "first = gc.get_freeze_count()\n"
              "garbage = [[] for _ in range(1000)]\n"
              "with imports_out_of_collection():\n"
              "    import csv\n"
              "print(paused, gc.isenabled(), first, gc.get_freeze_count())\n")
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=60, check=True)
    paused, enabled, first, second = out.stdout.split()
    assert paused == "True" and enabled == "True"
    assert int(first) > 10_000 and int(second) == int(first)  # the second run's objects stay with the collector
