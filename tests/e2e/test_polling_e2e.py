"""Polling behaviour end to end: the real pipeline against loopback servers that count requests
and misbehave on purpose. Every bad item must end as a specific reject, and the run must complete."""

from __future__ import annotations

import gzip
import subprocess
import sys
import time
from datetime import timedelta
from pathlib import Path

import yaml
from conftest import query

from pipeline.commands.demo import demo_config
from pipeline.commands.demo_server import DEMO_DIR, FixtureServer, send
from pipeline.config import parse_config
from pipeline.io.state import read_feed_states
from pipeline.records import utc_now
from pipeline.run import run_batch

PAGE = ("<html><head><title>{t}</title></head><body><article><h1>{t}</h1>"
        + "<p>The harbour council met on Tuesday to agree the winter timetable for the ferries. " * 12
        + "</p></article></body></html>")


def _rss(base: str, items: list[tuple[str, str]]) -> str:
    body = "".join(f"<item><title>{t}</title><link>{base}{path}</link><guid>{path}</guid>"
                   f"<description>Summary of {t}: the council agreed a timetable.</description></item>"
                   for t, path in items)
    return f'<?xml version="1.0"?><rss version="2.0"><channel><title>Test</title>{body}</channel></rss>'


def _config(server: FixtureServer, out: Path, feeds: list[str], **polling) -> object:
    return parse_config({
        "feeds": [{"url": server.url(f), "language": "en"} for f in feeds],
        "output": {"path": str(out)},
        "http": {"allow_private_networks": True, "per_host_delay_s": 0, "retries": 0, "timeout_s": 2,
                 "connect_timeout_s": 1, "max_bytes": 200_000},
        "polling": polling,
    })


def test_rerun_sends_only_conditional_requests_and_fetches_nothing(tmp_path: Path) -> None:
    with FixtureServer(DEMO_DIR / "site") as server:
        cfg = demo_config(server.base, str(tmp_path))
        run_batch(cfg)
        seen_headers: list[str | None] = []
        real = server.serve_file

        def spy(handler):
            if handler.path.startswith("/feeds/"):
                seen_headers.append(handler.headers.get("If-None-Match"))
            real(handler)

        server.serve_file = spy
        server.requests.clear()
        eager = cfg.model_copy(update={"polling": cfg.polling.model_copy(update={"respect_schedule": False})})
        second = run_batch(eager)
    feed_requests = [p for p in server.requests if p.startswith("/feeds/")]
    assert len(feed_requests) == 4
    assert server.requests == feed_requests  # no page, and robots.txt is remembered for a day
    assert len(seen_headers) == 4 and all(seen_headers) and second.counters["feeds_not_modified"] == 4
    assert second.counters["feed_entries"] == 0 and second.counters["articles_written"] == 0


def test_a_feed_listed_twice_is_polled_once(tmp_path: Path) -> None:
    site = tmp_path / "site"
    site.mkdir()
    with FixtureServer(site) as server:
        (site / "feed.xml").write_text(_rss(server.base, [("One", "/a.html")]))
        (site / "a.html").write_text(PAGE.format(t="One"))
        summary = run_batch(_config(server, tmp_path / "out", ["feed.xml", "feed.xml"]))
    assert server.requests.count("/feed.xml") == 1
    assert summary.counters["feeds_polled"] == 1 and summary.counters["articles_written"] == 1


def test_disallowed_paths_get_zero_requests(tmp_path: Path) -> None:
    site = tmp_path / "site"
    site.mkdir()
    (site / "robots.txt").write_text("User-agent: *\nDisallow: /private/\n")
    with FixtureServer(site) as server:
        (site / "feed.xml").write_text(_rss(server.base, [("Open", "/public/a.html"), ("Closed", "/private/b.html")]))
        for path in ("public/a.html", "private/b.html"):
            (site / path).parent.mkdir(exist_ok=True)
            (site / path).write_text(PAGE.format(t=path))
        run_batch(_config(server, tmp_path / "out", ["feed.xml"]))
    assert "/public/a.html" in server.requests
    assert not [p for p in server.requests if p.startswith("/private/")]
    assert query(tmp_path / "out", "SELECT reason, url LIKE '%/private/b.html' FROM t",
                 dataset="rejects") == [("robots_disallowed", True)]
    assert sorted(query(tmp_path / "out", "SELECT body_source FROM t")) == [("feed_summary",), ("page",)]


