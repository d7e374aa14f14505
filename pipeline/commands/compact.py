"""`news-ingest compact`: the articles and rejects datasets' small files merged per partition, and
the seen-key folders of the state store."""

from __future__ import annotations

from collections.abc import Iterator

from pipeline.config import ConfigError, default_state_path
from pipeline.io import delta, state
from pipeline.io.compaction import compact
from pipeline.io.parquet import articles_root, is_dataset, rejects_root
from pipeline.run import new_run_id


def require_dataset(output: str) -> None:
    if not any(is_dataset(root) for root in (articles_root(output), rejects_root(output))):
        raise ConfigError(f"{output}: no articles or rejects dataset to compact (is it a run's output.path?)")


def compact_output(output: str, state_path: str | None, partitions: list[str], min_age_s: float) -> Iterator[str]:
    """One line per partition compacted."""
    wanted = dict(p.split("=", 1) for p in partitions if "=" in p)
    if len(wanted) != len(partitions):
        raise ConfigError("--partition takes KEY=VALUE")
    require_dataset(output)
    tag = new_run_id()
    for root, key in ((articles_root(output), ("article_id", "version")), (rejects_root(output), None)):
        if delta.is_delta(root):
            metrics = delta.optimize(root)
            yield f"{root} (delta): {metrics.get('numFilesRemoved', 0)} files -> {metrics.get('numFilesAdded', 0)}"
            continue
        for done in compact(root, key, tag, wanted, min_age_s):
            yield (f"{root}/{done.partition}: {done.files_in} files, {done.rows_in} rows -> 1 file, "
                   f"{done.rows_out} rows")
    state.compact_seen(state_path or default_state_path(output), tag, output)
