"""Operating the command: strict options, exit codes, the state lock, logs, metrics, getting
started. Every test runs `news-ingest` as a real subprocess against loopback servers."""

from __future__ import annotations

import json
import os
import shlex
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pyarrow.parquet as pq
import pytest
import yaml
from conftest import query
from prometheus_client.parser import text_string_to_metric_families

from pipeline.commands.demo_server import FixtureServer, send

CLI = [sys.executable, "-m", "pipeline"]
DEMO_FEEDS = ["feeds/world-en.xml", "feeds/business-en.xml", "feeds/akhbar-ar.xml", "feeds/iqtisad-ar.xml"]


def _env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("NEWS_INGEST__")}
    return {**env, **extra}


def cli(*args: str, timeout: float = 180, env: dict[str, str] | None = None,
        cwd: Path | None = None) -> subprocess.CompletedProcess:
    return subprocess.run([*CLI, *args], capture_output=True, text=True, timeout=timeout,
                          env=env or _env(), cwd=cwd)


def _config(tmp_path: Path, server: FixtureServer, paths: list[str] = DEMO_FEEDS, **http: object) -> Path:
    cfg = {"feeds": [{"url": server.url(p)} for p in paths],
           "output": {"path": str(tmp_path / "out")},
           "http": {"user_agent": "news-ingest-test/0.1 (+mailto:ops@example.test)", "retries": 0,
                    "per_host_delay_s": 0, "allow_private_networks": True, **http},
           "extract": {"processes": 2}}
    path = tmp_path / "c.yaml"
    path.write_text(yaml.safe_dump(cfg))
    return path


# 1. strict command line

@pytest.mark.parametrize(("args", "bad", "suggestion"), [
    (["--outptu", "/tmp/x"], "--outptu", "--output"),
    (["--ignore-scheduel"], "--ignore-scheduel", "--ignore-schedule"),
    (["--runer=FnApiRunner"], "--runer", "--runner"),
])
def test_unknown_option_is_a_usage_error_naming_the_closest_one(tmp_path: Path, args: list[str], bad: str,
                                                                 suggestion: str) -> None:
    cfg = tmp_path / "c.yaml"
    cfg.write_text("feeds:\n  - url: http://127.0.0.1:9/rss.xml\n")
    proc = cli("run", "--config", str(cfg), *args, timeout=60)
    assert proc.returncode == 2, proc.stderr
    assert f"unknown option {bad} (did you mean {suggestion}?)" in proc.stderr
    assert not (tmp_path / "data").exists() and "Traceback" not in proc.stderr


def test_version_names_news_ingest_beam_and_trafilatura() -> None:
    proc = cli("--version", timeout=30)
    assert proc.returncode == 0
    from importlib.metadata import version
    assert proc.stdout.strip() == (f"news-ingest {version('news-ingest')} (apache-beam {version('apache-beam')}, "
                                   f"trafilatura {version('trafilatura')})")


def test_beam_options_pass_and_json_logs_and_metrics(tmp_path: Path, demo_site: FixtureServer) -> None:
    """Beam's own options still reach Beam; global flags work after the subcommand; every stderr
    line is a JSON object with the run's id; metrics.prom parses; no pool process chatters."""
    cfg = _config(tmp_path, demo_site)
    proc = cli("run", "--config", str(cfg), "--runner=FnApiRunner", "--direct_num_workers=1",
               "-v", "--log-format", "json")
    assert proc.returncode == 0, proc.stderr
    assert "apitools" not in proc.stderr
    lines = [json.loads(line) for line in proc.stderr.splitlines() if line.strip()]
    run_id = proc.stdout.split()[1].rstrip(":")
    committed = [line for line in lines if line["event"] == "run_committed"]
    assert committed and committed[0]["run_id"] == run_id and committed[0]["counts"]["articles_written"] == 16
    assert committed[0]["counts"]["files_written"] >= 3  # articles in ar and en partitions, rejects
    assert all({"ts", "level", "message", "run_id"} <= line.keys() for line in lines)

    families = {f.name: f for f in text_string_to_metric_families((tmp_path / "out/_state/metrics.prom").read_text())}
    counts = {s.labels["counter"]: s.value for s in families["news_ingest_run_count"].samples}
    assert counts["articles_written"] == 16 == query(tmp_path / "out", "SELECT count(*) FROM t")[0][0]
    assert families["news_ingest_feeds_failing"].samples[0].value == 0
    assert families["news_ingest_run_duration_seconds"].samples[0].value > 0
    success = families["news_ingest_feed_last_success_timestamp_seconds"].samples
    assert {s.labels["feed_url"] for s in success} == {demo_site.url(p) for p in DEMO_FEEDS}
    assert all(abs(s.value - time.time()) < 600 for s in success)
    assert not [p for p in (tmp_path / "out/_state").iterdir() if p.name.startswith("metrics.prom.")]