def test_a_backlog_above_the_limit_is_worked_off_in_several_runs_each_entry_once(tmp_path: Path) -> None:
    site = tmp_path / "site"
    site.mkdir()
    sizes = {"a": 5, "b": 3, "c": 1}
    with FixtureServer(site) as server:
        for feed, n in sizes.items():
            items = [(f"Story {feed}{i}", f"/{feed}/{i}.html") for i in range(n)]
            (site / f"{feed}.xml").write_text(_rss(server.base, items))
            (site / feed).mkdir()
            for i in range(n):
                words = " ".join(f"{feed}{i}w{k}" for k in range(60))
                (site / feed / f"{i}.html").write_text(PAGE.replace("</p>", f" {words}</p>").format(t=f"{feed}{i}"))
        cfg = _config(server, tmp_path / "out", [f"{f}.xml" for f in sizes], max_entries_per_run=4)
        first = run_batch(cfg)
        page_requests = [p for p in server.requests if p.endswith(".html")]
        feed_requests = [p for p in server.requests if p.endswith(".xml")]
        robots_requests = [p for p in server.requests if p == "/robots.txt"]
        server.requests.clear()
        eager = cfg.model_copy(update={"polling": cfg.polling.model_copy(update={"respect_schedule": False})})
        again = run_batch(eager)
    assert first.runs == 3 and first.counters["articles_written"] == 9 and first.counters["entries_deferred"] == 0
    assert sorted(page_requests) == sorted(set(page_requests)) and len(page_requests) == 9
    assert sorted(feed_requests) == ["/a.xml", "/b.xml", "/c.xml"]  # deferred entries wait in the state store
    assert robots_requests == ["/robots.txt"]  # read once by the batch: not by each stage of each run
    assert not list((Path(cfg.state_path) / "backlog").glob("*.parquet"))  # consumed files are deleted
    assert query(tmp_path / "out", "SELECT count(*), count(DISTINCT url), count(DISTINCT run_id) FROM t") == [(9, 9, 3)]
    states = read_feed_states(cfg.state_path)
    assert all(s.etag and s.articles_written_total == sizes[s.feed_url[-5]] for s in states.values())
    assert again.counters["feeds_not_modified"] == 3 and sorted(server.requests) == ["/a.xml", "/b.xml", "/c.xml"]


def test_failing_feed_backs_off_honours_retry_after_and_recovers(tmp_path: Path) -> None:
    with FixtureServer(tmp_path) as server:
        server.routes["/feed.xml"] = lambda h: send(h, 429, b"slow down", "text/plain", {"Retry-After": "7200"})
        cfg = _config(server, tmp_path / "out", ["feed.xml"])
        first = run_batch(cfg)
        state = read_feed_states(cfg.state_path)[server.url("feed.xml")]
        assert first.failing_feeds and state.consecutive_failures == 1 and state.last_error == "http_429"
        assert state.next_due_at - utc_now() > timedelta(hours=1, minutes=55)

        skipped = run_batch(cfg)  # not due: no request at all
        assert skipped.counters["feeds_not_due"] == 1 and server.requests.count("/feed.xml") == 1

        server.routes["/feed.xml"] = lambda h: send(
            h, 200, _rss(server.base, [("Back", "/a.html")]).encode(), "application/rss+xml")
        server.routes["/a.html"] = lambda h: send(h, 200, PAGE.format(t="Back").encode(), "text/html")
        eager = cfg.model_copy(update={"polling": cfg.polling.model_copy(update={"respect_schedule": False})})
        recovered = run_batch(eager)
    state = read_feed_states(cfg.state_path)[server.url("feed.xml")]
    assert recovered.counters["articles_written"] == 1 and not recovered.failing_feeds
    assert state.consecutive_failures == 0 and state.last_success_at is not None
    assert state.articles_written_total == 1


