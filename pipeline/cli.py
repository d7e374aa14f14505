"""The `news-ingest` command. Options it does not know go to Beam only when Beam knows them
(`--runner`, `--direct_num_workers`); anything else is a usage error. Exit codes: see EXIT_*."""

from __future__ import annotations

import argparse
import difflib
import gc
import os
import signal
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from importlib import metadata
from pathlib import Path
from typing import TYPE_CHECKING

from pipeline.commands.feeds import health_table
from pipeline.config import Config, ConfigError, dump_config, load_config
from pipeline.dates import duration_seconds
from pipeline.logs import log, setup_logging

OPML_ACCEPT = "text/x-opml, application/xml, */*;q=0.5"

EXIT_OK = 0
EXIT_FAILED = 1  # the run (or command) failed
EXIT_USAGE = 2  # bad config, bad option, nothing to work on
EXIT_FEEDS_FAILED = 3  # completed, but feeds failed and --fail-on-feed-errors was given
EXIT_LOCKED = 75  # another run holds the state folder's lock (EX_TEMPFAIL: try again later)
EXIT_INTERRUPTED = 130  # Ctrl-C / SIGINT

if TYPE_CHECKING:
    from pipeline.run import RunSummary


def _versions() -> str:
    def version(dist: str) -> str:
        try:
            return metadata.version(dist)
        except metadata.PackageNotFoundError:
            return "not installed"

    return (f"news-ingest {version('news-ingest')} (apache-beam {version('apache-beam')}, "
            f"trafilatura {version('trafilatura')})")


def _common() -> argparse.ArgumentParser:
    """Flags accepted before and after the subcommand (SUPPRESS: the subcommand's absent flag
    must not reset what was given before it)."""
    common = argparse.ArgumentParser(add_help=False, allow_abbrev=False)
    common.add_argument("-v", "--verbose", action="count", default=argparse.SUPPRESS,
                        help="-v: the project's events and Beam's warnings; -vv: everything (debug)")
    common.add_argument("-q", "--quiet", action="store_true", default=argparse.SUPPRESS,
                        help="errors only, no summary")
    common.add_argument("--log-format", choices=("text", "json"), default=argparse.SUPPRESS,
                        help="json: one JSON object per line on stderr (default text)")
    return common


