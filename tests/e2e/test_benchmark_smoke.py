"""The benchmark still runs end to end: tiny corpus, no latency, no timing assertions. The peers
(`--peers`) need venvs installed from the package registry, so only their network guard is tested."""

from __future__ import annotations

import errno
import json
import os
import socket
import subprocess
import sys
from pathlib import Path

BENCH = Path(__file__).resolve().parents[2] / "benchmarks" / "bench_pipeline.py"
STAGES = BENCH.with_name("stage_times.py")
PAGE_COSTS = BENCH.with_name("page_costs.py")


def test_benchmark_runs_and_reports_a_ratio(tmp_path: Path) -> None:
    out = tmp_path / "bench.json"
    proc = subprocess.run(
        [sys.executable, str(BENCH), "--feeds", "2", "--articles-per-feed", "3", "--latency-ms", "0",
         "--repoll", "--json", str(out)],
        capture_output=True, text=True, timeout=180, cwd=tmp_path)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    header = next(line for line in proc.stdout.splitlines() if line.startswith("scenario"))
    columns = {c.strip() for c in header.split("|")}
    assert {"ratio", "ratio to extract_page", "cpu / limit's cpu", "server cpu s"} <= columns
    result = json.loads(out.read_text())
    first, repoll = result["scenarios"]
    assert first["articles"] > 0 and first["ratio"] > 0 and first["ratio_extract_page"] > 0
    assert first["server_cpu_s"] > 0  # the loopback servers' threads answered the run's requests
    assert first["cpu_vs_limit"] > 0 and all(lim["cpu_s"] > 0 for lim in result["limits"].values())
    assert repoll["articles"] == 0 and repoll["server"].get("page_requests", 0) == 0


def test_stage_times_add_up_to_the_run(tmp_path: Path) -> None:
    """`stage_times.py` wraps private parts of Beam's runner: this fails when an upgrade moves them."""
    out = tmp_path / "stages.json"
    cmd = [sys.executable, str(STAGES), "--coders", "--json", str(out), "--", "demo", "--output", str(tmp_path / "o")]
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=180, cwd=tmp_path)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    result = json.loads(out.read_text())
    assert result["pool_stage_s"] > 0 and result["other_stages_s"] > 0
    assert result["pool_stage_s"] + result["other_stages_s"] <= result["wall_s"]
    assert any("FetchArticles" in row["stage"] for row in result["stages"])
    extraction = [row for row in result["stages"] if "ExtractArticles" in row["stage"]]
    assert extraction and all(row["children_cpu_s"] > 0 for row in extraction)  # the pool's processes counted
    assert any("MarkNearDuplicates" in row["stage"] for row in result["stages"])
    assert result["gc"][0]["collections"] > 0 and result["gc"][0]["seconds"] > 0
    # the time line: one run, its phases add up to the wall time, the pool's phase is the pool's stage
    spent = {row["phase"]: row["wall_s"] for row in result["phases"]}
    assert result["runs"] == 1 and all(v >= 0 for v in spent.values())
    assert abs(sum(spent.values()) - result["wall_s"]) < 1e-6
    assert abs(spent["the pool's stage"] - result["pool_stage_s"]) < 1e-9
    assert spent["the stages before the pool's"] > 0 and spent["the stages after the pool's"] > 0
    assert spent["before each run (imports, reading state, building the graph)"] > 0
    decoded = [row for row in result["coding"] if row["step"].startswith("decode ")]
    # the demo's 16 articles, read by some stage after extraction
    assert any(row["elements"] == 16 and row["bytes"] > 16 * 1000 and row["cpu_s"] > 0 for row in decoded)
    assert any(row["step"].startswith("encode ") and row["elements"] > 0 for row in result["coding"])


def test_page_costs_measures_the_limit_and_the_pools_work(tmp_path: Path) -> None:
    out = tmp_path / "costs.json"
    proc = subprocess.run([sys.executable, str(PAGE_COSTS), "--pages", "12", "--page-mix", "real", "--json", str(out)],
                          capture_output=True, text=True, timeout=180, cwd=tmp_path)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    result = json.loads(out.read_text())
    ms = result["ms_per_page"]
    assert result["pages"] == 12 and result["mean_kb"] > 150  # real-sized pages
    assert {"bare trafilatura.extract (the limit)", "the pool's whole work per page (build, signed)",
            "extract_page", "analysis (language, counts, keywords)", "MinHash signature"} <= set(ms)
    assert all(value > 0 for value in ms.values()) and set(result["depth"]) == set(ms)
    assert sum(result["body_source"].values()) == 12


def test_peer_processes_reach_loopback_only(tmp_path: Path) -> None:
    """What `--peers` runs under: a site's name resolves to its loopback address, anything else fails
    and is logged (192.0.2.1 is a documentation address: nothing is sent even if the guard broke)."""
    script = ("import socket, sys\n"
              "socket.create_connection(('s127-0-1-2.localhost', int(sys.argv[1])), timeout=5).close()\n"
              "try:\n"
              "    socket.create_connection(('192.0.2.1', 80), timeout=1)\n"
              "except OSError as e:\n"
              "    print('refused', e.errno)\n")
    blocked = tmp_path / "blocked.txt"
    env = {**os.environ, "PYTHONPATH": str(BENCH.parent / "peer_guard"), "NEWS_INGEST_PEER_BLOCKED": str(blocked)}
    with socket.create_server(("127.0.1.2", 0)) as site:
        proc = subprocess.run([sys.executable, "-c", script, str(site.getsockname()[1])],
                              capture_output=True, text=True, timeout=60, env=env)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.split() == ["refused", str(errno.ENETUNREACH)]
    assert "192.0.2.1" in blocked.read_text()


def test_the_limit_extracts_with_trafilatura_as_installed() -> None:
    """The pipeline gives trafilatura's parser lxml's C element look-up when imported; the benchmark
    imports it, and its limit must still be bare trafilatura, with lxml.html's own look-up."""
    check = (
        "import measure\n"
        "from trafilatura import load_html\n"
        "page = '<html><body><form><input name=q></form><p>a</p><p>b</p></body></html>'\n"
        "kind = lambda: type(load_html(page).find('.//form')).__name__\n"
        "with measure.trafilatura_as_installed():\n"
        "    inside = kind()\n"
        "print(inside, kind())\n")
    proc = subprocess.run([sys.executable, "-c", check], capture_output=True, text=True, timeout=120,
                          cwd=BENCH.parent)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.split() == ["FormElement", "HtmlElement"]
