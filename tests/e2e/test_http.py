"""HttpFetcher against a real loopback server that misbehaves on purpose."""

from __future__ import annotations

import gzip
import time
from concurrent.futures import ThreadPoolExecutor

import pytest
from conftest import TrickleServer

from pipeline.commands.demo_server import FixtureServer, send
from pipeline.config import HttpConfig
from pipeline.dates import parse_retry_after
from pipeline.io.http import HttpFetcher

CFG = HttpConfig(timeout_s=2, connect_timeout_s=1, max_bytes=50_000, retries=0, per_host_delay_s=0,
                 allow_private_networks=True)


def _fetch(server: FixtureServer, path: str, cfg: HttpConfig = CFG, **kw):
    with HttpFetcher(cfg) as http:
        return http.get(server.url(path), **kw)


def test_ok_body_and_headers(empty_site: FixtureServer) -> None:
    empty_site.routes["/a"] = lambda h: send(h, 200, "<p>مرحبا</p>".encode(), "text/html; charset=utf-8")
    res = _fetch(empty_site, "/a")
    assert res.ok and res.status == 200 and res.body.decode() == "<p>مرحبا</p>"
    assert res.content_type.startswith("text/html")


@pytest.mark.parametrize("status", [404, 410, 500])
def test_http_errors_are_reasons(empty_site: FixtureServer, status: int) -> None:
    empty_site.routes["/e"] = lambda h: send(h, status, b"nope", "text/plain")
    res = _fetch(empty_site, "/e")
    assert not res.ok and res.error == f"http_{status}" and res.status == status


def test_declared_oversize_body_is_refused(empty_site: FixtureServer) -> None:
    empty_site.routes["/big"] = lambda h: send(h, 200, b"x" * 60_000, "text/html")
    assert _fetch(empty_site, "/big").error == "too_large"


def test_undeclared_oversize_body_stops_reading(empty_site: FixtureServer) -> None:
    def chunked(h):
        h.send_response(200)
        h.send_header("Content-Type", "text/html")
        h.send_header("Connection", "close")
        h.end_headers()
        for _ in range(100):
            h.wfile.write(b"y" * 10_000)

    empty_site.routes["/stream"] = chunked
    assert _fetch(empty_site, "/stream").error == "too_large"


def test_gzip_bomb_is_capped(empty_site: FixtureServer) -> None:
    bomb = gzip.compress(b"\0" * 20_000_000)
    empty_site.routes["/bomb"] = lambda h: send(h, 200, bomb, "text/html", {"Content-Encoding": "gzip"})
    assert len(bomb) < CFG.max_bytes
    assert _fetch(empty_site, "/bomb").error == "too_large"


def test_gzip_body_is_decoded(empty_site: FixtureServer) -> None:
    page = b"<html>" + b"hello " * 1000 + b"</html>"
    empty_site.routes["/gz"] = lambda h: send(h, 200, gzip.compress(page), "text/html", {"Content-Encoding": "gzip"})
    assert _fetch(empty_site, "/gz").body == page


def test_redirects_followed_loops_and_chains_refused(empty_site: FixtureServer) -> None:
    empty_site.routes["/r1"] = lambda h: send(h, 301, b"", "text/plain", {"Location": "/r2"})
    empty_site.routes["/r2"] = lambda h: send(h, 302, b"", "text/plain", {"Location": "/ok"})
    empty_site.routes["/ok"] = lambda h: send(h, 200, b"fine", "text/plain")
    empty_site.routes["/loop"] = lambda h: send(h, 302, b"", "text/plain", {"Location": "/loop2"})
    empty_site.routes["/loop2"] = lambda h: send(h, 302, b"", "text/plain", {"Location": "/loop"})
    res = _fetch(empty_site, "/r1")
    assert res.ok and res.final_url.endswith("/ok") and res.body == b"fine"
    assert _fetch(empty_site, "/loop").error == "redirect_loop"
    assert _fetch(empty_site, "/r1", CFG.model_copy(update={"max_redirects": 1})).error == "too_many_redirects"


