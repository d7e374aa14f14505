"""Every HTTP decision lives here: timeouts, redirects, size caps, retries, the private-address guard.

    >>> with HttpFetcher(HttpConfig()) as http:          # doctest: +SKIP
    ...     result = http.get("https://example.org/feed.xml", trusted=True)
    >>> result.ok, result.status, len(result.body)      # doctest: +SKIP
    (True, 200, 5120)

Failures are returned, never raised: `FetchResult.error` is a short reason code for the rejects
dataset (`timeout`, `too_large`, `private_address`, `http_404`, ...). Create one fetcher per worker
(in `DoFn.setup`): it holds a connection pool and is not picklable.
"""

from __future__ import annotations

import functools
import ipaddress
import logging
import random
import socket
import threading
import time
import urllib.request
from collections import defaultdict
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import ClassVar
from urllib.parse import urljoin, urlsplit

import httpcore
import httpx

from pipeline.config import HttpConfig
from pipeline.dates import parse_retry_after
from pipeline.fetching import FetchResult
from pipeline.inflate import BadData, CappedInflater, TooLarge
from pipeline.io.deadline import deadline_after, deadline_transport, resolve
from pipeline.urls import origin

_REDIRECTS = {301, 302, 303, 307, 308}
_RETRYABLE_STATUS = {408, 429, 500, 502, 503, 504}
_RETRYABLE_ERRORS = {"connect_error", "connect_timeout", "timeout", "protocol_error"}
_MAX_RETRY_AFTER_S = 30.0


class _Failure(Exception):
    def __init__(self, reason: str, detail: str, status: int | None = None,
                 headers: Mapping[str, str] | None = None):
        super().__init__(detail)
        self.reason, self.detail, self.status, self.headers = reason, detail, status, headers or {}


_NAT64 = ipaddress.IPv6Network("64:ff9b::/96")
_TRANSLATED = ipaddress.IPv6Network("::ffff:0:0:0/96")  # RFC 2765 "IPv4-translated"


def embedded_ipv4(addr: ipaddress.IPv6Address) -> list[ipaddress.IPv4Address]:
    """The IPv4 addresses an IPv6 address carries (and reaches): IPv4-mapped, IPv4-compatible,
    IPv4-translated, NAT64 (64:ff9b::/96), 6to4 (2002::/16), Teredo (2001::/32: server and client)."""
    value = int(addr)
    if addr.ipv4_mapped is not None:
        return [addr.ipv4_mapped]
    if addr in _NAT64 or addr in _TRANSLATED or (value >> 32 == 0 and value > 1):
        return [ipaddress.IPv4Address(value & 0xFFFFFFFF)]
    if addr.sixtofour is not None:
        return [addr.sixtofour]
    if addr.teredo is not None:
        return list(addr.teredo)
    return []


def is_public_address(address: str) -> bool:
    """True when `address` (an IP literal, zone id allowed) is globally routable unicast. An IPv6
    address that embeds an IPv4 one is judged by the IPv4 inside: `::ffff:127.0.0.1`,
    `::7f00:1`, `2002:7f00:1::` and `64:ff9b::7f00:1` all reach 127.0.0.1."""
    addr = ipaddress.ip_address(address.split("%", 1)[0])
    if isinstance(addr, ipaddress.IPv6Address):
        inner = embedded_ipv4(addr)
        if inner:
            return all(v4.is_global and not v4.is_multicast for v4 in inner)
    return addr.is_global and not addr.is_multicast


def is_public_host(host: str, timeout_s: float | None = None) -> bool:
    """True when every address `host` resolves to (within `timeout_s`) is globally routable
    (`is_public_address`).

    Checked before each hop (redirects included). A DNS answer that changes between this check and
    the connection (DNS rebinding) is not caught; run behind an egress firewall if that matters.
    """
    try:
        addresses = resolve(host, None, timeout_s)
    except httpcore.ConnectTimeout as err:
        raise _Failure("dns_error", str(err)) from None
    except httpcore.ConnectError as err:
        raise _Failure("dns_error", str(err)) from None
    return all(is_public_address(address) for address in addresses)