def test_default_level_keeps_the_summary_and_no_log_noise(tmp_path: Path, demo_site: FixtureServer) -> None:
    proc = cli("-q", "run", "--config", str(_config(tmp_path, demo_site)), "--direct_num_workers=2")
    assert proc.returncode == 0 and proc.stdout == "" and proc.stderr == "", proc.stderr
    proc = cli("run", "--config", str(_config(tmp_path, demo_site)), "--ignore-schedule")
    assert proc.returncode == 0 and proc.stdout.startswith("run ") and proc.stderr == "", proc.stderr


def test_progress_lines_while_a_batch_run_works(tmp_path: Path, demo_site: FixtureServer) -> None:
    cfg = _config(tmp_path, demo_site, DEMO_FEEDS[:1], per_host_delay_s=1.0, per_host_concurrency=1)
    proc = cli("run", "--config", str(cfg), "--progress-every", "2s")
    assert proc.returncode == 0, proc.stderr
    beats = [line for line in proc.stderr.splitlines() if line.startswith("news-ingest: run working, ")]
    assert len(beats) >= 2 and beats[0].startswith("news-ingest: run working, 2s elapsed"), proc.stderr
    # the counts move while the run works (the in-process runner counts in the CLI's process)
    assert any(" pages fetched, " in line and ": 0 feeds polled" not in line for line in beats), proc.stderr
    # a fresh output, so that this run fetches the pages again, a second apart: a re-poll answered
    # 304 can end before the first line is due
    (tmp_path / "json").mkdir()
    cfg = _config(tmp_path / "json", demo_site, DEMO_FEEDS[:1], per_host_delay_s=1.0, per_host_concurrency=1)
    proc = cli("run", "--config", str(cfg), "--progress-every", "1s", "--log-format", "json")
    assert proc.returncode == 0, proc.stderr
    assert any(json.loads(line)["event"] == "progress" for line in proc.stderr.splitlines()), proc.stderr


def test_a_terminal_gets_one_progress_line_redrawn_in_place(tmp_path: Path, demo_site: FixtureServer) -> None:
    import pty

    cfg = _config(tmp_path, demo_site, DEMO_FEEDS[:1], per_host_delay_s=1.0, per_host_concurrency=1)
    leader, follower = pty.openpty()
    try:
        proc = subprocess.run([*CLI, "run", "--config", str(cfg)], stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                              stderr=follower, env=_env(), timeout=300)
        os.close(follower)
        follower = -1
        seen = b""
        while True:  # the whole of what the run wrote to the terminal, then EOF
            try:
                chunk = os.read(leader, 65536)
            except OSError:
                break
            if not chunk:
                break
            seen += chunk
    finally:
        os.close(leader)
        if follower >= 0:
            os.close(follower)
    assert proc.returncode == 0
    text = seen.decode()
    assert text.count("\r\x1b[Knews-ingest: run working, ") >= 2 and "articles written" in text, text[-500:]
    assert text.endswith("\r\x1b[K")  # the line is wiped before the summary


