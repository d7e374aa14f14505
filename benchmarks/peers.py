"""The peers: what a user could run instead of news-ingest, on the same loopback corpus.

Both read the same feeds as the pipeline, served under other paths with the sites' names instead of
their addresses (`loopback_names`), the pages themselves from the same servers.

- `trafilatura-cli`: trafilatura's own command line over the feed URLs (`--feed -i feeds.txt
  --parallel N -o DIR`), the same trafilatura release as ours, in a venv of its own. Two settings
  differ from its defaults, both for the loopback corpus: `SSRF_PROTECTION = off` (it refuses
  private addresses, as the pipeline does without `allow_private_networks`) and `SLEEP_TIME`, its
  gap between requests to one host (5 s by default), set to the pipeline's `http.per_host_delay_s`
  so that both are measured at the same politeness. Rows: the non-empty files it wrote (named by a
  hash of their content, so an exact duplicate body is written once).
- `newspaper4k`: `newspaper_runner.py` in its own venv: feeds read with feedparser, then
  `Article(url).download(); parse()` on a thread pool of N; no per-host politeness (it has none).
  Rows: articles with a non-empty body (no body dedup). Image downloads are off.

Each venv is made once under `benchmarks/.venvs/` (git-ignored) and remade when its requirements
change. Every peer process runs with `peer_guard/` on its PYTHONPATH: connections and lookups
beyond loopback fail and are reported (`blocked`), so none of them can reach the internet.
"""

from __future__ import annotations

import importlib.metadata
import os
import re
import shutil
import subprocess
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from corpus import Corpus
from measure import CliRun, run_cli
from render import feed_url
from server import BenchServer

from pipeline.config import HttpConfig

HERE = Path(__file__).resolve().parent
VENVS = HERE / ".venvs"
GUARD = HERE / "peer_guard"
NEWSPAPER = "0.9.6"
_ADDRESS = re.compile(rb"//(127)\.(\d+)\.(\d+)\.(\d+):")


def loopback_names(doc: bytes) -> bytes:
    """`//127.0.1.2:PORT` as `//s127-0-1-2.localhost:PORT` (trafilatura refuses IP hosts); `peer_guard`
    resolves the names back."""
    return _ADDRESS.sub(lambda m: b"//s" + b"-".join(m.groups()) + b".localhost:", doc)


def publish_feeds(corpus: Corpus, server: BenchServer) -> list[str]:
    """The corpus's feeds again, under /peer-feeds/ and with named hosts; their URLs, named too."""
    urls = []
    for site in corpus.sites:
        url = feed_url(site, server.bases)
        peer_url = url.replace("/feeds/", "/peer-feeds/")
        server.publish({peer_url: loopback_names(server.docs[url][0])}, {})
        urls.append(loopback_names(peer_url.encode()).decode())
    return urls


@dataclass(frozen=True)
class Peer:
    name: str
    requirements: tuple[str, ...]
    command: Callable[[Path, Path, Path, int], list[str]]  # (venv, feeds file, work dir, threads) -> argv
    rows: Callable[[Path], tuple[int, int]]  # work dir -> (rows, bytes) of what it wrote


def _pinned(dist: str) -> list[str]:
    """`dist` and its direct dependencies at the versions installed here, so the peer runs the same code."""
    names = [dist, "lxml_html_clean"]  # lxml's html cleaner, which jusText needs and lxml no longer ships
    for req in importlib.metadata.requires(dist) or ():
        if "extra ==" not in req:
            names.append(re.match(r"[A-Za-z0-9._-]+", req)[0])
    return [f"{n}=={importlib.metadata.version(n)}" for n in dict.fromkeys(names)]


def _trafilatura_cmd(venv: Path, feeds: Path, work: Path, threads: int) -> list[str]:
    settings = work / "trafilatura.cfg"
    settings.write_text(f"[DEFAULT]\nSLEEP_TIME = {HttpConfig().per_host_delay_s}\nSSRF_PROTECTION = off\n")
    return [str(venv / "bin" / "trafilatura"), "--feed", "-i", str(feeds), "--parallel", str(threads),
            "-o", str(work / "out"), "--config-file", str(settings)]


def _trafilatura_rows(work: Path) -> tuple[int, int]:
    files = [f for f in (work / "out").rglob("*") if f.is_file() and f.stat().st_size]
    return len(files), sum(f.stat().st_size for f in files)


def _newspaper_cmd(venv: Path, feeds: Path, work: Path, threads: int) -> list[str]:
    return [str(venv / "bin" / "python"), str(HERE / "newspaper_runner.py"), str(feeds), str(work / "out.jsonl"),
            "--threads", str(threads)]


def _newspaper_rows(work: Path) -> tuple[int, int]:
    out = work / "out.jsonl"
    return (sum(1 for _ in out.open(encoding="utf-8")), out.stat().st_size) if out.exists() else (0, 0)


def peers() -> list[Peer]:
    return [Peer("trafilatura-cli", tuple(_pinned("trafilatura")), _trafilatura_cmd, _trafilatura_rows),
            # nlp: nltk, which newspaper4k needs to tokenize Arabic (no data download: nlp() is not called)
            Peer("newspaper4k", (f"newspaper4k[nlp]=={NEWSPAPER}",), _newspaper_cmd, _newspaper_rows)]


def ensure_venv(peer: Peer) -> Path:
    """The peer's venv, made (with pip from the package registry) unless it exists with these requirements."""
    venv, wanted = VENVS / peer.name, "\n".join(peer.requirements) + "\n"
    stamp = venv / "requirements.txt"
    if stamp.exists() and stamp.read_text() == wanted:
        return venv
    print(f"making {venv}: {' '.join(peer.requirements)}", file=sys.stderr, flush=True)
    shutil.rmtree(venv, ignore_errors=True)
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
    subprocess.run([str(venv / "bin" / "python"), "-m", "pip", "install", "-q", "--disable-pip-version-check",
                    *peer.requirements], check=True)
    stamp.write_text(wanted)
    return venv


def run_peer(peer: Peer, feed_urls: list[str], work: Path, threads: int) -> tuple[CliRun, int, int, list[str]]:
    """One run of `peer` over the feeds: the run, rows and bytes it wrote, and what the guard blocked."""
    venv = ensure_venv(peer)
    work = work / peer.name
    work.mkdir(parents=True)
    feeds = work / "feeds.txt"
    feeds.write_text("\n".join(feed_urls) + "\n")
    blocked = work / "blocked.txt"
    env = {**os.environ, "PYTHONPATH": str(GUARD), "NEWS_INGEST_PEER_BLOCKED": str(blocked),
           "TLDEXTRACT_PUBLIC_SUFFIX_LIST_URLS": "",  # tldextract: the bundled suffix list, no download
           "TLDEXTRACT_CACHE": str(work / "tldextract"), "NLTK_DATA": str(work / "nltk_data")}
    run = run_cli(peer.command(venv, feeds, work, threads), cwd=str(work), env=env)
    rows, size = peer.rows(work)
    return run, rows, size, blocked.read_text().splitlines() if blocked.exists() else []
