"""What earlier runs left for the next one: seen keys, feed states, near-duplicate signatures,
and entries deferred by the per-run cap (`backlog/`).

Seen keys (`<state>/seen/bucket=N/`) are every article's canonical URL key, link key and body hash,
written or dropped, spread over `BUCKETS` folders by a stable hash of the key: the deduplication
step keeps one state cell per bucket and seeds it by reading only that bucket's folder. The
articles dataset stays the source of truth: a seen store that is missing is rebuilt from its
`article_id`/`content_hash` columns (`rebuild_seen`), so losing `<state>` costs refetches, never
duplicate rows.

A state file that does not read (not Parquet, truncated, a bad compressed page) is moved to
`<state>/quarantine/` with a warning naming it where it is read (`quarantine`), and the run goes on
from what can be rebuilt: a seen bucket's keys from the articles at once (`read_seen_bucket`), and
the whole seen store and the signatures of the window at the next run's start (`rebuild_seen`,
`rebuild_signatures`, flagged by a `_rebuild` file in the store); a feed's state falls back to its
previous snapshot (or a first poll); lost backlog entries are fetched again only if their feed
still lists them. The start of a run checks only each file's footer (`check_state`): decoding
every page there would read the stores a second time beside the seeding.
"""

from __future__ import annotations

import json
import logging
import re
import time
import zlib
from collections import defaultdict
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from datetime import date, datetime

import pyarrow as pa
import pyarrow.parquet as pq
from pyarrow import fs as pafs

from pipeline.articles.boilerplate import KEEP_PAGES
from pipeline.articles.neardup import signature
from pipeline.articles.versions import article_of_key, version_key
from pipeline.io.delta import data_files
from pipeline.io.files import write_text_atomically
from pipeline.io.lock import commit_claim
from pipeline.io.parquet import (
    articles_root,
    dataset_files,
    filesystem,
    move_aside,
    read_columns,
    remove_stale_temps,
    verify_file,
    write_atomically,
)
from pipeline.records import FeedEntry, as_row, utc_now
from pipeline.sources.schedule import FeedState
from pipeline.urls import canonicalize_url, url_key

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Store:
    """One state store: a folder under `<state>`, its schema and its partition columns."""

    folder: str
    schema: pa.Schema
    partition_by: tuple[str, ...] = ()

    def root(self, state_path: str) -> str:
        return f"{state_path.rstrip('/')}/{self.folder}"

    def write(self, state_path: str, rows: Iterable[dict], tag: str) -> None:
        """Rows outside Beam (rebuilds, compaction): one new file per partition, each atomic."""
        groups: defaultdict[tuple, list[dict]] = defaultdict(list)
        for row in rows:
            groups[tuple(row[c] for c in self.partition_by)].append(row)
        schema = pa.schema([f for f in self.schema if f.name not in self.partition_by])
        for values, part in groups.items():
            folder = "/".join(f"{c}={v}" for c, v in zip(self.partition_by, values, strict=True))
            write_atomically(self.root(state_path), folder, schema, [pa.Table.from_pylist(part, schema=schema)], tag)


# --- unreadable files: quarantined where they are read ------------------------------------------

_REBUILD = "_rebuild"  # in a store's folder: some of its files went to quarantine since its last rebuild


def quarantine_root(state_path: str) -> str:
    return f"{state_path.rstrip('/')}/quarantine"


def quarantine(state_path: str, file: str, problem: str) -> str | None:
    """Move an unreadable state file to `<state>/quarantine/` with a warning naming it, and flag its
    store for a rebuild; returns the new path (None when another reader moved it first, or the move
    failed: the file is then only skipped)."""
    fsys, base = filesystem(state_path)
    folder = file[len(base):].lstrip("/").split("/", 1)[0] if file.startswith(base) else ""
    try:
        target = move_aside(state_path, file, quarantine_root(state_path))
    except FileNotFoundError:
        return None
    except OSError as err:
        log.warning("state file %s is unreadable (%s) and could not be moved aside (%s): skipped",
                    file, problem, err)
        return None
    log.warning("state file %s is unreadable (%s): moved to %s; the run continues without it",
                file, problem, target)
    if folder in (SEEN.folder, SIGNATURES.folder):
        with fsys.open_output_stream(f"{base}/{folder}/{_REBUILD}") as out:
            out.write(json.dumps({"quarantined": target}).encode())
    return target


