"""The benchmark still runs end to end: tiny corpus, no latency, no timing assertions."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

BENCH = Path(__file__).resolve().parents[2] / "benchmarks" / "bench_pipeline.py"


def test_benchmark_runs_and_reports_a_ratio(tmp_path: Path) -> None:
    out = tmp_path / "bench.json"
    proc = subprocess.run(
        [sys.executable, str(BENCH), "--feeds", "2", "--articles-per-feed", "3", "--latency-ms", "0",
         "--repoll", "--json", str(out)],
        capture_output=True, text=True, timeout=180, cwd=tmp_path)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    header = next(line for line in proc.stdout.splitlines() if line.startswith("scenario"))
    assert "ratio" in [c.strip() for c in header.split("|")]
    first, repoll = json.loads(out.read_text())["scenarios"]
    assert first["articles"] > 0 and first["ratio"] > 0
    assert repoll["articles"] == 0 and repoll["server"].get("page_requests", 0) == 0