def _parser() -> tuple[argparse.ArgumentParser, dict[str, argparse.ArgumentParser]]:
    common = _common()
    parser = argparse.ArgumentParser(
        prog="news-ingest", description="Poll news feeds, extract articles, write partitioned Parquet.",
        epilog="run and demo also take Apache Beam pipeline options, e.g. --runner, --direct_num_workers.",
        parents=[common], allow_abbrev=False)
    parser.add_argument("--version", action="version", version=_versions())
    sub = parser.add_subparsers(dest="command", required=True)

    def command(name: str, help: str) -> argparse.ArgumentParser:
        return sub.add_parser(name, help=help, parents=[common], allow_abbrev=False)

    run = command("run", "poll every feed once and write what is new")
    run.add_argument("--config", required=True, help="YAML config file")
    run.add_argument("--output", help="output folder or URI (overrides output.path)")
    run.add_argument("--state", help="state folder or URI (overrides state.path)")
    run.add_argument("--ignore-schedule", action="store_true",
                     help="poll every feed now, due or not (conditional GET still applies)")
    run.add_argument("--fail-on-feed-errors", action="store_true",
                     help=f"exit {EXIT_FEEDS_FAILED} when the run completed but feeds failed")
    run.add_argument("--wait-lock", action="store_true",
                     help="wait for another run on the same state folder to end instead of exiting")
    run.add_argument("--progress-every", type=parse_duration, metavar="DURATION",
                     help="a progress line on stderr this often (default: redrawn every 1s on a terminal, "
                          "a new line every 30s elsewhere; 0: off)")
    run.add_argument("--streaming", action="store_true",
                     help="keep polling, one cycle per tick, until SIGINT/SIGTERM or --stop-after")
    run.add_argument("--stop-after", type=parse_duration, metavar="DURATION",
                     help="with --streaming: stop after this long, e.g. 90s, 10m, 2h")
    run.add_argument("--tick", type=parse_duration, metavar="DURATION",
                     help="with --streaming: time between poll cycles (overrides streaming.tick_s)")
    feeds = command("feeds", "show each feed's health: last success, errors, next poll")
    feeds.add_argument("--config", required=True, help="YAML config file")
    feeds.add_argument("--state", help="state folder or URI (overrides state.path)")
    show = command("config", "print the effective config (file, OPML lists, environment) as YAML")
    show.add_argument("--config", required=True, help="YAML config file")
    opml = command("import-opml", "print (or write) the config YAML for the feeds in an OPML file")
    opml.add_argument("file", help="OPML file")
    opml.add_argument("--write", metavar="YAML", help="write the YAML to this file instead of printing it")
    disc = command("discover", "find a site's feed and print it as config YAML")
    disc.add_argument("url", help="the site's home page, e.g. https://example.org/")
    disc.add_argument("--language", help="prefer a feed in this language (ISO 639-1)")
    disc.add_argument("--config", help="YAML config whose http and polling.respect_robots settings apply")
    init = command("init", "write a commented starter config, DIR/feeds.yaml")
    init.add_argument("dir", nargs="?", default=".", help="folder for feeds.yaml (default: .)")
    demo = command("demo", "run once against the bundled offline demo site")
    demo.add_argument("--output", help="output folder (default: ./demo-output)")
    demo.add_argument("--port", type=int, default=8765, help="port for the demo site (default: 8765)")
    demo.add_argument("--serve-only", action="store_true", help="only serve the demo site, until Ctrl-C")
    sql = command("sql", "query what runs wrote with DuckDB (views: articles, rejects)")
    sql.add_argument("query", help='e.g. "SELECT language, count(*) FROM articles GROUP BY ALL"')
    sql.add_argument("--output", required=True, help="dataset root (the run's output.path)")
    compact = command("compact", "merge each partition's small files, dropping repeated rows")
    compact.add_argument("--output", required=True, help="dataset root (the run's output.path)")
    compact.add_argument("--state", help="state folder or URI whose seen-key folders are merged too "
                                         "(default: <output>/_state)")
    compact.add_argument("--partition", action="append", default=[], metavar="KEY=VALUE",
                         help="only partitions with this value, e.g. ingest_date=2026-11-29 (repeatable)")
    compact.add_argument("--min-age", type=parse_duration, default=600.0, metavar="DURATION",
                         help="leave files younger than this alone (default 10m; longer than a streaming window)")
    migrate = command("migrate", "rewrite the articles dataset into another partition layout")
    migrate.add_argument("--output", required=True, help="dataset root (the run's output.path)")
    migrate.add_argument("--partition-by", required=True, metavar="A,B",
                         help="new partition columns, e.g. ingest_date,source")
    stats = command("stats", "per source, day, language or feed: counts, extraction health, rejects")
    stats.add_argument("--output", required=True, help="dataset root (the run's output.path)")
    stats.add_argument("--state", help="state folder (default: <output>/_state), for failing feeds")
    stats.add_argument("--by", choices=("source", "day", "language", "feed"), default="source")
    stats.add_argument("--format", choices=("table", "csv", "json"), default="table")
    report = command("report", "write a self-contained HTML report of an output folder")
    report.add_argument("--output", required=True, help="dataset root (the run's output.path)")
    report.add_argument("--state", help="state folder (default: <output>/_state), for feed freshness")
    report.add_argument("--html", required=True, help="the HTML file to write")
    return parser, dict(sub.choices)


def parse_duration(text: str) -> float:
    """Seconds from `90s`, `10m`, `2h`, `1d` (or a bare number of seconds)."""
    try:
        return duration_seconds(text)
    except ValueError as err:
        raise argparse.ArgumentTypeError(str(err)) from None


def _unknown_argument(command: argparse.ArgumentParser, leftovers: list[str], beam: bool) -> str | None:
    """A message for the first argument neither we nor (for run and demo) Beam knows, else None."""
    known = [flag for flag in command._option_string_actions if flag.startswith("--")]
    unknown = leftovers
    if beam:
        from pipeline.run import unknown_beam_options  # imports Beam: only when there is something to check

        unknown, beam_flags = unknown_beam_options(leftovers)
        known += beam_flags
    if not unknown:
        return None
    first = unknown[0]
    if not first.startswith("-"):
        return f"{command.prog}: unexpected argument {first!r}"
    flag = first.split("=", 1)[0]
    bare = {k.lstrip("-"): k for k in known}  # the dashes every flag shares would make anything "close"
    close = difflib.get_close_matches(flag.lstrip("-"), list(bare), n=1, cutoff=0.6)
    return f"{command.prog}: unknown option {flag}" + (f" (did you mean {bare[close[0]]}?)" if close else "")


