"""`site:` sources and `news-ingest discover` end to end: loopback sites that offer their feed
each in one way (alternate links with a dead one, only `/feed`, only a robots.txt news sitemap,
nothing at all), the real pipeline, and the CLI in a subprocess."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from contextlib import ExitStack
from pathlib import Path

import pytest
import yaml
from conftest import query

from pipeline.commands.demo_server import FixtureServer, send
from pipeline.config import parse_config
from pipeline.io.state import read_feed_states
from pipeline.run import run_batch

PAGE = ("<html><head><title>{t}</title></head><body><article><h1>{t}</h1>"
        + "<p>{t}: the harbour council met on Tuesday to agree the winter timetable for the ferries. " * 10
        + "</p></article></body></html>")


def _rss(base: str, name: str, n: int) -> bytes:
    items = "".join(f"<item><title>{name} {i}</title><link>{base}/{name}-{i}.html</link>"
                    f"<pubDate>Tue, 24 Nov 2026 10:0{i}:00 GMT</pubDate></item>" for i in range(n))
    return f"<rss version='2.0'><channel><title>{name}</title>{items}</channel></rss>".encode()


def _news_sitemap(base: str, name: str, n: int) -> bytes:
    urls = "".join(f"<url><loc>{base}/{name}-{i}.html</loc><news:news><news:publication><news:name>{name}"
                   "</news:name><news:language>en</news:language></news:publication>"
                   f"<news:publication_date>2026-11-24T10:0{i}:00Z</news:publication_date>"
                   f"<news:title>{name} {i}</news:title></news:news></url>" for i in range(n))
    return ('<urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9" '
            f'xmlns:news="http://www.google.com/schemas/sitemap-news/0.9">{urls}</urlset>').encode()


def _site(tmp: Path, name: str) -> FixtureServer:
    folder = tmp / name
    folder.mkdir()
    server = FixtureServer(folder)
    for i in range(3):
        server.routes[f"/{name}-{i}.html"] = lambda h, t=f"{name} story {i}": send(
            h, 200, PAGE.format(t=t).encode(), "text/html")
    return server


@pytest.fixture
def sites(tmp_path: Path) -> Iterator[dict[str, FixtureServer]]:
    """Four sites, each offering its feed in one way only."""
    with ExitStack() as stack:
        made = {name: stack.enter_context(_site(tmp_path, name)) for name in ("links", "path", "robots", "none")}
        links = made["links"]
        links.routes["/"] = lambda h: send(h, 200, (
            b'<html><head><link rel="alternate" type="application/rss+xml" href="/dead.xml">'
            b'<link rel="alternate" type="application/atom+xml" href="/live.xml"></head><body>Home</body></html>'
        ), "text/html")
        links.routes["/live.xml"] = lambda h: send(h, 200, _rss(links.base, "links", 2), "application/rss+xml")
        links.routes["/feed"] = lambda h: send(h, 200, _rss(links.base, "other", 2), "application/rss+xml")
        path = made["path"]
        path.routes["/"] = lambda h: send(h, 200, b"<html><body>No links here</body></html>", "text/html")
        path.routes["/feed"] = lambda h: send(h, 200, _rss(path.base, "path", 3), "application/rss+xml")
        robots = made["robots"]
        robots.routes["/robots.txt"] = lambda h: send(
            h, 200, f"User-agent: *\nDisallow:\nSitemap: {robots.base}/news-sitemap.xml\n".encode(), "text/plain")
        robots.routes["/news-sitemap.xml"] = lambda h: send(
            h, 200, _news_sitemap(robots.base, "robots", 2), "application/xml")
        made["none"].routes["/"] = lambda h: send(h, 200, b"<html><body>Nothing</body></html>", "text/html")
        yield made


def _config(sites: dict[str, FixtureServer], out: Path) -> object:
    return parse_config({
        "feeds": [{"site": f"{s.base}/", "language": "en"} for s in sites.values()],
        "output": {"path": str(out)},
        "http": {"allow_private_networks": True, "per_host_delay_s": 0, "retries": 0, "timeout_s": 2,
                 "connect_timeout_s": 1},
    })


def test_site_sources_discover_their_feeds_and_poll_them(sites: dict[str, FixtureServer], tmp_path: Path) -> None:
    out = tmp_path / "out"
    cfg = _config(sites, out)
    summary = run_batch(cfg)
    base = {name: s.base for name, s in sites.items()}
    rows = query(out, "SELECT feed_url, count(*) FROM t GROUP BY ALL ORDER BY 1")
    assert sorted(rows) == sorted([(f"{base['links']}/live.xml", 2), (f"{base['path']}/feed", 3),
                                   (f"{base['robots']}/news-sitemap.xml", 2)])
    assert "/dead.xml" in sites["links"].requests and "/feed" not in sites["links"].requests
    assert sites["links"].requests.count("/live.xml") == 1  # the verifying response is the first poll
    assert query(out, "SELECT url, stage, reason FROM t", "rejects") == [(f"{base['none']}/", "poll", "no_feed_found")]
    states = read_feed_states(cfg.state_path)
    assert states[f"{base['robots']}/"].discovered_kind == "news_sitemap"
    assert states[f"{base['links']}/"].articles_written_total == 2  # credited to the site's state
    assert states[f"{base['none']}/"].consecutive_failures == 1 and summary.counters["feeds_failed"] == 1

    for server in sites.values():
        server.requests.clear()
    eager = cfg.model_copy(update={"polling": cfg.polling.model_copy(update={"respect_schedule": False})})
    again = run_batch(eager)
    assert sites["links"].requests == ["/live.xml"]  # the choice is kept: no new probing
    assert again.counters["articles_written"] == 0


def test_discover_prints_yaml_that_loads_as_config(sites: dict[str, FixtureServer]) -> None:
    links = sites["links"]
    proc = subprocess.run([sys.executable, "-m", "pipeline", "discover", f"{links.base}/"],
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    cfg = parse_config(yaml.safe_load(proc.stdout))
    assert [str(f.url) for f in cfg.feeds] == [f"{links.base}/live.xml"] and cfg.feeds[0].name == "links"
    assert "found by link" in proc.stdout

    nothing = subprocess.run([sys.executable, "-m", "pipeline", "discover", f"{sites['none'].base}/"],
                             capture_output=True, text=True, timeout=120)
    assert nothing.returncode == 1 and "no feed found" in nothing.stderr and nothing.stdout == ""