def test_trickling_server_hits_total_deadline(empty_site: FixtureServer) -> None:
    def trickle(h):
        h.send_response(200)
        h.send_header("Content-Type", "text/html")
        h.send_header("Content-Length", "1000")
        h.end_headers()
        for _ in range(40):  # one byte every 0.1 s: each read is fast, the whole is not
            h.wfile.write(b"x")
            h.wfile.flush()
            time.sleep(0.1)

    empty_site.routes["/slow"] = trickle
    started = time.monotonic()
    res = _fetch(empty_site, "/slow", CFG.model_copy(update={"timeout_s": 1.0}))
    assert res.error == "timeout"
    assert time.monotonic() - started < 3.5


def test_trickled_headers_hit_the_total_deadline(trickle_server: TrickleServer) -> None:
    cfg = HttpConfig(timeout_s=2, retries=0, allow_private_networks=True)
    started = time.monotonic()
    with HttpFetcher(cfg) as http:
        res = http.get(trickle_server.url("/feed.xml"))
    elapsed = time.monotonic() - started
    assert res.error == "timeout" and "within 2" in (res.detail or "")
    assert elapsed < cfg.timeout_s + 1.5
    assert trickle_server.connections == 1


def test_connection_refused_is_a_reason() -> None:
    with HttpFetcher(CFG) as http:
        res = http.get("http://127.0.0.1:9/")  # discard port: nothing listens
    assert res.error == "connect_error"


def test_private_addresses_refused_unless_trusted_or_allowed(empty_site: FixtureServer) -> None:
    empty_site.routes["/p"] = lambda h: send(h, 200, b"secret", "text/plain")
    strict = CFG.model_copy(update={"allow_private_networks": False})
    assert _fetch(empty_site, "/p", strict).error == "private_address"
    assert _fetch(empty_site, "/p", strict, trusted=True).ok
    assert _fetch(empty_site, "/p").ok


def test_trust_is_by_origin_so_a_redirect_elsewhere_is_checked(empty_site: FixtureServer, tmp_path) -> None:
    (tmp_path / "other").mkdir()
    with FixtureServer(tmp_path / "other") as other:
        other.routes["/secret"] = lambda h: send(h, 200, b"secret", "text/plain")
        port = empty_site.base.rsplit(":", 1)[1]
        empty_site.routes["/same"] = lambda h: send(h, 302, b"", "text/plain", {"Location": "/p"})
        empty_site.routes["/p"] = lambda h: send(h, 200, b"fine", "text/plain")
        empty_site.routes["/port"] = lambda h: send(h, 302, b"", "text/plain", {"Location": other.url("secret")})
        empty_site.routes["/name"] = lambda h: send(h, 302, b"", "text/plain",
                                                    {"Location": f"http://localhost:{port}/p"})
        strict = CFG.model_copy(update={"allow_private_networks": False})
        assert _fetch(empty_site, "/same", strict, trusted=True).body == b"fine"
        assert _fetch(empty_site, "/port", strict, trusted=True).error == "private_address"
        assert _fetch(empty_site, "/name", strict, trusted=True).error == "private_address"
    assert other.requests == []


def test_redirect_to_private_address_refused(empty_site: FixtureServer) -> None:
    # A trusted (configured) URL may live on loopback; where it redirects to is checked again.
    empty_site.routes["/go"] = lambda h: send(h, 302, b"", "text/plain", {"Location": "http://10.0.0.1/x"})
    strict = CFG.model_copy(update={"allow_private_networks": False})
    assert _fetch(empty_site, "/go", strict, trusted=True).error == "private_address"


def test_retries_transient_failures(empty_site: FixtureServer) -> None:
    calls = []

    def flaky(h):
        calls.append(1)
        if len(calls) < 3:
            send(h, 503, b"busy", "text/plain", {"Retry-After": "0"})
        else:
            send(h, 200, b"ok", "text/plain")

    empty_site.routes["/flaky"] = flaky
    res = _fetch(empty_site, "/flaky", CFG.model_copy(update={"retries": 2, "backoff_s": 0.01}))
    assert res.ok and len(calls) == 3