def _trickle(h) -> None:
    h.send_response(200)
    h.send_header("Content-Type", "text/html")
    h.send_header("Content-Length", "100000")
    h.end_headers()
    for _ in range(60):
        h.wfile.write(b"<p>")
        h.wfile.flush()
        time.sleep(0.1)


def _redirect(target: str):
    return lambda h: send(h, 302, b"", "text/plain", {"Location": target})


HOSTILE_PAGES = {
    "/a/refused.html": ("connect_error", None),
    "/a/404.html": ("http_404", lambda h: send(h, 404, b"gone", "text/plain")),
    "/a/500.html": ("http_500", lambda h: send(h, 500, b"oops", "text/plain")),
    "/a/429.html": ("http_429", lambda h: send(h, 429, b"", "text/plain", {"Retry-After": "1"})),
    "/a/trickle.html": ("timeout", _trickle),
    "/a/loop.html": ("redirect_loop", _redirect("/a/loop.html?again")),
    "/a/huge.html": ("too_large", lambda h: send(h, 200, b"<html>" + b"x" * 300_000, "text/html")),
    "/a/bomb.html": ("too_large", lambda h: send(h, 200, gzip.compress(b"<html>" + b" " * 30_000_000),
                                              "text/html", {"Content-Encoding": "gzip"})),
    "/a/image.png": ("not_html", lambda h: send(h, 200, b"\x89PNG\r\n\x1a\n" + b"\0" * 100, "image/png")),
    "/a/empty.html": ("empty_body", lambda h: send(h, 200, b"", "text/html")),
    "/a/blank.html": ("empty_body", lambda h: send(h, 200, b" \r\n\t\n", "text/html")),
}
HOSTILE_FEEDS = {
    "/f/malformed.xml": ("malformed_feed", b'<rss version="2.0"><channel><title>x</title></chan'),
    "/f/bomb.xml": ("unsafe_xml", b'<?xml version="1.0"?><!DOCTYPE r [<!ENTITY a "aaaaaaaaaa">'
                                  b'<!ENTITY b "&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;">]><rss><channel>'
                                  b'<title>&b;</title></channel></rss>'),
    "/f/empty.xml": ("empty_feed", b""),
    "/f/html.xml": ("not_a_feed", b"<html><body><p>Not a feed at all</p></body></html>"),
}


def test_hostile_servers_end_as_specific_rejects_and_the_run_completes(tmp_path: Path) -> None:
    with FixtureServer(tmp_path) as server:
        for path, (_, route) in HOSTILE_PAGES.items():
            if route:
                server.routes[path] = route
        for path, (_, body) in HOSTILE_FEEDS.items():
            server.routes[path] = (lambda b: lambda h: send(h, 200, b, "application/xml"))(body)
        items = [(f"Story {i}", p) for i, p in enumerate(HOSTILE_PAGES)]
        items[0] = (items[0][0], "http://127.0.0.1:9/a/refused.html")  # nothing listens on port 9
        feed = _rss("", [(t, p if p.startswith("http") else server.base + p) for t, p in items])
        server.routes["/f/good.xml"] = lambda h: send(h, 200, feed.encode(), "application/rss+xml")
        started = time.monotonic()
        summary = run_batch(_config(server, tmp_path / "out", ["f/good.xml", *HOSTILE_FEEDS]))
        elapsed = time.monotonic() - started
    rejects = dict(query(tmp_path / "out", "SELECT regexp_extract(url, '/[af]/[^?]*'), reason FROM t",
                         dataset="rejects"))
    expected = {path: reason for path, (reason, _) in {**HOSTILE_PAGES, **HOSTILE_FEEDS}.items()}
    assert rejects == expected
    # (A redirect to a private address is tested in test_http.py: this run must allow loopback, and
    # no test may send traffic to a private address.)
    # Nothing disappears: every entry of the good feed is still an article, from the feed's text.
    assert summary.counters["articles_written"] == len(HOSTILE_PAGES)
    assert summary.counters["feeds_failed"] == len(HOSTILE_FEEDS)
    assert elapsed < 120  # bounded: generous, only catches a hang


