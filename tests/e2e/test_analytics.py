"""`stats` and `report` over a demo run with one feed that fails: figures checked against DuckDB,
the report rendered by headless Chromium (screenshot, DOM, console)."""

from __future__ import annotations

import csv
import io
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import query

from pipeline.commands.demo import demo_config
from pipeline.commands.demo_server import DEMO_DIR, FixtureServer
from pipeline.commands.report import CHARTS
from pipeline.run import run_batch

ARABIC = ("أخبار الواحة", "اقتصاد الساحل")  # the Arabic demo feeds' titles, their `source`


@pytest.fixture(scope="module")
def output(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("analytics")
    with FixtureServer(DEMO_DIR / "site") as server:
        cfg = demo_config(server.base, str(out))
        gone = cfg.feeds[0].model_copy(update={"url": f"{server.base}/feeds/gone.xml", "name": "Gone"})
        run_batch(cfg.model_copy(update={"feeds": (*cfg.feeds, gone)}))
    return out


def _cli(*args: str) -> str:
    proc = subprocess.run([sys.executable, "-m", "pipeline", *args], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    return proc.stdout


def test_stats_by_source_agree_with_duckdb(output: Path) -> None:
    rows = {r["source"]: r for r in json.loads(_cli("stats", "--output", str(output), "--format", "json"))}
    expected = dict(query(output, "SELECT source, count(*) FROM t GROUP BY ALL"))
    assert {s: r["articles"] for s, r in rows.items() if r["articles"]} == expected
    assert set(ARABIC) <= expected.keys()
    page = dict(query(output, "SELECT source, round(avg((body_source = 'page')::INT), 3) FROM t GROUP BY ALL"))
    assert {s: rows[s]["body_from_page"] for s in page} == page
    assert any(rows[s]["body_from_feed"] > 0 for s in page)
    harbor = rows["Harbor Daily"]
    assert harbor["rejects"] == "fetch/http_404:1" and harbor["languages"] == "en:6"
    assert harbor["near_dup_clusters"] == 1 and harbor["largest_cluster"] == 2  # the wire story it shares
    assert rows["Northgate Ledger"]["near_dup_clusters"] == 1
    # the failing feed wrote nothing: it still shows, with its poll reject
    lost = rows["(unassigned)"]
    assert "/feeds/gone.xml (http_404)" in lost["feeds_failing"] and "poll/http_404:1" in lost["rejects"]


def test_stats_by_day_language_feed_and_formats(output: Path) -> None:
    day = list(csv.DictReader(io.StringIO(_cli("stats", "--output", str(output), "--by", "day", "--format", "csv"))))
    total = query(output, "SELECT count(*) FROM t")[0][0]
    assert [int(r["articles"]) for r in day if r["day"] != "(unassigned)"] == [total]
    undated = query(output, "SELECT round(avg((published_at IS NULL)::INT), 3) FROM t")[0][0]
    assert day[0]["missing_date_rate"] == str(undated)
    languages = json.loads(_cli("stats", "--output", str(output), "--by", "language", "--format", "json"))
    assert {r["language"]: r["articles"] for r in languages if r["articles"]} == dict(
        query(output, "SELECT language, count(*) FROM t GROUP BY ALL"))
    feeds = json.loads(_cli("stats", "--output", str(output), "--by", "feed", "--format", "json"))
    gone = [r for r in feeds if r["feed"].endswith("/feeds/gone.xml")]
    assert gone and gone[0]["articles"] == 0 and "http_404" in gone[0]["feeds_failing"]
    assert gone[0]["rejects"] == "poll/http_404:1"  # the feed's own failure is filed under it
    table = _cli("stats", "--output", str(output))
    assert table.splitlines()[0].startswith("source") and all(name in table for name in ARABIC)


def _chromium(tmp_path: Path, url: str, *flags: str) -> subprocess.CompletedProcess:
    browser = shutil.which("chromium") or shutil.which("chromium-browser")
    if not browser:
        if os.environ.get("NEWS_INGEST_SKIP_BROWSER") == "1":
            pytest.skip("NEWS_INGEST_SKIP_BROWSER=1 and no chromium")
        pytest.fail("the report test needs Debian's `chromium` (.ci/run installs it)")
    profile = tmp_path / f"profile-{len(list(tmp_path.glob('profile-*')))}"
    return subprocess.run(
        [browser, "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
         "--disable-component-update", "--disable-sync", "--no-first-run", f"--user-data-dir={profile}",
         "--enable-logging=stderr", "--v=0", *flags, url], capture_output=True, text=True, timeout=120)


def _console_errors(stderr: str) -> list[str]:
    return [line for line in stderr.splitlines() if "Uncaught" in line or "ERROR:CONSOLE" in line
            or ":CONSOLE(" in line]


def test_report_is_self_contained_and_renders_in_headless_chromium(output: Path, tmp_path: Path) -> None:
    html = tmp_path / "report.html"
    _cli("report", "--output", str(output), "--html", str(html))
    text = html.read_text(encoding="utf-8")
    assert "<script" not in text and "src=" not in text and "href=" not in text and "@import" not in text

    shot = tmp_path / "report.png"
    rendered = _chromium(tmp_path, html.as_uri(), f"--screenshot={shot}", "--window-size=1200,2000")
    assert rendered.returncode == 0, rendered.stderr[-2000:]
    assert shot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and shot.stat().st_size > 20_000
    assert _console_errors(rendered.stderr) == []
    dom = _chromium(tmp_path, html.as_uri(), "--dump-dom")
    assert dom.returncode == 0 and _console_errors(dom.stderr) == []
    for chart in CHARTS:
        assert f'<section id="{chart}">' in dom.stdout, chart
    for chart in ("articles-per-day", "language-mix", "extraction-health", "rejects"):
        assert f'data-chart="{chart}"' in dom.stdout, chart
    assert "Lake Serrin falls to lowest level" in dom.stdout  # the wire story two outlets carried
    for name in ARABIC:
        assert f'<td dir="auto">{name}</td>' in dom.stdout
    assert "gone.xml" in dom.stdout and "http_404" in dom.stdout  # freshness shows the failing feed


def test_console_error_check_catches_a_failing_script(tmp_path: Path) -> None:
    """The check above must be able to fail: a page whose script throws is caught."""
    page = tmp_path / "broken.html"
    page.write_text("<html><body><script>undefinedFunction()</script></body></html>", encoding="utf-8")
    assert _console_errors(_chromium(tmp_path, page.as_uri(), "--dump-dom").stderr)