def _rebuild_flagged(store: Store, state_path: str) -> bool:
    fsys, base = filesystem(store.root(state_path))
    return fsys.get_file_info(f"{base}/{_REBUILD}").type == pafs.FileType.File


def _rebuilt(store: Store, state_path: str) -> None:
    fsys, base = filesystem(store.root(state_path))
    with suppress(FileNotFoundError):
        fsys.delete_file(f"{base}/{_REBUILD}")


def _read_store_file(state_path: str, root: str, file: str, columns: Sequence[str]) -> list[dict] | None:
    """Some columns of one state file, all or nothing; None when it does not read (it is then
    quarantined) or is gone (moved or consumed meanwhile by another reader or run)."""
    try:
        return list(read_columns(root, file, columns))
    except FileNotFoundError:
        return None
    except (OSError, ValueError, pa.ArrowException) as err:
        quarantine(state_path, file, f"{type(err).__name__}: {err}")
        return None


def _state_of(root: str) -> str:
    """The state folder of a store's root (`Store.root`)."""
    return root.rstrip("/").rsplit("/", 1)[0]


# --- feed states: one JSON snapshot row per poll, newest wins ---------------------------------

FEEDS = Store("feeds", pa.schema([
    pa.field("feed_url", pa.string(), nullable=False),
    pa.field("updated_at", pa.timestamp("us", tz="UTC"), nullable=False),
    pa.field("state", pa.string(), nullable=False),  # FeedState.to_dict() as JSON: evolves freely
    pa.field("run_id", pa.string(), nullable=False),
]))


def feed_state_row(feed: FeedState, run_id: str, updated_at: datetime | None = None) -> dict:
    """A snapshot row; the newest `updated_at` (by default, the poll's time) wins."""
    updated = updated_at or feed.last_polled_at or utc_now()
    return {"feed_url": feed.feed_url, "updated_at": updated, "state": json.dumps(feed.to_dict()), "run_id": run_id}


def read_feed_states(state_path: str) -> dict[str, FeedState]:
    """The latest known state of every feed ever polled (snapshots are appended, newest wins)."""
    root = FEEDS.root(state_path)
    latest: dict[str, tuple] = {}
    for file in dataset_files(root):
        for row in _read_store_file(state_path, root, file, ["feed_url", "updated_at", "state"]) or ():
            if row["feed_url"] not in latest or row["updated_at"] >= latest[row["feed_url"]][0]:
                latest[row["feed_url"]] = (row["updated_at"], row["state"])
    return {url: FeedState.from_dict(json.loads(state)) for url, (_, state) in latest.items()}


def compact_feed_states(state_path: str, run_id: str, max_files: int = 8) -> None:
    """Keep the snapshot folder small: past `max_files` files, rewrite it as one file of latest states."""
    root = FEEDS.root(state_path)
    files = dataset_files(root)
    if len(files) <= max_files:
        return
    rows = [feed_state_row(s, run_id) for s in read_feed_states(state_path).values()]
    write_atomically(root, "", FEEDS.schema, [pa.Table.from_pylist(rows, schema=FEEDS.schema)],
                     f"compacted-{run_id}")
    fsys, _ = filesystem(root)
    for file in files:
        fsys.delete_file(file)


# --- near-duplicate signatures, by day: old days are skipped whole -----------------------------

SIGNATURES = Store("signatures", pa.schema([
    pa.field("article_id", pa.string(), nullable=False),
    pa.field("cluster_id", pa.string(), nullable=False),
    pa.field("published_at", pa.timestamp("us", tz="UTC")),
    pa.field("signature", pa.binary(), nullable=False),  # pipeline.articles.neardup.signature: MinHash values
    pa.field("ingest_date", pa.string(), nullable=False),  # partition column
]), ("ingest_date",))


def signature_files(state_path: str, since: date) -> list[tuple[str, str]]:
    """(root, file) pairs of the signatures written on or after `since`, judged by their folder."""
    root = SIGNATURES.root(state_path)
    files = []
    for file in dataset_files(root):
        day = re.search(r"ingest_date=(\d{4}-\d{2}-\d{2})", file)
        if day is None or date.fromisoformat(day.group(1)) >= since:
            files.append((root, file))
    return files


