"""What one benchmark scenario measures: a pipeline run seen from outside, and the extraction limit.

The run is a subprocess (`python -m pipeline run`), so wall time includes interpreter and Beam
start-up, as a cron-scheduled run pays them, and peak RSS covers the whole process tree (Beam's
`multi_processing` workers are child processes); `run_cli` runs any command, so the peers are
measured the same way. The limits are the same pages on a plain process pool: bare
`trafilatura.extract` with default options on the served bytes (the work a user would otherwise
run), and the pipeline's own `extract_page` (what the pipeline would reach if extraction, which it
cannot skip, were its only cost).
"""

from __future__ import annotations

import functools
import os
import re
import resource
import subprocess
import tempfile
import time
from collections import defaultdict
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from multiprocessing import Pool
from pathlib import Path
from typing import Any

import lxml.html
import pyarrow.parquet as pq
import trafilatura
import trafilatura.utils

from pipeline.articles.extract import HTML_CLASSES, extract_page

_PAGE = os.sysconf("SC_PAGE_SIZE")
_SUMMARY = re.compile(r"^run (\S+): (.*)$", re.MULTILINE)
_COUNT = re.compile(r"(\d+) ([a-z][a-z -]*[a-z])")


@dataclass
class CliRun:
    returncode: int
    wall_s: float
    cpu_s: float  # user + system time of the CLI and the children it reaped (Beam's worker processes)
    server_cpu_s: float  # this process's CPU during the run but for the sampling loop: the loopback servers' threads
    sampling_cpu_s: float  # the sampling loop's own CPU (the /proc scans for the tree's RSS)
    peak_rss_mb: float
    counters: dict[str, int]  # from the CLI's summary line: "feeds polled", "articles written", ...
    log: str  # the CLI's stdout and stderr, for the report when something went wrong
    rss_mb: list[tuple[float, float]]  # (seconds since start, tree RSS MB), one sample a second: what grows


def tree_pids(root: int) -> list[int]:
    """`root` and every descendant, from a scan of /proc (about 2 ms with 70 processes)."""
    children: defaultdict[int, list[int]] = defaultdict(list)
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            ppid = int(stat.read_text().rsplit(")", 1)[1].split()[1])
        except (OSError, IndexError, ValueError):
            continue
        children[ppid].append(int(stat.parent.name))
    pids, todo = [], [root]
    while todo:
        pids.append(pid := todo.pop())
        todo.extend(children.get(pid, ()))
    return pids


def tree_rss(pids: list[int]) -> int:
    """Resident bytes of these processes (the ones gone count 0)."""
    total = 0
    for pid in pids:
        try:
            total += int(Path(f"/proc/{pid}/statm").read_text().split()[1]) * _PAGE
        except (OSError, IndexError, ValueError):
            continue
    return total


def run_cli(cmd: list[str], cwd: str, poll_s: float = 0.1, rescan_s: float = 1.0,
            env: dict[str, str] | None = None) -> CliRun:
    """Run a command (the pipeline CLI, a peer) to completion, sampling its tree's RSS every `poll_s`
    seconds; the tree's members are found again every `rescan_s` seconds, as a scan of /proc costs
    more than the samples (the sampling shares the machine with the run; its CPU is reported)."""
    with tempfile.TemporaryFile() as log:
        cpu_before, own_before, sampling_before = _children_cpu(), time.process_time(), time.thread_time()
        start = time.perf_counter()
        proc = subprocess.Popen(cmd, cwd=cwd, stdout=log, stderr=subprocess.STDOUT, env=env)
        pids, scanned = tree_pids(proc.pid), start
        peak, trace = tree_rss(pids), []
        while True:
            try:
                proc.wait(timeout=poll_s)  # returns at exit, so wall time is not rounded up to poll_s
                break
            except subprocess.TimeoutExpired:
                if (now := time.perf_counter()) - scanned >= rescan_s:  # new processes: the pool's, Beam's
                    pids, scanned = tree_pids(proc.pid), now
                rss = tree_rss(pids)
                peak = max(peak, rss)
                if (t := time.perf_counter() - start) >= len(trace):
                    trace.append((round(t, 1), round(rss / 2**20, 1)))
        wall = time.perf_counter() - start
        cpu = _children_cpu() - cpu_before
        sampling = time.thread_time() - sampling_before
        server_cpu = time.process_time() - own_before - sampling
        log.seek(0)
        text = log.read().decode("utf-8", "replace")
    return CliRun(proc.returncode, wall, cpu, server_cpu, sampling, peak / 2**20, summary_counters(text), text, trace)


def _children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def summary_counters(log: str) -> dict[str, int]:
    """Every "<number> <words>" of the summary line, so new counters need no change here."""
    match = _SUMMARY.search(log)
    return {name: int(n) for n, name in _COUNT.findall(match[2])} if match else {}


def parquet_files(root: Path) -> set[Path]:
    return set(root.rglob("*.parquet"))


def rows_and_bytes(files: set[Path]) -> tuple[int, int]:
    """Rows and bytes of some Parquet files: a run's output is the files that appeared during it."""
    return (sum(pq.read_metadata(f).num_rows for f in files), sum(f.stat().st_size for f in files))


def extract_page_has_text(item: tuple[str, str]) -> bool:
    """The pipeline's extraction of one (decoded html, url) pair."""
    html, url = item
    return extract_page(html, url).text is not None


@contextmanager
def trafilatura_as_installed() -> Iterator[None]:
    """trafilatura's parser with lxml.html's own element classes, as a user importing trafilatura
    gets it: importing `pipeline.articles.extract` (as this module does) gives that parser lxml's
    C look-up, a speed-up of the pipeline's that the limit must not share."""
    parser = trafilatura.utils.HTML_PARSER
    parser.set_element_class_lookup(lxml.html.HtmlElementClassLookup())
    try:
        yield
    finally:
        parser.set_element_class_lookup(HTML_CLASSES)


def bare_extract_has_text(body: bytes) -> bool:
    """`trafilatura.extract` with default options on the page's bytes, as a user would call it."""
    with trafilatura_as_installed():
        return bool(trafilatura.extract(body))


def _timed(work: Callable[[Any], bool], item: Any) -> tuple[bool, float]:
    """`work(item)`, and the CPU time it took in its process."""
    start = time.process_time()
    found = work(item)
    return found, time.process_time() - start


def extraction_limit(work: Callable[[Any], bool], items: Sequence[Any], processes: int) -> dict[str, float]:
    """Pages/s of `work` over `items` on `processes` workers (only the map is timed), and the CPU
    time the work took: with the run's own CPU time it says whether a run is short of CPU or of
    cores kept busy."""
    with Pool(processes) as pool:
        pool.map(work, items[:processes], chunksize=1)  # warm-up: workers up, lazy imports done
        start = time.perf_counter()
        results = pool.map(functools.partial(_timed, work), items,
                           chunksize=max(1, len(items) // (processes * 32)))
        seconds = time.perf_counter() - start
    return {"pages": len(items), "processes": processes, "seconds": round(seconds, 3),
            "pages_per_s": round(len(items) / seconds, 2), "cpu_s": round(sum(cpu for _, cpu in results), 2),
            "pages_with_text": sum(found for found, _ in results)}
