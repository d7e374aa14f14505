"""Bytes to text for article pages: charset from the header, then the page's meta tag, then detection.

    >>> decode_html("<meta charset='windows-1256'>سلام".encode("cp1256"), "text/html")
    ("<meta charset='windows-1256'>سلام", 'cp1256')
"""

from __future__ import annotations

import codecs
import re

from charset_normalizer import from_bytes

_HEADER_CHARSET = re.compile(r"charset\s*=\s*[\"']?([\w.:-]+)", re.IGNORECASE)
_META_CHARSET = re.compile(rb"<meta[^>]+charset\s*=\s*[\"']?\s*([\w.:-]+)", re.IGNORECASE)
# Defaults that servers send without knowing the page's encoding; the page's own meta tag knows better.
_WEAK_HEADER_CHARSETS = {"iso8859-1", "latin-1", "ascii", "cp1252"}
_BOMS = ((codecs.BOM_UTF8, "utf-8"), (codecs.BOM_UTF16_LE, "utf-16"), (codecs.BOM_UTF16_BE, "utf-16"))
_HTML_TYPES = ("text/html", "application/xhtml+xml")
_HTML_SNIFF = re.compile(rb"^\s*(?:<!--.*?-->\s*)*<(?:!doctype\s+html|html|head|body)", re.IGNORECASE | re.S)


def _codec(name: str | None) -> str | None:
    if not name:
        return None
    try:
        return codecs.lookup(name.strip().strip("\"'")).name
    except LookupError:
        return None


def _strict(body: bytes, codec: str | None) -> str | None:
    if codec is None:
        return None
    try:
        return body.decode(codec)
    except (UnicodeDecodeError, LookupError):
        return None


def decode_html(body: bytes, content_type: str = "") -> tuple[str, str]:
    """Return (text, codec). Never raises: the last resort is UTF-8 with replacement characters."""
    for bom, codec in _BOMS:
        if body.startswith(bom):
            return body[len(bom):].decode(codec, errors="replace"), codec
    match = _HEADER_CHARSET.search(content_type or "")
    header = _codec(match.group(1)) if match else None
    meta_match = _META_CHARSET.search(body[:4096])
    meta = _codec(meta_match.group(1).decode("ascii", "ignore")) if meta_match else None
    order = [meta, header] if header in _WEAK_HEADER_CHARSETS and meta else [header, meta]
    for codec in order:
        text = _strict(body, codec)
        if text is not None:
            return text, codec  # type: ignore[return-value]
    text = _strict(body, "utf-8")
    if text is not None:
        return text, "utf-8"
    best = from_bytes(body[:200_000]).best()
    if best is not None and best.encoding:
        return body.decode(best.encoding, errors="replace"), _codec(best.encoding) or best.encoding
    return body.decode("utf-8", errors="replace"), "utf-8"


# Files servers mislabel as text/html: stored as an article they would be pages of binary noise.
_BINARY_MAGIC = ((b"%PDF-", "a PDF"), (b"\x89PNG\r\n\x1a\n", "a PNG image"), (b"\xff\xd8\xff", "a JPEG image"),
                 (b"GIF87a", "a GIF image"), (b"GIF89a", "a GIF image"), (b"PK\x03\x04", "a zip archive"))


def binary_kind(body: bytes) -> str | None:
    """What a body is when its first bytes are a known binary format's magic, else None."""
    head = body[:16].lstrip()
    return next((kind for magic, kind in _BINARY_MAGIC if head.startswith(magic)), None)


def is_html(content_type: str, body: bytes) -> bool:
    """HTML by declared type unless the bytes are a PDF, image or zip; an absent or generic type is
    decided by sniffing the first bytes."""
    mime = content_type.split(";", 1)[0].strip().lower()
    if binary_kind(body):
        return False
    if mime in _HTML_TYPES:
        return True
    if mime in ("", "application/octet-stream", "text/plain"):
        return bool(_HTML_SNIFF.match(body[:1024]))
    return False