def read_signatures(root: str, file: str) -> list[dict]:
    return _read_store_file(_state_of(root), root, file,
                            ["article_id", "cluster_id", "published_at", "signature"]) or []


# --- backlog: entries deferred by the per-run cap ---------------------------------------------

BACKLOG = Store("backlog", pa.schema([
    pa.field("feed_url", pa.string(), nullable=False),
    pa.field("link", pa.string(), nullable=False),
    pa.field("entry", pa.string(), nullable=False),  # the FeedEntry as JSON
    pa.field("run_id", pa.string(), nullable=False),
]))


def backlog_row(entry: FeedEntry, run_id: str) -> dict:
    data = {k: v.isoformat() if isinstance(v, datetime) else v for k, v in as_row(entry).items()}
    return {"feed_url": entry.feed_url, "link": entry.link, "entry": json.dumps(data), "run_id": run_id}


def backlog_files(state_path: str) -> list[tuple[str, str]]:
    root = BACKLOG.root(state_path)
    return [(root, file) for file in dataset_files(root)]


def read_backlog(root: str, file: str) -> Iterator[FeedEntry]:
    """Entries a capped run left for later (`pipeline.transforms.backlog`)."""
    for row in _read_store_file(_state_of(root), root, file, ["entry"]) or ():
        data = json.loads(row["entry"])
        for key in ("published_at", "updated_at", "first_seen_at"):
            data[key] = datetime.fromisoformat(data[key]) if data.get(key) else None
        for key in ("authors", "categories", "tags"):
            data[key] = tuple(data[key])
        yield FeedEntry(**data)


def delete_file(root: str, file: str) -> None:
    """A consumed backlog file; one gone already (quarantined, or consumed by another run) is fine."""
    fsys, _ = filesystem(root)
    with suppress(FileNotFoundError):
        fsys.delete_file(file)


# --- seen keys, in hash-bucket folders ---------------------------------------------------------

URL, CONTENT = "url", "content"
VERSION = "version"  # an article's written versions (`pipeline.articles.versions`), bucketed by article_id
BUCKETS = 32  # seen-key state cells (and folders); ARCHITECTURE.md, "Keyed state"

SEEN = Store("seen", pa.schema([
    pa.field("key", pa.string(), nullable=False),
    pa.field("kind", pa.string(), nullable=False),
    pa.field("run_id", pa.string(), nullable=False),
    pa.field("bucket", pa.int32(), nullable=False),  # partition column: bucket_of(key)
]), ("bucket",))


def bucket_of(key: str) -> int:
    """Stable across processes and machines (unlike `hash`)."""
    return zlib.crc32(key.encode()) % BUCKETS


def seen_row(kind: str, key: str, run_id: str) -> dict:
    bucket = bucket_of(article_of_key(key) if kind == VERSION else key)
    return {"kind": kind, "key": key, "run_id": run_id, "bucket": bucket}


def read_seen_bucket(state_path: str, bucket: int, output_path: str | None = None) -> dict[str, set[str]]:
    """kind -> keys of one bucket, everything earlier runs recorded. When one of its files does not
    read (quarantined, by this reader or by another one of the same bucket), the bucket's keys are
    rebuilt from the articles under `output_path` at once and written back, so this run does not
    take those articles for new."""
    root = SEEN.root(state_path)
    keys: defaultdict[str, set[str]] = defaultdict(set)
    lost = False
    for file in dataset_files(f"{root}/bucket={bucket}"):
        rows = _read_store_file(state_path, root, file, ["kind", "key"])
        lost = lost or rows is None
        for row in rows or ():
            keys[row["kind"]].add(row["key"])
    if output_path is not None and lost:
        rows = [row for row in article_seen_rows(output_path, 0.0, "rebuilt") if row["bucket"] == bucket]
        SEEN.write(state_path, rows, f"rebuilt-bucket{bucket}")
        log.warning("seen keys of bucket %d rebuilt from the articles after quarantine: %d keys", bucket, len(rows))
        for row in rows:
            keys[row["kind"]].add(row["key"])
    return keys