def _stream(cfg: Config, beam_args: list[str], stop_after: float | None) -> int:
    from pipeline import streaming

    if not streaming.is_local(beam_args):
        streaming.run_unbounded(cfg, beam_args, stop_after)
        return EXIT_OK
    print(f"streaming: a poll cycle every {cfg.streaming.tick_s:g}s"
          + (f" for {stop_after:g}s" if stop_after else " until SIGINT/SIGTERM"), flush=True)
    summary = streaming.run_local(cfg, beam_args, stop_after, say=lambda line: print(line, flush=True),
                                  abandon=_interrupted)
    c = summary.counters
    print(f"stopped ({summary.stopped_by}) after {summary.ticks} ticks: {c['articles_written']} articles, "
          f"{c['rejects_written']} rejects")
    return EXIT_INTERRUPTED if summary.stopped_by == "abandoned" else EXIT_OK


def _import_opml(file: str, write: str | None) -> int:
    from pipeline.sources.opml import OpmlError, opml_to_yaml, parse_opml

    try:
        feeds = parse_opml(Path(file).read_bytes())
    except OSError as err:
        raise ConfigError(f"{file}: cannot read OPML file: {err.strerror or err}") from None
    except OpmlError as err:
        raise ConfigError(f"{file}: {err}") from None
    _warn(feeds.limit_note(file))
    text = opml_to_yaml(feeds)
    if write:
        Path(write).write_text(text, encoding="utf-8")
    else:
        print(text, end="")
    return EXIT_OK


def _discover(args: argparse.Namespace) -> int:
    from pipeline.commands.discover import discovery_yaml, run_discover
    from pipeline.config import HttpConfig, PollingConfig

    cfg = load_with_opml(args.config) if args.config else None
    http, polling = (cfg.http, cfg.polling) if cfg else (HttpConfig(), PollingConfig())
    found = run_discover(args.url, http, polling.respect_robots, args.language)
    text = discovery_yaml(args.url, found)
    if found.chosen is None:
        print(f"news-ingest: {text.lstrip('# ').rstrip()}", file=sys.stderr)
        return EXIT_FAILED
    print(text, end="")
    return EXIT_OK


def _compact(args: argparse.Namespace) -> int:
    from pipeline.commands.compact import compact_output, require_dataset
    from pipeline.config import default_state_path
    from pipeline.io.lock import state_lock

    require_dataset(args.output)  # before the lock, which would create <output>/_state
    with state_lock(args.state or default_state_path(args.output)):
        for line in compact_output(args.output, args.state, args.partition, args.min_age):
            print(line)
    return EXIT_OK


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
    notes: list[str] = []
    merged = with_opml_feeds(config, documents, notes)
    for note in notes:
        _warn(note)
    return merged


def _warn(message: str | None) -> None:
    """A limit the user should know about: logged as a warning and printed on stderr."""
    if message:
        log.warning("%s", message)
        print(f"warning: {message}", file=sys.stderr)


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
    if c["committed_by_another_run"]:
        print(f"  {c['committed_by_another_run']} articles not written: another run on this state folder "
              "had just written them")
    for feed in summary.failing_feeds:
        print(f"  failing: {feed.feed_url}: {feed.last_error} ({feed.consecutive_failures} in a row, "
              f"next try {feed.next_due_at:%Y-%m-%d %H:%M} UTC)")


@contextmanager
def imports_out_of_collection() -> Iterator[None]:
    """For imports that live as long as the process (Beam, pyarrow, trafilatura): no collection
    while they load, as none would free anything (three full ones, 0.14 s), then frozen out of the
    collector's sight, so that no full collection walks them again (2.6 -> 0.8 s of a 10k backlog).
    Once a process: a later run in the same process would also freeze what the earlier ones left
    for the collector."""
    if gc.get_freeze_count():
        yield
        return
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        gc.freeze()
        if enabled:
            gc.enable()


def _run(args: argparse.Namespace, beam_args: list[str], quiet: bool, json_lines: bool) -> int:
    with imports_out_of_collection():
        from pipeline.commands.progress import heartbeat
        from pipeline.io.lock import state_lock
        from pipeline.run import run_batch

    cfg = load_with_opml(args.config).with_paths(output=args.output, state=args.state)
    if args.ignore_schedule:
        cfg = cfg.model_copy(update={"polling": cfg.polling.model_copy(update={"respect_schedule": False})})
    if args.tick:
        cfg = cfg.model_copy(update={"streaming": cfg.streaming.model_copy(update={"tick_s": args.tick})})
    with state_lock(cfg.state_path, wait_s=None if args.wait_lock else 0.0):
        if args.streaming:
            return _stream(cfg, beam_args, args.stop_after)
        terminal = sys.stderr.isatty() and not json_lines
        every = args.progress_every
        if every is None:
            every = 0.0 if quiet else 1.0 if terminal else 30.0
        with heartbeat(every, json_lines=json_lines, redraw=terminal):
            summary = run_batch(cfg, beam_args)
    if not quiet:
        _print_summary(summary)
    return EXIT_FEEDS_FAILED if args.fail_on_feed_errors and summary.failing_feeds else EXIT_OK


