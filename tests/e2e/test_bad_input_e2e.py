"""One bad character never stops a run: real pipelines over loopback feeds that carry lone
surrogates and invalid bytes. The run completes, the rest is written, the bad entry is a reject."""

from __future__ import annotations

import json
from pathlib import Path

from conftest import query

from pipeline.commands.demo_server import FixtureServer, send
from pipeline.config import parse_config
from pipeline.run import run_batch

PAGE = ("<html><head><title>{t}</title></head><body><article><h1>{t}</h1>"
        + "<p>The harbour council met on Tuesday to agree the winter timetable for the ferries. " * 12
        + "</p></article></body></html>")


def _config(server: FixtureServer, out: Path, feeds: list[str]) -> object:
    return parse_config({
        "feeds": [{"url": server.url(f)} for f in feeds],
        "output": {"path": str(out)},
        "http": {"allow_private_networks": True, "per_host_delay_s": 0, "retries": 0, "timeout_s": 2,
                 "connect_timeout_s": 1},
    })


def _rss(base: str, items: list[tuple[str, str]], language: str = "en") -> bytes:
    body = "".join(f"<item><title>{t}</title><link>{base}{path}</link><guid>{base}{path}</guid>"
                   f"<description>About {t}.</description></item>" for t, path in items)
    return (f'<?xml version="1.0" encoding="utf-8"?><rss version="2.0"><channel><title>T</title>'
            f"<language>{language}</language>{body}</channel></rss>").encode()


def _page(server: FixtureServer, path: str, title: str) -> None:
    server.routes[path] = lambda h: send(h, 200, PAGE.format(t=title).encode(), "text/html; charset=utf-8")


def test_lone_surrogate_in_one_entry_rejects_that_entry_and_the_run_completes(empty_site, tmp_path) -> None:
    s = empty_site
    bad = _rss(s.base, [("Broken &#xD800; title", "/bad/a&#xD800;.html"), ("Same feed fine", "/bad/b.html")])
    s.routes["/bad.xml"] = lambda h: send(h, 200, bad, "application/rss+xml")
    s.routes["/good.xml"] = lambda h: send(h, 200, _rss(s.base, [("Good one", "/good/1.html"),
                                                                 ("Good two", "/good/2.html")]), "application/rss+xml")
    for path, title in (("/bad/b.html", "Same feed fine"), ("/good/1.html", "Good one"), ("/good/2.html", "Good two")):
        _page(s, path, title)
    summary = run_batch(_config(s, tmp_path / "out", ["bad.xml", "good.xml"]))
    assert summary.counters["articles_written"] == 3
    assert sorted(query(tmp_path / "out", "SELECT title FROM t")) == [("Good one",), ("Good two",), ("Same feed fine",)]
    rejects = query(tmp_path / "out", "SELECT reason, feed_url FROM t", dataset="rejects")
    assert rejects == [("parse_error", s.url("bad.xml"))]
    assert not [p for p in s.requests if p.startswith("/bad/a")]


def test_json_feed_with_lone_surrogates_in_author_and_tag_writes_its_row(empty_site, tmp_path) -> None:
    s = empty_site
    doc = {"version": "https://jsonfeed.org/version/1.1", "title": "J", "items": [
        {"id": "1", "url": s.url("j/1.html"), "title": "Jay one", "authors": [{"name": "Ann\ud800"}],
         "tags": ["ports\udc00"], "content_text": "The port reopened."}]}
    s.routes["/feed.json"] = lambda h: send(h, 200, json.dumps(doc).encode(), "application/feed+json")
    _page(s, "/j/1.html", "Jay one")
    summary = run_batch(_config(s, tmp_path / "out", ["feed.json"]))
    assert summary.counters["articles_written"] == 1
    assert query(tmp_path / "out", "SELECT title, authors, categories FROM t") == [
        ("Jay one", ["Ann\ufffd"], ["ports\ufffd"])]


def test_invalid_byte_in_a_utf8_arabic_feed_keeps_the_other_titles(empty_site, tmp_path) -> None:
    s = empty_site
    titles = ["افتتاح مكتبة عامة جديدة", "ارتفاع صادرات الميناء BAD هذا العام", "إعادة فتح طريق الجبل"]
    body = _rss(s.base, [(t, f"/ar/{i}.html") for i, t in enumerate(titles)], "ar").replace(b"BAD", b"\xff")
    s.routes["/ar.xml"] = lambda h: send(h, 200, body, "application/rss+xml")
    for i in range(len(titles)):
        s.routes[f"/ar/{i}.html"] = lambda h: send(h, 404, b"gone", "text/plain")  # feed text is the body
    run_batch(_config(s, tmp_path / "out", ["ar.xml"]))
    written = {t for (t,) in query(tmp_path / "out", "SELECT title FROM t")}
    assert written == {titles[0], titles[1].replace("BAD", "\ufffd"), titles[2]}


def test_a_pdf_served_as_html_is_a_not_html_reject_and_the_feed_text_stands_in(empty_site, tmp_path) -> None:
    s = empty_site
    s.routes["/feed.xml"] = lambda h: send(h, 200, _rss(s.base, [("Annual report", "/report")]), "application/rss+xml")
    s.routes["/report"] = lambda h: send(h, 200, b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n" + b"\0stream" * 200,
                                         "text/html; charset=utf-8")
    run_batch(_config(s, tmp_path / "out", ["feed.xml"]))
    assert query(tmp_path / "out", "SELECT title, body_source FROM t") == [("Annual report", "feed_summary")]
    [(reason, detail)] = query(tmp_path / "out", "SELECT reason, detail FROM t", dataset="rejects")
    assert reason == "not_html" and "a PDF" in detail
