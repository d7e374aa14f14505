"""Start-up cost of a run on a large state: the check of the state files (`state.check_state`)
beside the seeding reads a run does anyway (every seen bucket, the signatures of the window).

    .venv/bin/python benchmarks/state_startup.py --keys 200000 --signatures 50000 [--keep DIR]

The state is synthetic (random keys and signatures), written with the package's own store writer:
`--files` files per seen bucket (8 is where compaction rewrites a bucket) and as many signature
files. Nothing leaves the machine.
"""

from __future__ import annotations

import argparse
import os
import shutil
import tempfile
import time
from datetime import date

from pipeline.io import state
from pipeline.records import utc_now


def build(state_path: str, keys: int, signatures: int, files: int) -> None:
    rng = os.urandom
    for part in range(files):
        state.SEEN.write(state_path, (state.seen_row(state.URL, rng(16).hex(), "bench")
                                      for _ in range(keys // files)), f"bench{part}")
        day = date.today().isoformat()
        state.SIGNATURES.write(state_path, ({"article_id": rng(16).hex(), "cluster_id": "c", "published_at": utc_now(),
                                             "signature": rng(512), "ingest_date": day}
                                            for _ in range(signatures // files)), f"bench{part}")


def timed(what: str, fn) -> float:
    started = time.perf_counter()
    fn()
    elapsed = time.perf_counter() - started
    print(f"{what:<40} {elapsed:8.3f} s")
    return elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--keys", type=int, default=200_000)
    parser.add_argument("--signatures", type=int, default=50_000)
    parser.add_argument("--files", type=int, default=8)
    parser.add_argument("--keep", help="build the state here and keep it")
    args = parser.parse_args()
    base = args.keep or tempfile.mkdtemp(prefix="state-startup-")
    state_path, output_path = f"{base}/_state", f"{base}/out"
    try:
        build(state_path, args.keys, args.signatures, args.files)
        size = sum(os.path.getsize(os.path.join(d, f)) for d, _, fs in os.walk(state_path) for f in fs)
        print(f"state: {args.keys} seen keys, {args.signatures} signatures, {size / 1e6:.1f} MB")
        timed("start-up check (check_state)", lambda: state.check_state(state_path, output_path))
        timed("seeding: every seen bucket", lambda: [state.read_seen_bucket(state_path, b, output_path)
                                                     for b in range(state.BUCKETS)])
        since = date.fromordinal(date.today().toordinal() - 1)
        timed("seeding: signatures of the window", lambda: [list(state.read_signatures(root, file))
                                                            for root, file in state.signature_files(state_path, since)])
    finally:
        if not args.keep:
            shutil.rmtree(base, ignore_errors=True)


if __name__ == "__main__":
    main()