# Article files committed before this time (minus a margin for clock skew on remote file systems)
# have their keys in the seen store: the last run that recorded its keys started then.
_COVERED = "_covered.json"
_COVERED_MARGIN_S = 600.0
_LOCAL_MARGIN_S = 5.0  # local files: one clock, but coarse file times on some file systems


def mark_seen_covered(state_path: str, since: float) -> None:
    """After a run's seen keys are written: every article file committed before `since` (the
    run's start) is covered by the seen store."""
    write_text_atomically(f"{SEEN.root(state_path)}/{_COVERED}",
                          json.dumps({"articles_before": since, "versions": True}))


def _covered_until(state_path: str) -> float:
    fsys, base = filesystem(SEEN.root(state_path))
    try:
        with fsys.open_input_stream(f"{base}/{_COVERED}") as handle:
            covered = json.loads(handle.read())
        # a store from before version keys covers none of them: rebuild them once from every file
        return float(covered["articles_before"]) if covered.get("versions") else 0.0
    except (OSError, ValueError, KeyError, TypeError):
        return 0.0


def article_keys(row: dict) -> list[tuple[str, str]]:
    """The seen keys an article (a row: `article_id`, `url`, `content_hash`), written or dropped,
    leaves for later runs: its canonical URL key, its feed link's key and its body hash."""
    keys = [(URL, row["article_id"])]
    if row.get("url"):
        keys.append((URL, url_key(canonicalize_url(row["url"]))))
    if row.get("content_hash"):
        keys.append((CONTENT, row["content_hash"]))
    return keys


def _commit_keys(row: dict) -> list[tuple[str, str]]:
    """What makes two runs' rows one row: a first version by its URL, link and body keys, a later
    version (which shares its article's URL by design) by its article and number."""
    version = row.get("version") or 1
    return [(VERSION, f"{row['article_id']}#{version}")] if version > 1 else article_keys(row)


def article_seen_rows(output_path: str, since: float, run_id: str) -> list[dict]:
    """Seen rows of the article files committed at or after `since` (every file for 0). An
    unreadable article file is skipped with a warning (the articles are the user's data)."""
    root, rows = articles_root(output_path), []
    fsys, _ = filesystem(root)
    files = [info.path for info in fsys.get_file_info(data_files(root))
             if since <= 0 or info.mtime is None or info.mtime.timestamp() >= since]
    for file in files:
        problem = verify_file(root, file)
        if problem:
            log.warning("cannot read article file %s (%s): its seen keys are not rebuilt", file, problem)
            continue
        for row in read_columns(root, file, ["article_id", "content_hash", "url", "version", "cluster_id",
                                             "body_source"]):
            rows.extend(seen_row(kind, key, run_id) for kind, key in article_keys(row))
            rows.append(seen_row(VERSION, version_key(row["article_id"], row.get("version"), row.get("content_hash"),
                                                      row.get("cluster_id"), row.get("body_source")), run_id))
    return rows


def rebuild_seen(output_path: str, state_path: str, run_id: str) -> int:
    """Seen keys of the article files the seen store may not cover: all of them when the store is
    empty (state lost or moved) or flagged (part of it quarantined), else those committed since the
    last run that recorded its keys started (`mark_seen_covered`). A run killed between its
    article files and its seen keys, or one that failed part way, leaves files only this finds: so
    the next run never writes their articles again. Returns the number of keys written."""
    flagged = _rebuild_flagged(SEEN, state_path)
    since = 0.0
    if not flagged and dataset_files(SEEN.root(state_path)):
        since = _covered_until(state_path) - _COVERED_MARGIN_S
    rows = article_seen_rows(output_path, since, run_id)
    SEEN.write(state_path, rows, f"rebuilt-{run_id}")
    if flagged:
        log.warning("seen keys rebuilt from the articles after quarantine: %d keys", len(rows))
        _rebuilt(SEEN, state_path)
    return len(rows)


