"""RobotsPolicy against a real loopback server: rules, RFC 9309 status handling, caching, threads."""

from __future__ import annotations

import pickle
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor

import pytest

from pipeline.commands.demo_server import FixtureServer, send
from pipeline.config import HttpConfig
from pipeline.io.http import HttpFetcher
from pipeline.io.robots import MAX_ROBOTS_BYTES, RobotsPolicy, origin_of, product_token, release_shared

UA = "news-ingest/0.1 (+https://github.com/news-ingest/news-ingest)"
CFG = HttpConfig(timeout_s=3, connect_timeout_s=1, retries=0, max_bytes=2_000_000, allow_private_networks=True)
ROBOTS = b"""# comments are fine
User-agent: *
Disallow: /private/
Crawl-delay: 10

User-agent: news-ingest
Disallow: /no-news/
Allow: /no-news/ok
Crawl-delay: 2.5

User-agent: github
Disallow: /

Sitemap: https://example.org/news-sitemap.xml
"""


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def http() -> Iterator[HttpFetcher]:
    with HttpFetcher(CFG) as fetcher:
        yield fetcher


def _serve(server: FixtureServer, status: int, body: bytes = b"", headers: dict | None = None,
           delay: float = 0.0) -> None:
    def handler(h):
        time.sleep(delay)
        send(h, status, body, "text/plain", headers)

    server.routes["/robots.txt"] = handler


def _robots_requests(server: FixtureServer) -> int:
    return sum(1 for path in server.requests if path.startswith("/robots.txt"))


def test_rules_for_our_product_token(empty_site: FixtureServer, http: HttpFetcher) -> None:
    _serve(empty_site, 200, ROBOTS)
    robots = RobotsPolicy(http)
    url = empty_site.url
    assert not robots.allowed(url("/no-news/story"), UA)
    assert robots.allowed(url("/no-news/ok"), UA)
    assert robots.allowed(url("/private/x"), UA)  # our own group replaces the * group
    assert robots.allowed(url("/news/1?x=1"), UA)  # "github" in the UA comment selects nothing
    assert robots.crawl_delay(url("/"), UA) == 2.5
    other = "OtherBot/2.0"
    assert not robots.allowed(url("/private/x"), other) and robots.allowed(url("/no-news/story"), other)
    assert robots.crawl_delay(url("/"), other) == 10
    assert robots.allowed(url("/robots.txt"), "github")
    assert _robots_requests(empty_site) == 1


def test_one_request_per_origin_even_from_many_threads(empty_site: FixtureServer, http: HttpFetcher) -> None:
    _serve(empty_site, 200, ROBOTS, delay=0.3)
    robots = RobotsPolicy(http)
    urls = [empty_site.url(f"/no-news/{i}") for i in range(200)]
    with ThreadPoolExecutor(16) as pool:
        answers = list(pool.map(lambda u: robots.allowed(u, UA), urls))
    assert answers == [False] * 200
    assert _robots_requests(empty_site) == 1
    # another spelling of the host is another origin: one more request, then cached too
    other_origin = empty_site.url("/no-news/1").replace("127.0.0.1", "localhost")
    assert not robots.allowed(other_origin, UA) and not robots.allowed(other_origin + "x", UA)
    assert _robots_requests(empty_site) == 2


@pytest.mark.parametrize("status", [404, 410, 401, 403])
def test_4xx_means_no_rules(empty_site: FixtureServer, http: HttpFetcher, status: int) -> None:
    _serve(empty_site, status, b"User-agent: *\nDisallow: /")  # an error page's body is not rules
    robots = RobotsPolicy(http)
    assert robots.allowed(empty_site.url("/anything"), UA)
    assert robots.crawl_delay(empty_site.url("/anything"), UA) is None
    assert robots.rules(empty_site.url("/")).reason == f"http_{status}"
    assert _robots_requests(empty_site) == 1


@pytest.mark.parametrize("status", [500, 503, 429])
def test_server_errors_mean_disallow_for_now(empty_site: FixtureServer, http: HttpFetcher, status: int) -> None:
    _serve(empty_site, status, b"busy")
    clock = Clock()
    robots = RobotsPolicy(http, error_ttl_s=600, clock=clock)
    assert not robots.allowed(empty_site.url("/news/1"), UA)
    assert not robots.allowed(empty_site.url("/news/2"), UA)
    assert _robots_requests(empty_site) == 1  # the verdict is cached for error_ttl_s
    clock.now += 601
    _serve(empty_site, 200, ROBOTS)
    assert robots.allowed(empty_site.url("/news/1"), UA)  # asked again, and it recovered
    assert _robots_requests(empty_site) == 2


def test_unreachable_host_means_disallow(http: HttpFetcher) -> None:
    robots = RobotsPolicy(http)
    assert not robots.allowed("http://127.0.0.1:9/page", UA)  # nothing listens on the discard port
    assert robots.rules("http://127.0.0.1:9/").reason == "connect_error"


def test_cached_copy_outlives_expiry_while_unreachable(empty_site: FixtureServer, http: HttpFetcher) -> None:
    _serve(empty_site, 200, ROBOTS)
    clock = Clock()
    robots = RobotsPolicy(http, cache_ttl_s=3600, clock=clock)
    assert robots.allowed(empty_site.url("/news/1"), UA)
    clock.now += 3601
    _serve(empty_site, 503, b"down")
    assert robots.allowed(empty_site.url("/news/1"), UA) and not robots.allowed(empty_site.url("/no-news/1"), UA)
    assert robots.rules(empty_site.url("/")).stale
    assert _robots_requests(empty_site) == 2


