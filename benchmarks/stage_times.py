"""Where a run's time goes, stage by stage: the CLI run in this process, every bundle the local
runner (`FnApiRunner`) executes timed, wall, this process's CPU and its children's (the extraction
pool's), summed per fused stage, with the cores they kept busy.

The local runner runs one fused stage at a time, so the stages' wall times add up to the run, and
every stage but the one holding `ExtractArticles` (where the extraction pool works, with the
fetching fused into it) runs on one core: "cores busy" shows how much of the machine each stage
used. Serve a corpus first, e.g. `bench_pipeline.py --preset 10k --serve --keep DIR`, then:

    .venv/bin/python benchmarks/stage_times.py --json /tmp/stages.json -- run --config DIR/bench.yaml

It wraps private methods of Beam's runner (`_execute_bundle`, `run_pipeline`): a tool for
profiling, not a test. It also times this process's garbage collections, per generation, and puts
the run on one time line, phase by phase (`phases`): what comes before each of a backlog's runs
(imports, reading state, building the graph), Beam turning the graph into stages, the stages before
the pool's, the pool's, the stages after it, and what is left.
With `--coders` it also counts the thread CPU Beam spends encoding and decoding elements between
stages, per step (a profiling aid: it wraps Beam's data operations, so a buffer is decoded whole
before its elements go on, and the runner's requests to split a bundle are ignored).
"""

from __future__ import annotations

import argparse
import contextlib
import gc
import json
import os
import re
import sys
import time
from collections import defaultdict
from collections.abc import Iterator
from typing import NamedTuple

from measure import tree_pids

_STEP = re.compile(r"Ingest[/-]([A-Za-z]+)")
_TICKS = os.sysconf("SC_CLK_TCK")


def label(stage: str) -> str:
    """The pipeline steps a fused stage holds, in order, e.g. 'FetchArticles+ExtractArticles'."""
    steps = list(dict.fromkeys(_STEP.findall(stage)))
    return "+".join(steps[:4]) + ("+..." if len(steps) > 4 else "") or stage[:80]


@contextlib.contextmanager
def counting_coders() -> Iterator[dict[str, list]]:
    """Per step, [elements, encoded bytes (decoding only), thread CPU s] of Beam's element coding:
    `decode <step>` is the input a fused stage reads for its first step, `encode <step>` what a
    step writes out of its stage."""
    from apache_beam.coders import coder_impl
    from apache_beam.runners.worker import bundle_processor as bp

    counts: defaultdict[str, list] = defaultdict(lambda: [0, 0, 0.0])
    decode, encode = bp.DataInputOperation.process_encoded, bp.DataOutputOperation.process

    def process_encoded(self, encoded: bytes) -> None:
        started, stream, values = time.thread_time(), coder_impl.create_InputStream(encoded), []
        while stream.size() > 0:
            values.append(self.windowed_coder_impl.decode_from_stream(stream, True))
        first = next(iter(self.consumer), self)  # the step that reads it (none: this operation)
        row = counts[f"decode {first.name_context.step_name}"]
        row[0], row[1], row[2] = row[0] + len(values), row[1] + len(encoded), row[2] + time.thread_time() - started
        for value in values:
            self.index += 1
            self.output(value)

    def process(self, value) -> None:
        started = time.thread_time()
        self.windowed_coder_impl.encode_to_stream(value, self.output_stream, True)
        row = counts[f"encode {self.name_context.step_name}"]
        row[0], row[2] = row[0] + 1, row[2] + time.thread_time() - started
        self.output_stream.maybe_flush()

    bp.DataInputOperation.process_encoded, bp.DataOutputOperation.process = process_encoded, process
    try:
        yield counts
    finally:
        bp.DataInputOperation.process_encoded, bp.DataOutputOperation.process = decode, encode


def descendants_cpu() -> float:
    """CPU seconds of this process's descendants (the extraction pool's server and processes),
    those still running and those their parents reaped, from /proc (0 without it)."""
    total = 0.0
    for pid in tree_pids(os.getpid())[1:]:
        try:
            with open(f"/proc/{pid}/stat") as f:
                fields = f.read().rsplit(")", 1)[1].split()
        except (OSError, IndexError):  # gone meanwhile
            continue
        total += sum(int(x) for x in fields[11:15]) / _TICKS  # utime stime cutime cstime
    return total