def rebuild_signatures(output_path: str, state_path: str, run_id: str, window_days: int) -> int:
    """Near-duplicate signatures of the articles committed within `window_days` that the store
    lacks, when it has none (state lost) or some of its files were quarantined: later copies of a
    story then still join its cluster. Signatures that survived are not written again. Judged by
    file time, which is the commit time. Returns the signatures written."""
    root = SIGNATURES.root(state_path)
    stored = dataset_files(root)
    flagged = _rebuild_flagged(SIGNATURES, state_path)
    if window_days <= 0 or (stored and not flagged):
        return 0
    have = {row["article_id"] for file in stored for row in _read_store_file(state_path, root, file, ["article_id"])}
    articles, rows = articles_root(output_path), []
    fsys, _ = filesystem(articles)
    since = time.time() - window_days * 86400
    for info in fsys.get_file_info(data_files(articles)):
        if (info.mtime is not None and info.mtime.timestamp() < since) or verify_file(articles, info.path):
            continue
        day = re.search(r"ingest_date=(\d{4}-\d{2}-\d{2})", info.path)
        ingest_date = day.group(1) if day else (info.mtime or utc_now()).date().isoformat()
        for row in read_columns(articles, info.path, ["article_id", "cluster_id", "published_at", "body"]):
            if row["article_id"] in have:
                continue
            have.add(row["article_id"])
            rows.append({"article_id": row["article_id"], "cluster_id": row.get("cluster_id") or row["article_id"],
                         "published_at": row.get("published_at"), "signature": signature(row.get("body") or ""),
                         "ingest_date": ingest_date})
    SIGNATURES.write(state_path, rows, f"rebuilt-{run_id}")
    if flagged:
        log.warning("near-duplicate signatures rebuilt from the articles after quarantine: %d", len(rows))
        _rebuilt(SIGNATURES, state_path)
    return len(rows)


def _compact_buckets(store: Store, state_path: str, run_id: str, rows: Callable[[int], Iterable[dict]],
                     max_files: int) -> None:
    """Past `max_files` files in a bucket folder of `store` (each run adds one), rewrite it as one
    file of `rows(bucket)`, read before the old files go."""
    root = store.root(state_path)
    fsys, _ = filesystem(root)
    for bucket in range(BUCKETS):
        files = dataset_files(f"{root}/bucket={bucket}")
        if len(files) <= max_files:
            continue
        store.write(state_path, rows(bucket), f"compacted-{run_id}")
        for file in files:
            with suppress(FileNotFoundError):  # quarantined while read
                fsys.delete_file(file)


def compact_seen(state_path: str, run_id: str, output_path: str | None = None, max_files: int = 8) -> None:
    _compact_buckets(SEEN, state_path, run_id, lambda bucket: (
        seen_row(kind, key, run_id) for kind, ks in read_seen_bucket(state_path, bucket, output_path).items()
        for key in ks), max_files)


# --- a run's article files against other runs' on the same state folder ------------------------

@dataclass
class ExclusiveCommit:
    """Article files made visible one at a time per state folder (`lock.commit_claim`), each after
    dropping the rows whose keys an article file of another run committed since `since` (this
    run's start) already holds: two runs on one state folder never write one article twice, even
    with the run lock bypassed. The other runs' files are read once each per worker. Remote state
    has no claim (`lock.commit_claim`), and then no re-read either: without the claim it would
    narrow the race, not close it, for a listing of the whole dataset per file."""

    state_path: str
    output_path: str
    run_id: str
    since: float
    _read: set[str] = field(default_factory=set, repr=False)
    _keys: set[tuple[str, str]] = field(default_factory=set, repr=False)

    @contextmanager
    def new_rows(self, rows: list[dict]) -> Iterator[list[dict]]:
        """Hold the claim for the block, which commits the rows yielded (those no other run wrote)."""
        with commit_claim(self.state_path) as claim:
            if claim is None:
                yield rows
                return
            self._read_others()
            yield [row for row in rows if not any(k in self._keys for k in _commit_keys(row))]

    def _read_others(self) -> None:
        root = articles_root(self.output_path)
        fsys, _ = filesystem(root)
        margin = _COVERED_MARGIN_S if "://" in root and not root.startswith("file://") else _LOCAL_MARGIN_S
        ours = f"part-{self.run_id}-"
        for info in fsys.get_file_info([f for f in dataset_files(root) if f not in self._read]):
            self._read.add(info.path)  # a committed file never changes: judged once
            if info.base_name.startswith(ours) or (info.mtime is not None
                                                   and info.mtime.timestamp() < self.since - margin):
                continue
            try:
                for row in read_columns(root, info.path, ["article_id", "content_hash", "url", "version"]):
                    self._keys.update(_commit_keys(row))
            except (OSError, ValueError, pa.ArrowException) as err:
                log.warning("cannot read article file %s (%s): its rows are not checked against", info.path, err)