def test_json_feed_news_sitemap_and_opml_sources_in_one_run(tmp_path: Path) -> None:
    site = tmp_path / "site"
    site.mkdir()
    with FixtureServer(site) as server:
        b = server.base
        (site / "feed.json").write_text(
            '{"version": "https://jsonfeed.org/version/1.1", "title": "JSON Daily", "items": ['
            f'{{"id": "1", "url": "{b}/j.html", "title": "Ferry timetable agreed", '
            '"date_published": "2026-11-20T10:00:00Z"}]}')
        (site / "news-sitemap.xml").write_text(
            '<?xml version="1.0"?><urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9" '
            'xmlns:news="http://www.google.com/schemas/sitemap-news/0.9">'
            f'<url><loc>{b}/s.html</loc><news:news><news:publication><news:name>Sitemap Times</news:name>'
            '<news:language>en</news:language></news:publication>'
            '<news:publication_date>2026-11-21T08:00:00+01:00</news:publication_date>'
            '<news:title>Harbour dredging begins</news:title></news:news></url></urlset>')
        (site / "o.xml").write_text(_rss(b, [("From OPML", "/o.html")]))
        for name in ("j", "s", "o"):
            (site / f"{name}.html").write_text(PAGE.format(t=f"Page {name}"))
        (tmp_path / "list.opml").write_text(
            '<opml version="2.0"><body><outline text="Local">'
            f'<outline text="OPML feed" xmlUrl="{b}/o.xml"/></outline></body></opml>')
        config = tmp_path / "c.yaml"
        config.write_text(
            f"feeds:\n  - url: {b}/feed.json\n  - url: {b}/news-sitemap.xml\n    kind: news_sitemap\n"
            f"opml: [list.opml]\noutput: {{path: {tmp_path / 'out'}}}\n"
            "http: {allow_private_networks: true, per_host_delay_s: 0}\n")
        proc = subprocess.run([sys.executable, "-m", "pipeline", "run", "--config", str(config)],
                              capture_output=True, text=True, timeout=180)
        assert proc.returncode == 0, proc.stderr
        health = subprocess.run([sys.executable, "-m", "pipeline", "feeds", "--config", str(config)],
                                capture_output=True, text=True, timeout=60)
    rows = query(tmp_path / "out", "SELECT source, url, date_source, tags FROM t ORDER BY url")
    assert [(r[0], r[1].rsplit("/", 1)[1]) for r in rows] == [
        ("JSON Daily", "j.html"), ("OPML feed", "o.html"), ("Sitemap Times", "s.html")]
    assert rows[1][3] == ["Local"]  # the OPML folder became a tag
    assert "3 articles written" in proc.stdout
    table = health.stdout.splitlines()
    assert table[0].split()[:3] == ["feed", "last", "success"] and len(table) == 4
    assert all(" 0 " in line for line in table[1:])  # no failures


def test_import_opml_prints_a_loadable_config(tmp_path: Path) -> None:
    opml = tmp_path / "subs.opml"
    opml.write_text('<opml version="2.0"><body><outline title="World">'
                    '<outline text="Wire" xmlUrl="https://example.org/wire.xml" category="/news/world"/>'
                    '</outline></body></opml>')
    proc = subprocess.run([sys.executable, "-m", "pipeline", "import-opml", str(opml)],
                          capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr
    cfg = parse_config(yaml.safe_load(proc.stdout))
    assert [(str(f.url), f.name, f.tags) for f in cfg.feeds] == [
        ("https://example.org/wire.xml", "Wire", ("World", "news", "world"))]
