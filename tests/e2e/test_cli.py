"""The CLI's behaviour on bad input (a real subprocess, as a user runs it)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path


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


def test_cli_says_when_an_opml_list_is_over_the_feed_limit(tmp_path: Path) -> None:
    from pipeline.sources.opml import MAX_FEEDS

    outlines = "".join(f'<outline text="f{i}" xmlUrl="https://f{i}.example.org/rss"/>' for i in range(MAX_FEEDS + 3))
    big = tmp_path / "big.opml"
    big.write_text(f'<?xml version="1.0"?><opml version="2.0"><body>{outlines}</body></opml>')
    cmd = [sys.executable, "-m", "pipeline", "import-opml", str(big), "--write", str(tmp_path / "f.yaml")]
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0
    assert f"only the first {MAX_FEEDS} are used (3 ignored)" in proc.stderr