# 2. exit codes

def test_failing_feeds_exit_3_only_when_asked(tmp_path: Path, empty_site: FixtureServer) -> None:
    empty_site.routes["/gone.xml"] = lambda h: send(h, 404, b"gone", "text/plain")
    cfg = _config(tmp_path, empty_site, ["gone.xml"])
    proc = cli("run", "--config", str(cfg))
    assert proc.returncode == 0, proc.stderr
    assert f"failing: {empty_site.url('gone.xml')}" in proc.stdout
    proc = cli("run", "--config", str(cfg), "--ignore-schedule", "--fail-on-feed-errors", "-v")
    assert proc.returncode == 3, proc.stderr
    assert f"feed failed: {empty_site.url('gone.xml')}: " in proc.stderr


def test_sigint_exits_130_with_nothing_half_written(tmp_path: Path, demo_site: FixtureServer) -> None:
    cfg = _config(tmp_path, demo_site, per_host_delay_s=1.5, per_host_concurrency=1)  # about 30 s of fetching
    job = subprocess.Popen([*CLI, "-v", "run", "--config", str(cfg)], stdout=subprocess.PIPE,
                           stderr=subprocess.PIPE, text=True, env=_env())
    try:
        deadline = time.monotonic() + 60
        for line in job.stderr:
            if "run started" in line or time.monotonic() > deadline:
                break
        time.sleep(4)
        job.send_signal(signal.SIGINT)
        _, err = job.communicate(timeout=60)
    finally:
        job.kill()
        job.wait(timeout=10)
    assert job.returncode == 130, err
    assert "interrupted, nothing half-written; rerun to continue" in err
    assert "Traceback" not in err and "KeyboardInterrupt" not in err
    visible = [p for p in (tmp_path / "out").rglob("*.parquet") if not any(part.startswith(".") for part in p.parts)]
    for path in visible:
        pq.read_table(path)  # raises on a truncated file
    assert query(tmp_path / "out", "SELECT count(*) FROM t")[0][0] < 16 if visible else True
    rerun = cli("run", "--config", str(cfg).replace("c.yaml", "c.yaml"), "--ignore-schedule", timeout=240)
    assert rerun.returncode == 0, rerun.stderr


@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM])
def test_a_second_signal_abandons_a_streaming_tick_with_130_within_5_s(tmp_path: Path, demo_site: FixtureServer,
                                                                      signum: signal.Signals) -> None:
    cfg = _config(tmp_path, demo_site, per_host_delay_s=1.5, per_host_concurrency=1)  # a tick takes ~30 s
    job = subprocess.Popen([*CLI, "run", "--config", str(cfg), "--streaming", "--stop-after", "120s"],
                           stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=_env())
    try:
        assert job.stdout.readline().startswith("streaming:")
        time.sleep(5)
        job.send_signal(signum)
        assert job.stdout.readline().startswith(f"{signum.name}: finishing the current tick")
        job.send_signal(signum)
        second = time.monotonic()
        _, err = job.communicate(timeout=60)
        assert time.monotonic() - second < 5
    finally:
        job.kill()
        job.wait(timeout=10)
    assert job.returncode == 130, err
    assert "interrupted, nothing half-written; rerun to continue" in err and "Traceback" not in err


def test_broken_opml_is_a_usage_error_naming_the_file(tmp_path: Path) -> None:
    opml = tmp_path / "subs.opml"
    opml.write_bytes(b'<?xml version="1.0"?><opml version="2.0"><body>'
                     b'<outline text="a" xmlUrl="https://example.org/rss"/><outl')
    proc = cli("import-opml", str(opml), timeout=60)
    assert proc.returncode == 2 and str(opml) in proc.stderr and "not well-formed" in proc.stderr
    assert proc.stdout == ""
    cfg = tmp_path / "c.yaml"
    cfg.write_text(f"opml: [{opml}]\n")
    proc = cli("config", "--config", str(cfg), timeout=60)
    assert proc.returncode == 2 and str(opml) in proc.stderr and "not well-formed" in proc.stderr