def test_retry_after_parsing() -> None:
    assert parse_retry_after("120") == 120.0
    assert parse_retry_after("Wed, 21 Oct 2015 07:28:00 GMT") == 0.0
    assert parse_retry_after("soon") is None and parse_retry_after(None) is None


def test_requests_to_one_host_are_spaced(empty_site: FixtureServer) -> None:
    starts: list[float] = []

    def stamp(h):
        starts.append(time.monotonic())
        send(h, 200, b"ok", "text/plain")

    empty_site.routes["/t"] = stamp
    cfg = CFG.model_copy(update={"per_host_delay_s": 0.2, "per_host_concurrency": 4})
    with HttpFetcher(cfg) as http, ThreadPoolExecutor(4) as pool:
        assert all(r.ok for r in pool.map(lambda _: http.get(empty_site.url("/t")), range(4)))
    # Four starts at least 0.2 s apart span 0.6 s at the client; without spacing they span ~0.01 s.
    # Checked loosely, since the server's threads may note a start late on a loaded machine.
    assert len(starts) == 4 and starts[-1] - starts[0] >= 0.4


def test_dns_failure_is_its_own_reason(monkeypatch: pytest.MonkeyPatch) -> None:
    # Name resolution cannot fail for real without asking a DNS server, so only that is faked.
    import socket

    real = socket.getaddrinfo

    def fake(host, *args, **kwargs):
        if host == "no-such-host.test":
            raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")
        return real(host, *args, **kwargs)

    monkeypatch.setattr(socket, "getaddrinfo", fake)
    with HttpFetcher(CFG) as http:
        assert http.get("http://no-such-host.test/feed.xml").error == "dns_error"
    strict = CFG.model_copy(update={"allow_private_networks": False})
    with HttpFetcher(strict) as http:
        assert http.get("http://no-such-host.test/feed.xml").error == "dns_error"


def test_connect_timeout_against_a_full_listen_queue() -> None:
    import socket

    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(0)  # never accepted: once the queue is full, new connections hang in SYN
    port = server.getsockname()[1]
    fillers = []
    try:
        for _ in range(4):
            c = socket.socket()
            c.setblocking(False)
            c.connect_ex(("127.0.0.1", port))
            fillers.append(c)
        time.sleep(0.2)
        started = time.monotonic()
        with HttpFetcher(CFG.model_copy(update={"connect_timeout_s": 0.5})) as http:
            res = http.get(f"http://127.0.0.1:{port}/")
        assert res.error in ("connect_timeout", "timeout")
        assert time.monotonic() - started < 5
    finally:
        for c in fillers:
            c.close()
        server.close()



@pytest.mark.timeout(60)
@pytest.mark.parametrize("allow_private", [True, False])  # the connection's lookup, and the guard's
def test_a_resolver_that_never_answers_costs_at_most_the_deadline(monkeypatch: pytest.MonkeyPatch,
                                                                  allow_private: bool) -> None:
    import socket
    import threading

    real, released = socket.getaddrinfo, threading.Event()

    def hanging(host, *args, **kwargs):
        if host == "silent-dns.test":
            released.wait(30)  # a resolver that does not answer
            raise socket.gaierror(socket.EAI_AGAIN, "Temporary failure in name resolution")
        return real(host, *args, **kwargs)

    monkeypatch.setattr(socket, "getaddrinfo", hanging)
    cfg = CFG.model_copy(update={"allow_private_networks": allow_private, "timeout_s": 2.0,
                                 "connect_timeout_s": 1.5, "retries": 0})
    try:
        with HttpFetcher(cfg) as http:
            started = time.monotonic()
            result = http.get("http://silent-dns.test/feed.xml")
            took = time.monotonic() - started
    finally:
        released.set()
    assert result.error in ("dns_error", "connect_timeout", "timeout") and took < 2.0 + 1.5, (result, took)
