"""The `news-ingest` command. Unknown options are handed to Beam (`--runner`, `--direct_num_workers`)."""

from __future__ import annotations

import argparse
import logging
import sys
from pathlib import Path
from typing import TYPE_CHECKING

from pipeline.commands.feeds import health_table
from pipeline.config import Config, ConfigError, load_config
from pipeline.dates import duration_seconds

OPML_ACCEPT = "text/x-opml, application/xml, */*;q=0.5"

if TYPE_CHECKING:
    from pipeline.run import RunSummary


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="news-ingest", description="Poll news feeds, extract articles, write partitioned Parquet.",
        epilog="Options not listed here are Apache Beam pipeline options, e.g. --runner, --direct_num_workers.")
    parser.add_argument("-v", "--verbose", action="store_true", help="log Beam's progress")
    sub = parser.add_subparsers(dest="command", required=True)
    run = sub.add_parser("run", help="poll every feed once and write what is new")
    run.add_argument("--config", required=True, help="YAML config file")
    run.add_argument("--output", help="output folder or URI (overrides output.path)")
    run.add_argument("--state", help="state folder or URI (overrides state.path)")
    run.add_argument("--ignore-schedule", action="store_true",
                     help="poll every feed now, due or not (conditional GET still applies)")
    run.add_argument("--streaming", action="store_true",
                     help="keep polling, one cycle per tick, until SIGINT/SIGTERM or --stop-after")
    run.add_argument("--stop-after", type=parse_duration, metavar="DURATION",
                     help="with --streaming: stop after this long, e.g. 90s, 10m, 2h")
    run.add_argument("--tick", type=parse_duration, metavar="DURATION",
                     help="with --streaming: time between poll cycles (overrides streaming.tick_s)")
    feeds = sub.add_parser("feeds", help="show each feed's health: last success, errors, next poll")
    feeds.add_argument("--config", required=True, help="YAML config file")
    feeds.add_argument("--state", help="state folder or URI (overrides state.path)")
    opml = sub.add_parser("import-opml", help="print (or write) the config YAML for the feeds in an OPML file")
    opml.add_argument("file", help="OPML file")
    opml.add_argument("--write", metavar="YAML", help="write the YAML to this file instead of printing it")
    disc = sub.add_parser("discover", help="find a site's feed and print it as config YAML")
    disc.add_argument("url", help="the site's home page, e.g. https://example.org/")
    disc.add_argument("--language", help="prefer a feed in this language (ISO 639-1)")
    disc.add_argument("--config", help="YAML config whose http and polling.respect_robots settings apply")
    demo = sub.add_parser("demo", help="run once against the bundled offline demo site")
    demo.add_argument("--output", help="output folder (default: ./demo-output)")
    demo.add_argument("--port", type=int, default=8765, help="port for the demo site (default: 8765)")
    demo.add_argument("--serve-only", action="store_true", help="only serve the demo site, until Ctrl-C")
    compact = sub.add_parser("compact", help="merge each partition's small files, dropping repeated rows")
    compact.add_argument("--output", required=True, help="dataset root (the run's output.path)")
    compact.add_argument("--state", help="state folder or URI whose seen-key folders are merged too "
                                         "(default: <output>/_state)")
    compact.add_argument("--partition", action="append", default=[], metavar="KEY=VALUE",
                         help="only partitions with this value, e.g. ingest_date=2026-11-29 (repeatable)")
    compact.add_argument("--min-age", type=parse_duration, default=600.0, metavar="DURATION",
                         help="leave files younger than this alone (default 10m; longer than a streaming window)")
    return parser


def parse_duration(text: str) -> float:
    """Seconds from `90s`, `10m`, `2h`, `1d` (or a bare number of seconds)."""
    try:
        return duration_seconds(text)
    except ValueError as err:
        raise argparse.ArgumentTypeError(str(err)) from None


def _stream(cfg: Config, beam_args: list[str], stop_after: float | None) -> int:
    from pipeline import streaming

    if not streaming.is_local(beam_args):
        streaming.run_unbounded(cfg, beam_args, stop_after)
        return 0
    print(f"streaming: a poll cycle every {cfg.streaming.tick_s:g}s"
          + (f" for {stop_after:g}s" if stop_after else " until SIGINT/SIGTERM"), flush=True)
    summary = streaming.run_local(cfg, beam_args, stop_after, say=lambda line: print(line, flush=True))
    c = summary.counters
    print(f"stopped ({summary.stopped_by}) after {summary.ticks} ticks: {c['articles_written']} articles, "
          f"{c['rejects_written']} rejects")
    return 0


