"""A wall-clock deadline over a whole HTTP exchange: connect, TLS, request, headers and body.

httpx has only per-operation timeouts, and its read timeout restarts with every byte: a server
that trickles its headers one byte a second holds a request far past `timeout_s`. Here every socket
operation on the calling thread is given at most the time left before that thread's deadline (set
by `deadline_after` around the exchange), and fails as a timeout once it has passed. The network
backend wraps httpcore's own, so pooled keep-alive connections obey the deadline of whichever
request reuses them. Name lookups are bounded too (`resolve`): `getaddrinfo` has no timeout, so it
runs on a small thread pool and the caller stops waiting when the time is up.
"""

from __future__ import annotations

import ipaddress
import socket
import threading
import time
from collections.abc import Iterable, Iterator
from concurrent.futures import ThreadPoolExecutor
from concurrent.futures import TimeoutError as FutureTimeout
from contextlib import contextmanager
from typing import Any

import httpcore
import httpx

_local = threading.local()
# A resolver that never answers holds one of these threads, never the request or the run.
_RESOLVER = ThreadPoolExecutor(8, thread_name_prefix="news-ingest-dns")


@contextmanager
def deadline_after(seconds: float) -> Iterator[float]:
    """Every socket operation of this thread inside the block ends by `seconds` from now."""
    previous = getattr(_local, "at", None)
    _local.at = time.monotonic() + seconds
    try:
        yield _local.at
    finally:
        _local.at = previous


def _left(timeout: float | None, error: type[Exception]) -> float | None:
    at = getattr(_local, "at", None)
    if at is None:
        return timeout
    left = at - time.monotonic()
    if left <= 0:
        raise error("deadline passed")
    return left if timeout is None else min(timeout, left)


def resolve(host: str, port: int | None = None, timeout: float | None = None) -> list[str]:
    """The addresses of `host`, within `timeout` and this thread's deadline. Raises
    httpcore.ConnectTimeout when no answer came in time, httpcore.ConnectError (caused by the
    socket.gaierror) when the name does not resolve."""
    left = _left(timeout, httpcore.ConnectTimeout)
    future = _RESOLVER.submit(socket.getaddrinfo, host, port, 0, socket.SOCK_STREAM)
    try:
        infos = future.result(timeout=left)
    except FutureTimeout:
        raise httpcore.ConnectTimeout(f"no DNS answer for {host} within {left:.1f}s") from None
    except socket.gaierror as err:
        raise httpcore.ConnectError(f"cannot resolve {host}: {err.strerror}") from err
    return list(dict.fromkeys(info[4][0] for info in infos))


def _is_address(host: str) -> bool:
    try:
        ipaddress.ip_address(host.strip("[]"))
    except ValueError:
        return False
    return True


class _Stream(httpcore.NetworkStream):
    def __init__(self, inner: httpcore.NetworkStream):
        self._inner = inner

    def read(self, max_bytes: int, timeout: float | None = None) -> bytes:
        return self._inner.read(max_bytes, _left(timeout, httpcore.ReadTimeout))

    def write(self, buffer: bytes, timeout: float | None = None) -> None:
        self._inner.write(buffer, _left(timeout, httpcore.WriteTimeout))

    def close(self) -> None:
        self._inner.close()

    def start_tls(self, ssl_context: Any, server_hostname: str | None = None,
                  timeout: float | None = None) -> httpcore.NetworkStream:
        return _Stream(self._inner.start_tls(ssl_context, server_hostname,
                                             _left(timeout, httpcore.ConnectTimeout)))

    def get_extra_info(self, info: str) -> Any:
        return self._inner.get_extra_info(info)


class _Backend(httpcore.NetworkBackend):
    def __init__(self) -> None:
        self._inner = httpcore.SyncBackend()

    def connect_tcp(self, host: str, port: int, timeout: float | None = None, local_address: str | None = None,
                    socket_options: Iterable[Any] | None = None) -> httpcore.NetworkStream:
        """Each address of `host` in turn (resolved within the deadline); TLS still names `host`."""
        addresses = [host] if _is_address(host) else resolve(host, port, timeout)
        error: Exception = httpcore.ConnectError(f"no address for {host}")
        for address in addresses:
            try:
                return _Stream(self._inner.connect_tcp(address, port, _left(timeout, httpcore.ConnectTimeout),
                                                       local_address, socket_options))
            except httpcore.ConnectError as err:
                error = err
        raise error

    def connect_unix_socket(self, path: str, timeout: float | None = None,
                            socket_options: Iterable[Any] | None = None) -> httpcore.NetworkStream:
        return _Stream(self._inner.connect_unix_socket(path, _left(timeout, httpcore.ConnectTimeout),
                                                       socket_options))

    def sleep(self, seconds: float) -> None:
        self._inner.sleep(seconds)


def deadline_transport(limits: httpx.Limits) -> httpx.HTTPTransport:
    """httpx's own transport over the deadline-aware backend. httpx takes no backend argument, so
    its connection pool is replaced by an equal one built with it (no proxy, HTTP/1.1)."""
    transport = httpx.HTTPTransport(limits=limits)
    transport._pool.close()
    transport._pool = httpcore.ConnectionPool(
        ssl_context=httpx.create_ssl_context(),
        max_connections=limits.max_connections,
        max_keepalive_connections=limits.max_keepalive_connections,
        keepalive_expiry=limits.keepalive_expiry,
        network_backend=_Backend(),
    )
    return transport