def _dispatch(args: argparse.Namespace, beam_args: list[str], quiet: bool) -> int:
    if args.command == "run":
        return _run(args, beam_args, quiet, getattr(args, "log_format", "text") == "json")
    if args.command == "compact":
        return _compact(args)
    if args.command == "import-opml":
        return _import_opml(args.file, args.write)
    if args.command == "discover":
        return _discover(args)
    if args.command == "init":
        from pipeline.commands.init import write_starter

        target = write_starter(args.dir)
        print(f"wrote {target}: edit the feeds and http.user_agent, then: news-ingest run --config {target}")
        return EXIT_OK
    if args.command == "sql":
        from pipeline.commands.sql import run_sql

        print(run_sql(args.query, args.output))
        return EXIT_OK
    if args.command == "stats":
        from pipeline.commands.stats import stats_text

        print(stats_text(args.output, args.by, args.format, args.state))
        return EXIT_OK
    if args.command == "report":
        from pipeline.commands.report import write_report

        print(write_report(args.output, args.html, args.state))
        return EXIT_OK
    if args.command == "migrate":
        from pipeline.commands.migrate import migrate_output

        for line in migrate_output(args.output, args.partition_by):
            print(line)
        return EXIT_OK
    if args.command == "config":
        print(dump_config(load_with_opml(args.config)), end="")
        return EXIT_OK
    if args.command == "feeds":
        print(health_table(load_with_opml(args.config).with_paths(state=args.state)))
        return EXIT_OK
    from pipeline.commands import demo  # Beam loads here: --help and config errors need not wait for it

    if args.serve_only:
        signal.signal(signal.SIGINT, signal.default_int_handler)  # Ctrl-C is how serving ends: exit 0
        demo.serve_forever(args.port)
        return EXIT_OK
    cfg, summary = demo.run_demo(args.output, args.port, beam_args)
    if not quiet:
        _print_summary(summary)
        print(demo.describe_output(cfg))
    return EXIT_OK


INTERRUPTED = "news-ingest: interrupted, nothing half-written; rerun to continue"


def _interrupted(_signum: int = signal.SIGINT, _frame: object = None) -> None:
    """Ctrl-C ends the process at once. Every file appears whole (temporary name, then rename),
    state that says "done" is written after the articles it vouches for, and the kernel drops the
    state lock, so stopping anywhere loses nothing but time. Raising KeyboardInterrupt instead
    would come back out of Beam as a RuntimeError with a traceback logged; Beam's worker threads
    would hold a normal exit up too."""
    print(INTERRUPTED, file=sys.stderr, flush=True)
    sys.stdout.flush()
    os._exit(EXIT_INTERRUPTED)


def main(argv: list[str] | None = None) -> int:
    parser, commands = _parser()
    args, leftovers = parser.parse_known_args(argv)
    quiet = getattr(args, "quiet", False)
    setup_logging(-1 if quiet else getattr(args, "verbose", 0), getattr(args, "log_format", "text"))
    signal.signal(signal.SIGINT, _interrupted)  # `run --streaming` installs its own while it runs
    try:
        if leftovers:
            problem = _unknown_argument(commands[args.command], leftovers, args.command in ("run", "demo"))
            if problem:
                print(f"{problem}\n(see {commands[args.command].prog} --help)", file=sys.stderr)
                return EXIT_USAGE
        return _dispatch(args, leftovers, quiet)
    except KeyboardInterrupt:
        _interrupted()
    except ConfigError as err:
        print(f"news-ingest: {err}", file=sys.stderr)
        return EXIT_USAGE
    except Exception as err:
        from pipeline.io.lock import LockHeld

        if isinstance(err, LockHeld):
            print(f"news-ingest: {err}", file=sys.stderr)
            return EXIT_LOCKED
        if isinstance(err, OSError):
            print(f"news-ingest: {err}", file=sys.stderr)
            return EXIT_FAILED
        # a crash still ends with one readable line; -vv shows the traceback
        log.debug("run failed", exc_info=True)
        print(f"news-ingest: run failed: {type(err).__name__}: {str(err).splitlines()[0] if str(err) else ''}"
              " (rerun with -vv for details)", file=sys.stderr)
        return EXIT_FAILED


if __name__ == "__main__":
    sys.exit(main())