# --- boilerplate: the line keys of each site's recent pages ---------------------------------

BOILERPLATE = Store("boilerplate", pa.schema([
    pa.field("domain", pa.string(), nullable=False),
    pa.field("article_id", pa.string(), nullable=False),
    pa.field("line_keys", pa.list_(pa.string()), nullable=False),
    pa.field("seen_at", pa.timestamp("us", tz="UTC"), nullable=False),
    pa.field("run_id", pa.string(), nullable=False),
    pa.field("bucket", pa.int32(), nullable=False),  # partition column: bucket_of(domain)
]), ("bucket",))


def boilerplate_row(domain: str, article_id: str, keys: Iterable[str], seen_at: datetime, run_id: str) -> dict:
    return {"domain": domain, "article_id": article_id, "line_keys": sorted(keys), "seen_at": seen_at,
            "run_id": run_id, "bucket": bucket_of(domain)}


def _newest_pages(state_path: str, bucket: int, keep: int) -> dict[str, dict[str, tuple[datetime, frozenset[str]]]]:
    root = BOILERPLATE.root(state_path)
    newest: defaultdict[str, dict[str, tuple[datetime, frozenset[str]]]] = defaultdict(dict)
    for file in dataset_files(f"{root}/bucket={bucket}"):
        for row in _read_store_file(state_path, root, file, ["domain", "article_id", "line_keys", "seen_at"]) or ():
            pages = newest[row["domain"]]
            known = pages.get(row["article_id"])
            if known is None or row["seen_at"] > known[0]:
                pages[row["article_id"]] = (row["seen_at"], frozenset(row["line_keys"]))
    return {domain: dict(sorted(pages.items(), key=lambda kv: kv[1][0])[-keep:]) for domain, pages in newest.items()}


def read_boilerplate_bucket(state_path: str, bucket: int, keep: int) -> dict[str, dict[str, frozenset[str]]]:
    """domain -> article_id -> line keys, the newest `keep` pages of each site in one bucket."""
    return {domain: {aid: keys for aid, (_, keys) in pages.items()}
            for domain, pages in _newest_pages(state_path, bucket, keep).items()}


def compact_boilerplate(state_path: str, run_id: str, keep: int = KEEP_PAGES, max_files: int = 8) -> None:
    """Keeps the newest `keep` pages per site."""
    _compact_buckets(BOILERPLATE, state_path, run_id, lambda bucket: (
        boilerplate_row(domain, aid, keys, seen_at, run_id)
        for domain, pages in _newest_pages(state_path, bucket, keep).items()
        for aid, (seen_at, keys) in pages.items()), max_files)


# --- start of a run: debris removed, unreadable state quarantined ------------------------------

STORES = (FEEDS, SEEN, SIGNATURES, BACKLOG, BOILERPLATE)


def check_state(state_path: str, output_path: str) -> list[str]:
    """Remove temp files older than a day (state and output) and quarantine every state file whose
    footer does not read (not Parquet, truncated, empty); returns the quarantined files' new paths.
    Only footers: a bad page inside a file is found, and the file quarantined, where it is read."""
    for root in (state_path, output_path):
        for path in remove_stale_temps(root):
            log.info("removed a stale temporary file %s", path)
    moved: list[str] = []
    for store in STORES:
        root = store.root(state_path)
        fsys, _ = filesystem(root)
        for file in dataset_files(root):
            try:
                with fsys.open_input_file(file) as handle:
                    pq.read_metadata(handle)
            except FileNotFoundError:
                continue
            except (OSError, ValueError, pa.ArrowException) as err:
                target = quarantine(state_path, file, f"{type(err).__name__}: {err}")
                if target:
                    moved.append(target)
    return moved
