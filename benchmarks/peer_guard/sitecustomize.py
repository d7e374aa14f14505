"""Loaded by every Python process of a peer run (this folder is on its PYTHONPATH): connections and
name lookups may only reach loopback. Anything else fails as an unreachable network and is
appended to the file named by NEWS_INGEST_PEER_BLOCKED, which the benchmark reports, so a peer that
tries to fetch a suffix list, a tokenizer model or an image from the internet is seen, not hidden.

It also resolves the names `peers.loopback_names` gives the sites (`s127-0-1-2.localhost` is
127.0.1.2): trafilatura's URL checks refuse hosts that are IP addresses.
"""

from __future__ import annotations

import errno
import ipaddress
import os
import re
import socket
from typing import Any

_LOG = os.environ.get("NEWS_INGEST_PEER_BLOCKED", "")
_getaddrinfo = socket.getaddrinfo
_connect = socket.socket.connect
_connect_ex = socket.socket.connect_ex
_NAME = re.compile(r"s(127)-(\d+)-(\d+)-(\d+)\.localhost")


def _loopback(host: object) -> bool:
    if isinstance(host, bytes):
        host = host.decode("ascii", "replace")
    if host in ("localhost", None):
        return True
    try:
        return ipaddress.ip_address(str(host).split("%")[0]).is_loopback
    except ValueError:
        return False


def _block(what: str) -> OSError:
    if _LOG:
        with open(_LOG, "a", encoding="utf-8") as f:
            f.write(f"{os.getpid()} {what}\n")
    return OSError(errno.ENETUNREACH, f"benchmark peers may only reach loopback: {what}")


def getaddrinfo(host: object, *args: Any, **kwargs: Any) -> list:
    if isinstance(host, str) and (name := _NAME.fullmatch(host)):
        host = ".".join(name.groups())
    if not _loopback(host):
        raise _block(f"lookup {host}")
    return _getaddrinfo(host, *args, **kwargs)


def _checked(sock: socket.socket, address: object) -> None:
    if sock.family in (socket.AF_INET, socket.AF_INET6) and not _loopback(address[0]):  # type: ignore[index]
        raise _block(f"connect {address}")


def connect(self: socket.socket, address: object) -> None:
    _checked(self, address)
    return _connect(self, address)


def connect_ex(self: socket.socket, address: object) -> int:
    _checked(self, address)
    return _connect_ex(self, address)


socket.getaddrinfo = getaddrinfo
socket.socket.connect = connect
socket.socket.connect_ex = connect_ex
