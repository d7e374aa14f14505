"""Decompression with an output cap, so a gzip bomb costs at most `limit` bytes (HTTP bodies with
a Content-Encoding, gzipped sitemap files).

    >>> import gzip
    >>> CappedInflater("gzip", 10).feed(gzip.compress(b"x" * 5))
    b'xxxxx'
"""

from __future__ import annotations

import zlib


class TooLarge(ValueError):
    """The output would exceed the cap."""


class BadData(ValueError):
    """Not valid compressed data."""


class CappedInflater:
    """Feed it chunks; it returns their inflated bytes and raises once the total passes `limit`."""

    def __init__(self, encoding: str, limit: int):
        encoding = encoding.strip().lower()
        if encoding in ("gzip", "x-gzip"):
            self._z: zlib._Decompress | None = zlib.decompressobj(16 + zlib.MAX_WBITS)
        elif encoding == "deflate":
            self._z = zlib.decompressobj()
        elif encoding in ("", "identity"):
            self._z = None
        else:
            raise ValueError(f"unsupported encoding {encoding!r}")
        self.limit, self.size = limit, 0

    def feed(self, chunk: bytes) -> bytes:
        if self._z is None:
            out = chunk
        else:
            try:
                out = self._z.decompress(chunk, self.limit - self.size + 1)
            except zlib.error as err:
                raise BadData(f"bad compressed data: {err}") from None
            if self._z.unconsumed_tail:
                raise TooLarge(f"inflates beyond {self.limit} bytes")
        self.size += len(out)
        if self.size > self.limit:
            raise TooLarge(f"exceeds {self.limit} bytes")
        return out
