"""Where a run's time goes, stage by stage: the CLI run in this process, every bundle the local
runner (`FnApiRunner`) executes timed, wall and this process's CPU, summed per fused stage.

The local runner runs one fused stage at a time, so the stages' wall times add up to the run, and
every stage but the one holding `FetchArticles` (where the extraction pool works) runs on one
core. Serve a corpus first, e.g. `bench_pipeline.py --preset 10k --serve --keep DIR`, then:

    .venv/bin/python benchmarks/stage_times.py --json /tmp/stages.json -- run --config DIR/bench.yaml

It wraps a private method of Beam's runner (`_execute_bundle`): a tool for profiling, not a test.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
import time
from collections import defaultdict

_STEP = re.compile(r"Ingest[/-]([A-Za-z]+)")


def label(stage: str) -> str:
    """The pipeline steps a fused stage holds, in order, e.g. 'FetchArticles+ExtractArticles'."""
    steps = list(dict.fromkeys(_STEP.findall(stage)))
    return "+".join(steps[:4]) + ("+..." if len(steps) > 4 else "") or stage[:80]


def timed_run(cli_args: list[str]) -> tuple[int, list[tuple[str, float, float]]]:
    from apache_beam.runners.portability.fn_api_runner import fn_runner

    import pipeline.cli

    bundles: list[tuple[str, float, float]] = []
    execute = fn_runner.FnApiRunner._execute_bundle

    def timed(self, context, bundle_manager, bundle_input):
        wall, cpu = time.perf_counter(), time.process_time()
        try:
            return execute(self, context, bundle_manager, bundle_input)
        finally:
            bundles.append((bundle_manager.stage.name, time.perf_counter() - wall, time.process_time() - cpu))

    fn_runner.FnApiRunner._execute_bundle = timed
    try:
        return pipeline.cli.main(cli_args), bundles
    finally:
        fn_runner.FnApiRunner._execute_bundle = execute


def summary(bundles: list[tuple[str, float, float]], wall: float) -> dict:
    stages: defaultdict[str, list[float]] = defaultdict(lambda: [0, 0.0, 0.0])
    for name, w, c in bundles:
        row = stages[label(name)]
        row[0] += 1
        row[1] += w
        row[2] += c
    pool = sum(w for name, w, _ in bundles if "FetchArticles" in name)
    return {"wall_s": wall, "pool_stage_s": pool, "other_stages_s": sum(w for _, w, _ in bundles) - pool,
            "stages": sorted(({"stage": k, "bundles": n, "wall_s": w, "cpu_s": c}
                              for k, (n, w, c) in stages.items()), key=lambda r: -r["wall_s"])}


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--json", help="write the summary here too")
    p.add_argument("--top", type=int, default=20, help="stages to print")
    p.add_argument("cli", nargs=argparse.REMAINDER, help="-- then the news-ingest arguments")
    args = p.parse_args()
    cli = args.cli[1:] if args.cli[:1] == ["--"] else args.cli
    started = time.perf_counter()
    rc, bundles = timed_run(cli)
    result = summary(bundles, time.perf_counter() - started)
    outside = result["wall_s"] - result["pool_stage_s"] - result["other_stages_s"]
    print(f"wall {result['wall_s']:.1f} s: the pool's stage {result['pool_stage_s']:.1f} s, "
          f"the other stages {result['other_stages_s']:.1f} s (one core), "
          f"outside any stage {outside:.1f} s (start-up, building graphs, between runs)")
    for row in result["stages"][:args.top]:
        print(f"{row['wall_s']:8.2f} s wall {row['cpu_s']:8.2f} s cpu {row['bundles']:5d} bundles  {row['stage']}")
    if args.json:
        with open(args.json, "w") as f:
            json.dump(result, f, indent=1)
    return rc


if __name__ == "__main__":  # the extraction pool spawns processes that import this module
    sys.exit(main())
