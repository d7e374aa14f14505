"""The corpus served from memory on loopback, one address per site, with a fixed per-request latency.

Each site gets its own address (127.0.1.1, 127.0.1.2, ...: Linux routes all of 127/8 to the loopback
interface) because the pipeline is polite per host (concurrency cap, minimum gap between requests):
a whole corpus on one host would measure that politeness delay, not the pipeline.

Every response carries an ETag and a Last-Modified date; a matching If-None-Match (or, without one,
an If-Modified-Since not older than the document) gets 304, so re-polling an unchanged feed can be
measured. `force_304` answers every feed request with 304 whatever the headers: it shows how the
pipeline handles a 304 it did not ask for. `stats` counts requests by kind.
"""

from __future__ import annotations

import hashlib
import sys
import threading
import time
from collections import Counter
from email.utils import formatdate, parsedate_to_datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from corpus import BASE_DATE

from pipeline.commands.demo_server import send

FEED_TYPE = "application/rss+xml; charset=utf-8"
PAGE_TYPE = "text/html; charset=utf-8"
LAST_MODIFIED = formatdate(BASE_DATE.timestamp() + 200 * 86400, usegmt=True)
ROBOTS = b"User-agent: *\nAllow: /\n"


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    request_queue_size = 256  # the pipeline opens up to 2 x concurrency connections per worker

    def handle_error(self, request: object, client_address: object) -> None:
        """A client closing its keep-alive connections at the end of a run is not an error here."""
        if not isinstance(sys.exc_info()[1], ConnectionError):
            super().handle_error(request, client_address)


def host_address(i: int) -> str:
    return f"127.0.{1 + i // 254}.{1 + i % 254}"


class BenchServer:
    """Serves published documents (absolute URL -> bytes) on `hosts` loopback addresses."""

    def __init__(self, hosts: int, latency_s: float = 0.0):
        self.latency_s = latency_s
        self.force_304 = False
        self.docs: dict[str, tuple[bytes, str, str]] = {}
        self.stats: Counter[str] = Counter()
        self._lock = threading.Lock()
        handler = self._handler()
        self.httpds = [_Server((host_address(i), 0), handler) for i in range(hosts)]
        self.bases = [f"http://{h.server_address[0]}:{h.server_address[1]}" for h in self.httpds]
        self._threads = [threading.Thread(target=h.serve_forever, daemon=True) for h in self.httpds]

    def publish(self, feeds: dict[str, bytes], pages: dict[str, bytes]) -> None:
        for docs, ctype in ((feeds, FEED_TYPE), (pages, PAGE_TYPE)):
            for url, body in docs.items():
                self.docs[url] = (body, ctype, f'"{hashlib.sha1(body).hexdigest()[:16]}"')

    def take_stats(self) -> dict[str, int]:
        """Counts since the last call; each scenario reads its own."""
        with self._lock:
            stats, self.stats = dict(self.stats), Counter()
        return stats

    def _count(self, *keys: str, sent: int = 0) -> None:
        with self._lock:
            self.stats.update(("requests", *keys))
            self.stats["bytes_sent"] += sent

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        server = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_GET(self) -> None:
                server.respond(self)

            def log_message(self, *args: object) -> None:
                pass

        return Handler

    def respond(self, h: BaseHTTPRequestHandler) -> None:
        time.sleep(self.latency_s)
        path = h.path.split("?", 1)[0]
        if path == "/robots.txt":
            self._count("robots_requests", sent=len(ROBOTS))
            send(h, 200, ROBOTS, "text/plain")
            return
        host, port = h.server.server_address[:2]
        doc = self.docs.get(f"http://{host}:{port}{path}")
        if doc is None:
            self._count("not_found")
            send(h, 404, b"not found", "text/plain")
            return
        body, ctype, etag = doc
        kind = ["feed_requests" if ctype == FEED_TYPE else "page_requests"]
        if "If-None-Match" in h.headers or "If-Modified-Since" in h.headers:
            kind.append("conditional")
        if (ctype == FEED_TYPE and self.force_304) or _not_modified(h, etag):
            self._count(*kind, "not_modified")
            h.send_response(304)
            h.send_header("ETag", etag)
            h.end_headers()
            return
        self._count(*kind, sent=len(body))
        send(h, 200, body, ctype, {"ETag": etag, "Last-Modified": LAST_MODIFIED})

    def __enter__(self) -> BenchServer:
        for t in self._threads:
            t.start()
        return self

    def __exit__(self, *exc: object) -> None:
        # shutdown() waits up to serve_forever's 0.5 s poll interval: stop all servers at once
        stoppers = [threading.Thread(target=h.shutdown) for h in self.httpds]
        for t in stoppers:
            t.start()
        for t, h in zip(stoppers, self.httpds, strict=True):
            t.join()
            h.server_close()


def _not_modified(h: BaseHTTPRequestHandler, etag: str) -> bool:
    if (tags := h.headers.get("If-None-Match")) is not None:
        return etag in tags or tags.strip() == "*"
    if since := h.headers.get("If-Modified-Since"):
        try:
            return parsedate_to_datetime(since) >= parsedate_to_datetime(LAST_MODIFIED)
        except (TypeError, ValueError):
            return False
    return False