def test_only_the_first_500_kib_are_read(empty_site: FixtureServer, http: HttpFetcher) -> None:
    filler = b"# padding padding padding padding padding padding padding padding\n" * (MAX_ROBOTS_BYTES // 60)
    body = b"User-agent: *\nDisallow: /early/\n" + filler + b"Disallow: /late/\n"
    assert len(body) > MAX_ROBOTS_BYTES
    _serve(empty_site, 200, body)
    robots = RobotsPolicy(http)
    assert not robots.allowed(empty_site.url("/early/1"), UA)
    assert robots.allowed(empty_site.url("/late/1"), UA)


def test_redirected_robots_is_followed(empty_site: FixtureServer, http: HttpFetcher) -> None:
    empty_site.routes["/robots.txt"] = lambda h: send(h, 301, b"", "text/plain", {"Location": "/real-robots.txt"})
    empty_site.routes["/real-robots.txt"] = lambda h: send(h, 200, b"User-agent: *\nDisallow: /x\n", "text/plain")
    robots = RobotsPolicy(http)
    assert not robots.allowed(empty_site.url("/x/1"), UA) and robots.allowed(empty_site.url("/y"), UA)


def test_request_rate_sets_the_delay(empty_site: FixtureServer, http: HttpFetcher) -> None:
    _serve(empty_site, 200, b"User-agent: *\nRequest-rate: 1/20s\nCrawl-delay: 5\n")
    assert RobotsPolicy(http).crawl_delay(empty_site.url("/"), UA) == 20


def test_trusted_lookup_refetches_after_a_private_address_refusal(empty_site: FixtureServer) -> None:
    _serve(empty_site, 200, b"User-agent: *\nDisallow: /x\n")
    with HttpFetcher(CFG.model_copy(update={"allow_private_networks": False})) as strict:
        robots = RobotsPolicy(strict)
        assert not robots.allowed(empty_site.url("/y"), UA)  # a link found in a feed: guarded
        assert robots.rules(empty_site.url("/")).reason == "private_address"
        assert robots.allowed(empty_site.url("/y"), UA, trusted=True)  # a configured feed's host
        assert not robots.allowed(empty_site.url("/x"), UA)
    assert _robots_requests(empty_site) == 1


def test_non_http_urls_and_pickling() -> None:
    robots = RobotsPolicy(object())  # type: ignore[arg-type] - never used for these
    assert not robots.allowed("ftp://example.org/x", UA) and not robots.allowed("/relative", UA)
    assert robots.crawl_delay("mailto:x@example.org", UA) is None
    with pytest.raises(ValueError):
        robots.rules("javascript:alert(1)")
    with pytest.raises(TypeError, match=r"DoFn\.setup"):
        pickle.dumps(robots)


def test_origin_and_token_helpers() -> None:
    assert origin_of("HTTPS://Example.ORG:443/a?b#c") == ("https://example.org", "https://example.org/robots.txt")
    assert origin_of("http://example.org:8080/a")[1] == "http://example.org:8080/robots.txt"
    assert origin_of("http://[::1]:81/x")[0] == "http://[::1]:81"
    assert origin_of("http://example.org:99999/") is None and origin_of("file:///etc/passwd") is None
    assert product_token(UA) == "news-ingest" and product_token("Googlebot-News") == "googlebot-news"
    assert product_token("  ") == "*"


def test_rules_are_shared_across_threads_without_errors(empty_site: FixtureServer, http: HttpFetcher) -> None:
    _serve(empty_site, 200, ROBOTS)
    robots = RobotsPolicy(http, max_origins=2)
    hosts = ["127.0.0.1", "localhost"]
    errors: list[BaseException] = []

    def worker(i: int) -> None:
        try:
            url = empty_site.url(f"/no-news/{i}").replace("127.0.0.1", hosts[i % 2])
            assert robots.allowed(url, UA) is False
        except BaseException as err:  # collected and re-raised below
            errors.append(err)

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(64)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == [] and _robots_requests(empty_site) == 2


def test_policies_of_one_scope_share_the_files_until_it_is_released(empty_site: FixtureServer,
                                                                     http: HttpFetcher) -> None:
    _serve(empty_site, 200, ROBOTS)
    url = empty_site.url("/news/1")
    with HttpFetcher(CFG) as other:  # as another stage's worker would, with its own client
        assert RobotsPolicy(http, shared="batch-1").allowed(url, UA)
        assert RobotsPolicy(other, shared="batch-1").allowed(url, UA)
        assert _robots_requests(empty_site) == 1
        assert RobotsPolicy(other, shared="batch-2").allowed(url, UA)  # another scope asks again
        assert RobotsPolicy(http).allowed(url, UA)  # and so does an unscoped policy
        assert _robots_requests(empty_site) == 3
        release_shared("batch-1")
        assert RobotsPolicy(http, shared="batch-1").allowed(url, UA)
        assert _robots_requests(empty_site) == 4
    release_shared("batch-1")
    release_shared("batch-2")