class HostGate:
    """Per-host politeness for a whole process: at most `per_host_concurrency` requests in flight to
    one host, and request starts at least the host's delay apart (`per_host_delay_s`, or a longer
    robots.txt Crawl-delay, capped). One gate per process and configuration (`for_config`), shared
    by every fetcher in it: Beam may run several instances of a DoFn side by side in one worker
    process, and they must not each keep their own clock. Across processes, hosts are routed to one
    worker (ARCHITECTURE.md, "Politeness across workers")."""

    _shared: ClassVar[dict[tuple, HostGate]] = {}
    _shared_lock: ClassVar[threading.Lock] = threading.Lock()

    def __init__(self, per_host_concurrency: int, per_host_delay_s: float, max_crawl_delay_s: float):
        self.per_host_concurrency, self.per_host_delay_s = per_host_concurrency, per_host_delay_s
        self.max_crawl_delay_s = max_crawl_delay_s
        self._lock = threading.Lock()
        self._slots: defaultdict[str, threading.BoundedSemaphore] = defaultdict(
            lambda: threading.BoundedSemaphore(per_host_concurrency))
        self._next_start: dict[str, float] = {}
        self._delay: dict[str, float] = {}

    @classmethod
    def for_config(cls, cfg: HttpConfig) -> HostGate:
        key = (cfg.per_host_concurrency, cfg.per_host_delay_s, cfg.max_crawl_delay_s)
        with cls._shared_lock:
            if key not in cls._shared:
                cls._shared[key] = cls(*key)
            return cls._shared[key]

    def set_delay(self, host: str, seconds: float) -> None:
        with self._lock:
            self._delay[host] = min(seconds, self.max_crawl_delay_s)

    def delay(self, host: str) -> float:
        """Minimum gap between request starts to `host`."""
        return max(self.per_host_delay_s, self._delay.get(host, 0.0))

    def ready_in(self, host: str) -> float:
        """Seconds until a request to `host` could start (0: now); for schedulers deciding what to
        hand to a thread, without reserving anything."""
        with self._lock:
            return max(0.0, self._next_start.get(host, 0.0) - time.monotonic())

    @contextmanager
    def turn(self, host: str) -> Iterator[None]:
        """Hold one of the host's slots and start no sooner than its delay after the previous start."""
        slot = self._slots[host]
        with slot:
            with self._lock:
                now = time.monotonic()
                start = max(now, self._next_start.get(host, now))
                self._next_start[host] = start + self.delay(host)
            if start > now:
                time.sleep(start - now)
            yield


@functools.cache
def _warn_proxy_once() -> None:
    logging.getLogger(__name__).warning(
        "an HTTP(S) proxy is set in the environment: requests go through it, and http.timeout_s bounds "
        "reading the body only, not connecting or the response headers")


