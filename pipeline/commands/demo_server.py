"""A small HTTP server on 127.0.0.1 for the offline demo and the tests.

Serves `site/<path>` with `{{BASE}}` replaced by the server's own origin, so fixture feeds can hold
absolute links. `routes` maps a path to a handler for behaviour a file cannot show (errors, slow
or oversized bodies), and `requests` records every request path, for tests that count requests.
"""

from __future__ import annotations

import hashlib
import sys
import threading
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

Route = Callable[[BaseHTTPRequestHandler], None]
DEMO_DIR = Path(__file__).parent / "demo_data"

_TYPES = {".xml": "application/xml", ".json": "application/feed+json", ".pdf": "application/pdf",
          ".html": "text/html; charset=utf-8", ".txt": "text/plain; charset=utf-8"}


def content_type_for(name: str) -> str:
    if name.endswith(".cp1256.html"):
        return "text/html"  # no charset: the page's own meta tag has to be found
    return _TYPES.get(Path(name).suffix, "application/octet-stream")


class _QuietServer(ThreadingHTTPServer):
    daemon_threads = True

    def handle_error(self, request: object, client_address: object) -> None:
        """Clients that hang up early are expected (size caps, deadlines): no traceback for them."""
        if not isinstance(sys.exc_info()[1], ConnectionError):
            super().handle_error(request, client_address)


class FixtureServer:
    def __init__(self, site: Path, routes: dict[str, Route] | None = None, port: int = 0,
                 host: str = "127.0.0.1"):
        self.site = site.resolve()
        self.routes: dict[str, Route] = dict(routes or {})
        self.requests: list[str] = []
        server = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_GET(self) -> None:
                server.requests.append(self.path)
                route = server.routes.get(self.path.split("?", 1)[0])
                if route is not None:
                    route(self)
                    return
                server.serve_file(self)

            def log_message(self, *args: object) -> None:
                pass

        self.httpd = _QuietServer((host, port), Handler)
        self.base = f"http://{host}:{self.httpd.server_address[1]}"
        self._thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)

    def serve_file(self, handler: BaseHTTPRequestHandler) -> None:
        path = handler.path.split("?", 1)[0].lstrip("/")
        file = (self.site / path).resolve()
        if not file.is_file() or self.site not in file.parents:
            send(handler, 404, b"not found", "text/plain")
            return
        body = file.read_bytes().replace(b"{{BASE}}", self.base.encode("ascii"))
        etag = f'"{hashlib.sha1(body).hexdigest()[:16]}"'
        if handler.headers.get("If-None-Match") == etag:
            send(handler, 304, b"", content_type_for(file.name), {"ETag": etag})
            return
        send(handler, 200, body, content_type_for(file.name), {"ETag": etag})

    def url(self, path: str) -> str:
        return f"{self.base}/{path.lstrip('/')}"

    def __enter__(self) -> FixtureServer:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


def send(handler: BaseHTTPRequestHandler, status: int, body: bytes, content_type: str,
         headers: dict[str, str] | None = None) -> None:
    handler.send_response(status)
    handler.send_header("Content-Type", content_type)
    handler.send_header("Content-Length", str(len(body)))
    for name, value in (headers or {}).items():
        handler.send_header(name, value)
    handler.end_headers()
    handler.wfile.write(body)