class Bundle(NamedTuple):
    stage: str
    started: float  # perf_counter
    wall: float
    cpu: float  # this process's
    children_cpu: float  # its descendants', the extraction pool's


def timed_run(cli_args: list[str]) -> tuple[int, list[Bundle], list[tuple[float, float]]]:
    """The CLI's exit code, every bundle the local runner executed, and each run's (start, end)
    inside the runner (`run_pipeline`: the graph is built before it, in the CLI's own code)."""
    from apache_beam.runners.portability.fn_api_runner import fn_runner

    import pipeline.cli

    bundles: list[Bundle] = []
    runs: list[tuple[float, float]] = []
    execute, run_pipeline = fn_runner.FnApiRunner._execute_bundle, fn_runner.FnApiRunner.run_pipeline

    def timed(self, context, bundle_manager, bundle_input):
        children = descendants_cpu()  # read outside the timed span: a /proc scan costs about 1 ms
        started, cpu = time.perf_counter(), time.process_time()
        try:
            return execute(self, context, bundle_manager, bundle_input)
        finally:
            wall, cpu = time.perf_counter() - started, time.process_time() - cpu
            bundles.append(Bundle(bundle_manager.stage.name, started, wall, cpu, descendants_cpu() - children))

    def timed_pipeline(self, *args, **kwargs):
        started = time.perf_counter()
        try:
            return run_pipeline(self, *args, **kwargs)
        finally:
            runs.append((started, time.perf_counter()))

    fn_runner.FnApiRunner._execute_bundle, fn_runner.FnApiRunner.run_pipeline = timed, timed_pipeline
    try:
        return pipeline.cli.main(cli_args), bundles, runs
    finally:
        fn_runner.FnApiRunner._execute_bundle, fn_runner.FnApiRunner.run_pipeline = execute, run_pipeline


PHASES = ("before each run (imports, reading state, building the graph)",
          "Beam turning the graph into stages", "the stages before the pool's", "the pool's stage",
          "the stages after the pool's", "the runner, between and after stages", "after the last run")


def phases(bundles: list[Bundle], runs: list[tuple[float, float]], started: float, ended: float) -> dict[str, float]:
    """Wall seconds per phase, summed over the runs (a backlog runs the graph several times). The
    pool's stage is the one holding `ExtractArticles` (all its bundles); a run without one counts
    all its stages as before it."""
    spent = dict.fromkeys(PHASES, 0.0)
    previous_end = started
    for run_start, run_end in runs:
        mine = sorted((b for b in bundles if run_start <= b.started <= run_end), key=lambda b: b.started)
        pooled = [i for i, b in enumerate(mine) if "ExtractArticles" in b.stage]
        first_pool = pooled[0] if pooled else len(mine)
        pool_wall = sum(mine[i].wall for i in pooled)
        spent[PHASES[0]] += run_start - previous_end
        first = mine[0].started if mine else run_end
        last = mine[-1].started + mine[-1].wall if mine else run_end
        spent[PHASES[1]] += first - run_start
        spent[PHASES[2]] += sum(b.wall for b in mine[:first_pool])
        spent[PHASES[3]] += pool_wall
        spent[PHASES[4]] += sum(b.wall for b in mine[first_pool:]) - pool_wall
        # between bundles: the runner moving buffers from one stage to the next
        spent[PHASES[5]] += (last - first - sum(b.wall for b in mine)) + (run_end - last)
        previous_end = run_end
    spent[PHASES[6]] += ended - previous_end
    return spent


