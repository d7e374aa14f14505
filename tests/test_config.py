"""Config validation, and the CLI's behaviour on bad input (a real subprocess, as a user runs it)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from pipeline.config import ConfigError, load_config, parse_config

GOOD = {"feeds": [{"url": "https://example.org/rss.xml", "language": "AR", "tags": ["world"]}]}


def test_defaults_and_normalisation() -> None:
    cfg = parse_config(GOOD)
    assert cfg.feeds[0].language == "ar" and cfg.feeds[0].tags == ("world",)
    assert cfg.http.allow_private_networks is False
    assert cfg.state_path == "./data/_state"
    assert cfg.with_paths(output="/x").state_path == "/x/_state"
    assert cfg.with_paths(output="/x", state="/s").state_path == "/s"


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({**GOOD, "htpp": {}}, "unknown key 'htpp'"),
        ({**GOOD, "http": {"timeout_s": "soon"}}, "'http.timeout_s'"),
        ({**GOOD, "http": {"max_bytes": -1}}, "'http.max_bytes'"),
        ({"feeds": [{"url": "not a url"}]}, "'feeds.0.url'"),
        ({"feeds": [{"url": "https://e.org/", "lang": "ar"}]}, "unknown key 'feeds.0.lang'"),
        ({"feeds": []}, "'feeds'"),
        ({**GOOD, "output": {"partition_by": ["colour"]}}, "'output.partition_by.0'"),
        (["feeds"], "expected a mapping"),
    ],
)
def test_invalid_configs_name_the_key(data: object, message: str) -> None:
    with pytest.raises(ConfigError, match=message.replace(".", r"\.")):
        parse_config(data)


def test_unreadable_and_malformed_files(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="cannot read config"):
        load_config(tmp_path / "absent.yaml")
    bad = tmp_path / "bad.yaml"
    bad.write_text("feeds: [unclosed\n")
    with pytest.raises(ConfigError, match="not valid YAML"):
        load_config(bad)


def test_shipped_configs_are_valid() -> None:
    root = Path(__file__).resolve().parents[1] / "configs"
    for path in root.glob("*.yaml"):
        assert load_config(path).feeds


def test_cli_exits_non_zero_with_a_one_line_message(tmp_path: Path) -> None:
    bad = tmp_path / "c.yaml"
    bad.write_text("feeds:\n  - url: https://example.org/rss.xml\nhttp:\n  timeout: 5\n")
    proc = subprocess.run([sys.executable, "-m", "pipeline", "run", "--config", str(bad)],
                          capture_output=True, text=True, timeout=60)
    assert proc.returncode == 2
    assert "unknown key 'http.timeout'" in proc.stderr
    assert "Traceback" not in proc.stderr


def test_cli_unwritable_output_is_one_line(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("not a folder")
    cfg = tmp_path / "c.yaml"
    cfg.write_text("feeds:\n  - url: http://127.0.0.1:9/rss.xml\n")
    proc = subprocess.run([sys.executable, "-m", "pipeline", "run", "--config", str(cfg),
                           "--output", str(blocker / "out")], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 1
    assert f"cannot write to {blocker / 'out'}" in proc.stderr
    assert "Traceback" not in proc.stderr