def test_compact_without_a_dataset_says_so(tmp_path: Path) -> None:
    proc = cli("compact", "--output", str(tmp_path / "nothing"), timeout=60)
    assert proc.returncode == 2 and "no articles or rejects dataset" in proc.stderr
    assert not (tmp_path / "nothing").exists()


# 3. one run at a time

HOLD = ("import sys, time\nfrom pipeline.io.lock import state_lock\n"
        "with state_lock(sys.argv[1]):\n    print('held', flush=True)\n    time.sleep(float(sys.argv[2]))\n")


def _holder(state: Path, seconds: float) -> subprocess.Popen:
    holder = subprocess.Popen([sys.executable, "-c", HOLD, str(state), str(seconds)], stdout=subprocess.PIPE, text=True)
    assert holder.stdout.readline().strip() == "held"
    return holder


def test_a_second_run_is_refused_while_a_live_process_holds_the_lock(tmp_path: Path,
                                                                     demo_site: FixtureServer) -> None:
    cfg = _config(tmp_path, demo_site)
    holder = _holder(tmp_path / "out/_state", 60)
    try:
        proc = cli("run", "--config", str(cfg), timeout=60)
        assert proc.returncode == 75, proc.stderr
        assert f"in use by pid {holder.pid} on {socket.gethostname()} since 20" in proc.stderr
        assert "--wait-lock" in proc.stderr
        assert not (tmp_path / "out/articles").exists()
    finally:
        holder.kill()
        holder.wait(timeout=10)


def test_wait_lock_waits_for_the_holder(tmp_path: Path, demo_site: FixtureServer) -> None:
    """The waiting run says whom it waits for, and runs once the holder is gone (the holder lets go
    only after that line: a loaded machine may take seconds to start the command)."""
    cfg = _config(tmp_path, demo_site)
    holder = _holder(tmp_path / "out/_state", 120)
    proc = subprocess.Popen([*CLI, "run", "--config", str(cfg), "--wait-lock"], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, env=_env())
    try:
        said = []
        for line in proc.stderr:  # ends by itself: the holder gives up the lock after 120 s
            said.append(line)
            if "waiting for" in line:
                break
        assert f"waiting for {tmp_path / 'out/_state'}, in use by pid {holder.pid}" in "".join(said), said
        assert holder.poll() is None  # it was still holding when the run said so
        holder.kill()
        holder.wait(timeout=10)
        _, err = proc.communicate(timeout=120)
        assert proc.returncode == 0, err
        assert (tmp_path / "out/articles").exists()
    finally:
        for p in (holder, proc):
            p.kill()
            p.wait(timeout=10)


def test_streaming_holds_the_lock_for_its_lifetime(tmp_path: Path, demo_site: FixtureServer) -> None:
    cfg = _config(tmp_path, demo_site)
    job = subprocess.Popen([*CLI, "run", "--config", str(cfg), "--streaming", "--tick", "2s", "--stop-after", "60s"],
                           stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=_env())
    try:
        assert job.stdout.readline().startswith("streaming:")
        deadline = time.monotonic() + 60
        while not (tmp_path / "out/articles").exists() and time.monotonic() < deadline:  # a tick has ended
            time.sleep(0.5)
        proc = cli("run", "--config", str(cfg), timeout=60)
        assert proc.returncode == 75 and f"in use by pid {job.pid}" in proc.stderr, proc.stderr
        job.send_signal(signal.SIGTERM)
        job.communicate(timeout=60)
        assert job.returncode == 0
    finally:
        job.kill()
        job.wait(timeout=10)
    assert cli("run", "--config", str(cfg), "--ignore-schedule").returncode == 0


