"""`news-ingest demo`: the bundled fixture site served on loopback, one real run against it."""

from __future__ import annotations

import errno
import shlex
import time
from pathlib import Path

import pyarrow.dataset as ds

from pipeline.commands.demo_server import DEMO_DIR, FixtureServer
from pipeline.config import Config, ConfigError, load_config
from pipeline.io.parquet import articles_root
from pipeline.run import RunSummary, run_batch

DEMO_CONFIG = DEMO_DIR / "demo.yaml"
DEMO_PORT = 8765


def demo_config(base: str, output: str | None) -> Config:
    """The demo config, with feed URLs moved to wherever the fixture server is listening."""
    cfg = load_config(DEMO_CONFIG)
    default_base = f"http://127.0.0.1:{DEMO_PORT}"
    feeds = [f.model_copy(update={"url": str(f.url).replace(default_base, base)}) for f in cfg.feeds]
    return cfg.model_copy(update={"feeds": tuple(feeds)}).with_paths(output=output)


def _server(port: int) -> FixtureServer:
    """The demo site on `port`; a port in use is a usage error naming the way out."""
    try:
        return FixtureServer(DEMO_DIR / "site", port=port)
    except OSError as err:
        if err.errno == errno.EADDRINUSE:
            raise ConfigError(f"port {port} is in use (another demo?): pick a free one with --port, "
                              "e.g. --port 8766") from None
        raise


def serve_forever(port: int) -> None:
    with _server(port) as server:
        print(f"Serving the demo site at {server.base}/ (Ctrl-C to stop)", flush=True)
        try:
            while True:
                time.sleep(3600)
        except KeyboardInterrupt:
            pass


def run_demo(output: str | None, port: int, beam_args: list[str]) -> tuple[Config, RunSummary]:
    with _server(port) as server:
        cfg = demo_config(server.base, output)
        return cfg, run_batch(cfg, beam_args)


def describe_output(cfg: Config) -> str:
    """A short look at what is on disk, and a query to paste for a closer one."""
    root = Path(articles_root(cfg.output.path)).resolve()
    lines = []
    if root.exists():
        table = ds.dataset(root, format="parquet", partitioning="hive").to_table(
            columns=["language", "source", "title", "body_source"])
        lines.append(f"{table.num_rows} articles in {root} (all runs):")
        for row in table.slice(0, 20).to_pylist():
            title = (row["title"] or "")[:70]
            lines.append(f"  [{row['language']}] {row['source'][:20]:<20} {row['body_source']:<5} {title}")
    lines += [
        "",
        "Query it (DuckDB; views `articles` and `rejects`):",
        f"  news-ingest sql \"SELECT language, source, count(*) AS n FROM articles GROUP BY ALL ORDER BY n DESC\" "
        f"--output {shlex.quote(str(Path(cfg.output.path).resolve()))}",
    ]
    return "\n".join(lines)