def _import_opml(file: str, write: str | None) -> int:
    from pipeline.sources.opml import OpmlError, opml_to_yaml, parse_opml

    try:
        text = opml_to_yaml(parse_opml(Path(file).read_bytes()))
    except OpmlError as err:
        raise ConfigError(f"{file}: {err}") from None
    if write:
        Path(write).write_text(text, encoding="utf-8")
    else:
        print(text, end="")
    return 0


def _discover(args: argparse.Namespace) -> int:
    from pipeline.commands.discover import discovery_yaml, run_discover
    from pipeline.config import HttpConfig, PollingConfig

    cfg = load_config(args.config) if args.config else None
    http, polling = (cfg.http, cfg.polling) if cfg else (HttpConfig(), PollingConfig())
    found = run_discover(args.url, http, polling.respect_robots, args.language)
    text = discovery_yaml(args.url, found)
    if found.chosen is None:
        print(f"news-ingest: {text.lstrip('# ').rstrip()}", file=sys.stderr)
        return 1
    print(text, end="")
    return 0


def _compact(args: argparse.Namespace) -> int:
    from pipeline.commands.compact import compact_output

    for line in compact_output(args.output, args.state, args.partition, args.min_age):
        print(line)
    return 0


def load_with_opml(path: str) -> Config:
    """The config file, with the feeds of the OPML lists it names merged in."""
    config = load_config(path)
    if not config.opml:
        return config
    from pipeline.io.http import read_document  # lxml and HTTP only when a config asks for OPML
    from pipeline.sources.opml import with_opml_feeds

    base = Path(path).parent
    try:
        documents = [(ref, read_document(ref, base, config.http, OPML_ACCEPT)) for ref in config.opml]
    except OSError as err:
        raise ConfigError(f"opml: {err}") from None
    return with_opml_feeds(config, documents)


def _print_summary(summary: RunSummary) -> None:
    c = summary.counters
    print(f"run {summary.run_id}: {c['feeds_polled']} feeds polled ({c['feeds_not_modified']} not modified, "
          f"{c['feeds_failed']} failed, {c['feeds_not_due']} not due), "
          f"{c['feed_entries']} entries seen, {c['pages_fetched']} pages fetched, "
          f"{c['articles_written']} articles written, {c['already_seen']} already seen, "
          f"{c['duplicates_dropped']} duplicates dropped, {c['near_duplicates']} near-duplicates, "
          f"{c['rejects_written']} rejects recorded")
    if summary.runs > 1:
        print(f"  the backlog took {summary.runs} runs (polling.max_entries_per_run)")
    if c["entries_deferred"]:
        print(f"  {c['entries_deferred']} new entries wait for the next run")
    for feed in summary.failing_feeds:
        print(f"  failing: {feed.feed_url}: {feed.last_error} ({feed.consecutive_failures} in a row, "
              f"next try {feed.next_due_at:%Y-%m-%d %H:%M} UTC)")


def main(argv: list[str] | None = None) -> int:
    args, beam_args = _parser().parse_known_args(argv)
    logging.basicConfig(level=logging.DEBUG if args.verbose else logging.ERROR,
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    # Imported late: `news-ingest --help` and config errors should not wait for Beam to load.
    from pipeline.commands import demo
    from pipeline.run import run_batch

    try:
        if args.command == "compact":
            return _compact(args)
        if args.command == "demo":
            if args.serve_only:
                demo.serve_forever(args.port)
                return 0
            cfg, summary = demo.run_demo(args.output, args.port, beam_args)
            _print_summary(summary)
            print(demo.describe_output(cfg))
            return 0
        if args.command == "import-opml":
            return _import_opml(args.file, args.write)
        if args.command == "discover":
            return _discover(args)
        cfg = load_with_opml(args.config).with_paths(output=getattr(args, "output", None), state=args.state)
        if args.command == "feeds":
            print(health_table(cfg))
            return 0
        if args.ignore_schedule:
            cfg = cfg.model_copy(update={"polling": cfg.polling.model_copy(update={"respect_schedule": False})})
        if args.tick:
            cfg = cfg.model_copy(update={"streaming": cfg.streaming.model_copy(update={"tick_s": args.tick})})
        if args.streaming:
            return _stream(cfg, beam_args, args.stop_after)
        _print_summary(run_batch(cfg, beam_args))
        return 0
    except ConfigError as err:
        print(f"news-ingest: {err}", file=sys.stderr)
        return 2
    except OSError as err:
        print(f"news-ingest: {err}", file=sys.stderr)
        return 1
    except Exception as err:  # a crash still ends with one readable line; -v shows the traceback
        logging.getLogger("news-ingest").debug("run failed", exc_info=True)
        print(f"news-ingest: run failed: {type(err).__name__}: {str(err).splitlines()[0] if str(err) else ''}"
              " (rerun with -v for details)", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