def test_the_lock_of_a_killed_run_is_taken_over(tmp_path: Path, demo_site: FixtureServer) -> None:
    cfg = _config(tmp_path, demo_site)
    holder = _holder(tmp_path / "out/_state", 60)
    holder.kill()
    holder.wait(timeout=10)
    assert str(holder.pid) in (tmp_path / "out/_state/.lock").read_text()  # its note is left behind
    proc = cli("run", "--config", str(cfg))
    assert proc.returncode == 0, proc.stderr
    assert query(tmp_path / "out", "SELECT count(*) FROM t")[0][0] == 16


# 7. getting started; 8. config from the environment

def test_init_writes_a_starter_that_runs_against_the_demo_site(tmp_path: Path, demo_site: FixtureServer) -> None:
    proc = cli("init", str(tmp_path / "proj"), timeout=60)
    assert proc.returncode == 0, proc.stderr
    starter = tmp_path / "proj/feeds.yaml"
    assert starter.read_text().startswith("# news-ingest starter config")
    assert cli("init", str(tmp_path / "proj"), timeout=60).returncode == 2  # never overwrites
    env = _env(NEWS_INGEST__FEEDS=f"[{{url: '{demo_site.url(DEMO_FEEDS[0])}'}}]",
               NEWS_INGEST__HTTP__ALLOW_PRIVATE_NETWORKS="true", NEWS_INGEST__HTTP__PER_HOST_DELAY_S="0",
               NEWS_INGEST__OUTPUT__PATH=str(tmp_path / "out"))
    proc = cli("run", "--config", str(starter), env=env)
    assert proc.returncode == 0, proc.stderr
    assert "placeholder contact example.org/contact-for-this-crawler" in proc.stderr
    assert proc.stderr.count("placeholder contact") == 1
    assert query(tmp_path / "out", "SELECT count(*) FROM t")[0][0] > 0


def test_environment_overrides_win_over_the_file(tmp_path: Path) -> None:
    cfg = tmp_path / "c.yaml"
    cfg.write_text("feeds:\n  - url: https://example.org/rss.xml\nhttp:\n  timeout_s: 20\n")
    proc = cli("config", "--config", str(cfg), env=_env(NEWS_INGEST__HTTP__TIMEOUT_S="30",
                                                       NEWS_INGEST__DEDUP__NEAR_DUPLICATES="drop"), timeout=60)
    assert proc.returncode == 0, proc.stderr
    shown = yaml.safe_load(proc.stdout)
    assert shown["http"]["timeout_s"] == 30 and shown["dedup"]["near_duplicates"] == "drop"
    assert shown["feeds"][0]["url"] == "https://example.org/rss.xml"
    proc = cli("config", "--config", str(cfg), env=_env(NEWS_INGEST__HTTP__TIMEOUT_S="soon"), timeout=60)
    assert proc.returncode == 2 and "http.timeout_s" in proc.stderr


def test_demo_prints_a_query_that_works_and_names_a_busy_port(tmp_path: Path) -> None:
    proc = cli("demo", "--output", str(tmp_path / "demo"), "--port", "0")
    assert proc.returncode == 0, proc.stderr
    line = next(line for line in proc.stdout.splitlines() if line.strip().startswith("news-ingest sql "))
    bin_dir = str(Path(sys.executable).parent)
    shell = subprocess.run(["/bin/sh", "-c", line.strip()], capture_output=True, text=True, timeout=60,
                           env={"PATH": f"{bin_dir}:/usr/bin:/bin", "HOME": str(tmp_path)}, cwd=tmp_path)
    assert shell.returncode == 0, shell.stderr
    assert "│ en" in shell.stdout and "│ ar" in shell.stdout
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        proc = cli("demo", "--output", str(tmp_path / "demo2"), "--port", str(port), timeout=60)
    assert proc.returncode == 2 and f"port {port} is in use" in proc.stderr and "--port" in proc.stderr
    assert shlex.split(line)[-1] == str((tmp_path / "demo").resolve())