@contextlib.contextmanager
def timing_gc() -> Iterator[dict[int, list]]:
    """Per generation, [collections, seconds] of this process's garbage collector: a full
    collection walks every tracked object the process holds."""
    counts: dict[int, list] = {g: [0, 0.0] for g in range(3)}
    started = [0.0]

    def callback(phase: str, info: dict) -> None:
        if phase == "start":
            started[0] = time.perf_counter()
        else:
            row = counts[info["generation"]]
            row[0], row[1] = row[0] + 1, row[1] + time.perf_counter() - started[0]

    gc.callbacks.append(callback)
    try:
        yield counts
    finally:
        gc.callbacks.remove(callback)


def summary(bundles: list[Bundle], wall: float) -> dict:
    stages: defaultdict[str, list[float]] = defaultdict(lambda: [0, 0.0, 0.0, 0.0])
    for b in bundles:
        row = stages[label(b.stage)]
        row[0] += 1
        row[1] += b.wall
        row[2] += b.cpu
        row[3] += b.children_cpu
    pool = sum(b.wall for b in bundles if "ExtractArticles" in b.stage)  # fetching is fused into it
    return {"wall_s": wall, "pool_stage_s": pool, "other_stages_s": sum(b.wall for b in bundles) - pool,
            "stages": sorted(({"stage": s, "bundles": n, "wall_s": w, "cpu_s": c, "children_cpu_s": k}
                              for s, (n, w, c, k) in stages.items()), key=lambda r: -r["wall_s"])}


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--json", help="write the summary here too")
    p.add_argument("--top", type=int, default=20, help="stages (and coding steps) to print")
    p.add_argument("--coders", action="store_true", help="also count Beam's encoding and decoding per step")
    p.add_argument("cli", nargs=argparse.REMAINDER, help="-- then the news-ingest arguments")
    args = p.parse_args()
    cli = args.cli[1:] if args.cli[:1] == ["--"] else args.cli
    started = time.perf_counter()
    with counting_coders() if args.coders else contextlib.nullcontext({}) as coding, timing_gc() as collections:
        rc, bundles, runs = timed_run(cli)
    ended = time.perf_counter()
    result = summary(bundles, ended - started)
    result["runs"] = len(runs)
    result["phases"] = [{"phase": k, "wall_s": v} for k, v in phases(bundles, runs, started, ended).items()]
    result["gc"] = [{"generation": g, "collections": n, "seconds": s} for g, (n, s) in collections.items()]
    outside = result["wall_s"] - result["pool_stage_s"] - result["other_stages_s"]
    print(f"wall {result['wall_s']:.1f} s: the pool's stage {result['pool_stage_s']:.1f} s, "
          f"the other stages {result['other_stages_s']:.1f} s (one core), "
          f"outside any stage {outside:.1f} s (start-up, building graphs, between runs)")
    print(f"the same wall time by phase, summed over {len(runs)} run(s):")
    for row in result["phases"]:
        print(f"{row['wall_s']:8.2f} s  {row['phase']}")
    print("    wall  this process's CPU  its children's CPU  cores busy  bundles  stage")
    for row in result["stages"][:args.top]:
        busy = (row["cpu_s"] + row["children_cpu_s"]) / row["wall_s"] if row["wall_s"] else 0.0
        print(f"{row['wall_s']:8.2f} {row['cpu_s']:19.2f} {row['children_cpu_s']:18.2f} {busy:11.2f}"
              f" {row['bundles']:8d}  {row['stage']}")
    print("garbage collection: " + ", ".join(f"generation {r['generation']} {r['collections']} times in "
                                             f"{r['seconds']:.2f} s" for r in result["gc"]))
    if coding:
        result["coding"] = sorted(({"step": k, "elements": n, "bytes": b, "cpu_s": c}
                                   for k, (n, b, c) in coding.items()), key=lambda r: -r["cpu_s"])
        print(f"Beam's encoding and decoding: {sum(r['cpu_s'] for r in result['coding']):.2f} s thread CPU")
        for row in result["coding"][:args.top]:
            print(f"{row['cpu_s']:8.2f} s {row['elements']:9d} elements {row['bytes'] / 1e6:8.1f} MB  {row['step']}")
    if args.json:
        with open(args.json, "w") as f:
            json.dump(result, f, indent=1)
    return rc


if __name__ == "__main__":  # the extraction pool spawns processes that import this module
    sys.exit(main())
