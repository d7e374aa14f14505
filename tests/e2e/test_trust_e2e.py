"""Only config-listed URLs are trusted, by exact origin: sitemap children, redirects and links on
any other origin (another port, another name for the same machine) meet the private-address guard."""

from __future__ import annotations

import time
from pathlib import Path

import pytest
from conftest import query

from pipeline.commands.demo_server import FixtureServer, send
from pipeline.config import parse_config
from pipeline.run import run_batch

NEWS = ('<?xml version="1.0"?><urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9" '
        'xmlns:news="http://www.google.com/schemas/sitemap-news/0.9"><url><loc>{loc}</loc><news:news>'
        "<news:title>Inside</news:title></news:news></url></urlset>")


def _strict(out: Path, feeds: list[dict], **http) -> object:
    return parse_config({"feeds": feeds, "output": {"path": str(out)},
                         "http": {"allow_private_networks": False, "per_host_delay_s": 0, "retries": 0,
                                  "timeout_s": 2, **http}})


def test_sitemap_index_children_on_other_origins_get_no_request(empty_site: FixtureServer, tmp_path: Path) -> None:
    other_site = tmp_path / "other"
    other_site.mkdir()
    with FixtureServer(other_site) as other:
        port = empty_site.base.rsplit(":", 1)[1]
        children = [other.url("child.xml"), f"http://localhost:{port}/child.xml"]
        index = ('<?xml version="1.0"?><sitemapindex xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">'
                 + "".join(f"<sitemap><loc>{c}</loc></sitemap>" for c in children) + "</sitemapindex>")
        empty_site.routes["/index.xml"] = lambda h: send(h, 200, index.encode(), "application/xml")
        child = NEWS.format(loc=empty_site.url("a.html")).encode()
        empty_site.routes["/child.xml"] = lambda h: send(h, 200, child, "application/xml")
        other.routes["/child.xml"] = lambda h: send(h, 200, child, "application/xml")
        run_batch(_strict(tmp_path / "out", [{"url": empty_site.url("index.xml"), "kind": "news_sitemap",
                                              "check_robots": False}]))
    assert other.requests == []
    assert empty_site.requests == ["/index.xml"]
    rejects = query(tmp_path / "out", "SELECT url, reason FROM t ORDER BY url", dataset="rejects")
    assert rejects == sorted((c, "private_address") for c in children)


@pytest.mark.parametrize("respect_robots", [True, False])  # refused by the robots step, or by the fetch
def test_refused_private_links_do_not_wait_for_the_host_delay(empty_site: FixtureServer, tmp_path: Path,
                                                              respect_robots: bool) -> None:
    links = "".join(f"<item><title>Story {i}</title><link>http://10.255.0.1/s/{i}.html</link>"
                    f"<description>Council story number {i}.</description></item>" for i in range(200))
    feed = f'<?xml version="1.0"?><rss version="2.0"><channel><title>T</title>{links}</channel></rss>'
    empty_site.routes["/feed.xml"] = lambda h: send(h, 200, feed.encode(), "application/rss+xml")
    started = time.monotonic()
    cfg = _strict(tmp_path / "out", [{"url": empty_site.url("feed.xml"), "check_robots": False}],
                  per_host_delay_s=0.25)
    summary = run_batch(cfg.model_copy(update={"polling": cfg.polling.model_copy(
        update={"respect_robots": respect_robots})}))
    elapsed = time.monotonic() - started
    assert empty_site.requests == ["/feed.xml"]
    assert query(tmp_path / "out", "SELECT reason, count(*) FROM t GROUP BY reason", dataset="rejects") == [
        ("private_address", 200)]
    assert summary.counters["articles_written"] == 200  # feed text stands in for the refused pages
    assert elapsed < 25  # 200 turns of 0.25 s at one host would be 50 s