class HttpFetcher:
    """A thread-safe polite client: use one per worker and share it between threads."""

    def __init__(self, cfg: HttpConfig):
        self.cfg, self.user_agent = cfg, cfg.user_agent
        self.gate = HostGate.for_config(cfg)
        limits = httpx.Limits(max_connections=cfg.concurrency * 2, max_keepalive_connections=cfg.concurrency)
        # timeout_s bounds the whole exchange, not each read; with a proxy in the environment httpx's
        # own transport is kept (it reads the proxy settings) and the deadline holds for the body only
        proxied = any(k in urllib.request.getproxies() for k in ("http", "https", "all"))
        if proxied:
            _warn_proxy_once()
        self._client = httpx.Client(
            follow_redirects=False,
            timeout=httpx.Timeout(cfg.timeout_s, connect=cfg.connect_timeout_s),
            limits=limits,
            transport=None if proxied else deadline_transport(limits),
            headers={"User-Agent": cfg.user_agent, "Accept-Encoding": "gzip, deflate"},
        )

    def __enter__(self) -> HttpFetcher:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        self._client.close()

    def set_host_delay(self, host: str, seconds: float) -> None:
        """A longer minimum gap for one host, e.g. its robots.txt Crawl-delay (capped)."""
        self.gate.set_delay(host, seconds)

    def get(self, url: str, *, trusted: bool = False, accept: str = "*/*",
            headers: Mapping[str, str] | None = None) -> FetchResult:
        """GET with retries on transient failures. `trusted` (a config-listed URL) skips the
        private-address guard for the URL's own origin (scheme, host and port) only: a redirect to
        any other origin is checked like a discovered link."""
        attempts = self.cfg.retries + 1
        result = FetchResult(url=url, final_url=url)
        for attempt in range(attempts):
            result = self._get_once(url, trusted=trusted, accept=accept, headers=headers or {})
            retryable = result.error in _RETRYABLE_ERRORS or result.status in _RETRYABLE_STATUS
            if not retryable or attempt == attempts - 1:
                break
            delay = self.cfg.backoff_s * (2 ** attempt) * (0.5 + random.random())
            retry_after = parse_retry_after(result.headers.get("retry-after"))
            if retry_after is not None:
                if retry_after > _MAX_RETRY_AFTER_S:
                    break
                delay = max(delay, retry_after)
            time.sleep(delay)
        return result

    def _get_once(self, url: str, *, trusted: bool, accept: str,
                  headers: Mapping[str, str]) -> FetchResult:
        trusted_origin = origin(url) if trusted else None
        current, seen = url, {url}
        try:
            for _ in range(self.cfg.max_redirects + 1):
                status, resp_headers, body, location = self._hop(
                    current, trusted_origin, {"Accept": accept, **headers})
                if location is None:
                    return FetchResult(url, current, status, resp_headers, body)
                nxt = urljoin(current, location)
                if nxt in seen:
                    raise _Failure("redirect_loop", f"redirect loop at {nxt}", status)
                seen.add(nxt)
                current = nxt
            raise _Failure("too_many_redirects", f"more than {self.cfg.max_redirects} redirects")
        except _Failure as f:
            return FetchResult(url, current, f.status, f.headers, None, f.reason, f.detail)

    def _hop(self, url: str, trusted_origin: str | None,
             headers: Mapping[str, str]) -> tuple[int, dict[str, str], bytes, str | None]:
        parts = urlsplit(url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise _Failure("invalid_url", f"not an http(s) URL: {url[:200]}")
        host = parts.hostname
        if (not self.cfg.allow_private_networks and (trusted_origin is None or origin(url) != trusted_origin)
                and not is_public_host(host, self.cfg.connect_timeout_s)):
            raise _Failure("private_address", f"{host} resolves to a non-public address")
        with self.gate.turn(host), deadline_after(self.cfg.timeout_s) as deadline:
            try:
                with self._client.stream("GET", url, headers=headers) as resp:
                    resp_headers = {k.lower(): v for k, v in resp.headers.items()}
                    if resp.status_code in _REDIRECTS and "location" in resp_headers:
                        return resp.status_code, resp_headers, b"", resp_headers["location"]
                    if resp.status_code >= 400:
                        raise _Failure(f"http_{resp.status_code}", f"HTTP {resp.status_code}",
                                       resp.status_code, resp_headers)
                    body = self._read(resp, resp_headers, deadline)
                    return resp.status_code, resp_headers, body, None
            except httpx.ConnectTimeout as err:
                raise _Failure("connect_timeout", str(err) or "connect timed out") from None
            except httpx.TimeoutException as err:
                if time.monotonic() >= deadline:
                    raise _Failure("timeout", f"no complete response within {self.cfg.timeout_s}s") from None
                raise _Failure("timeout", str(err) or "timed out") from None
            except httpx.ConnectError as err:
                reason = "dns_error" if _caused_by(err, socket.gaierror) else "connect_error"
                raise _Failure(reason, str(err) or "connection failed") from None
            except (httpx.RemoteProtocolError, httpx.LocalProtocolError) as err:
                raise _Failure("protocol_error", str(err)) from None
            except (httpx.InvalidURL, httpx.UnsupportedProtocol) as err:
                raise _Failure("invalid_url", str(err)) from None
            except httpx.HTTPError as err:
                raise _Failure("http_error", f"{type(err).__name__}: {err}") from None

    def _read(self, resp: httpx.Response, headers: Mapping[str, str], deadline: float) -> bytes:
        limit = self.cfg.max_bytes
        declared = headers.get("content-length", "")
        if declared.isdigit() and int(declared) > limit and not headers.get("content-encoding"):
            raise _Failure("too_large", f"Content-Length {declared} > {limit}", resp.status_code)
        try:
            inflater = CappedInflater(headers.get("content-encoding", ""), limit)
        except ValueError as err:
            raise _Failure("unsupported_encoding", str(err), resp.status_code) from None
        chunks: list[bytes] = []
        for raw in resp.iter_raw():
            if time.monotonic() > deadline:
                raise _Failure("timeout", f"body not complete within {self.cfg.timeout_s}s",
                               resp.status_code)
            try:
                chunks.append(inflater.feed(raw))
            except TooLarge as err:
                raise _Failure("too_large", f"body {err}", resp.status_code) from None
            except BadData as err:
                raise _Failure("decoding_error", f"bad compressed body: {err}", resp.status_code) from None
        return b"".join(chunks)


def _caused_by(err: BaseException, kind: type[BaseException]) -> bool:
    seen: BaseException | None = err
    while seen is not None:
        if isinstance(seen, kind):
            return True
        seen = seen.__cause__ or seen.__context__
    return False


def read_document(ref: str, base_dir: Path, http: HttpConfig, accept: str = "*/*") -> bytes:
    """A document named in a config (an OPML list, say): an http(s) URL, or a path relative to the
    config's folder. Raises OSError with a message naming `ref`."""
    if ref.startswith(("http://", "https://")):
        with HttpFetcher(http) as fetcher:
            res = fetcher.get(ref, trusted=True, accept=accept)
        if not res.ok or res.body is None:
            raise OSError(f"cannot fetch {ref}: {res.error} {res.detail or ''}".strip())
        return res.body
    try:
        return (base_dir / ref).read_bytes()
    except OSError as err:
        raise OSError(f"cannot read {base_dir / ref}: {err.strerror or err}") from None
