"""Byte-level repairs before a parser sees a feed document, so one bad byte or character reference
damages its own entry only.

feedparser decodes a document whole: one invalid byte in a UTF-8 feed makes it fall back to
windows-1252 for every entry (an Arabic feed turns to mojibake), and a character reference to a
lone surrogate (`&#xD800;`) or beyond U+10FFFF raises inside its parser. Both are rewritten here to
U+FFFD, which the entry then carries (a link carrying it is rejected by the parser).
"""

from __future__ import annotations

import re

from pipeline.text import is_xml_char

_CHAR_REF = re.compile(rb"&#(x[0-9a-fA-F]+|[0-9]+);")
_XML_ENCODING = re.compile(rb"""^\s*<\?xml[^>]*?encoding\s*=\s*["']([A-Za-z0-9._-]+)["']""")
_CHARSET = re.compile(r"charset\s*=\s*[\"']?([A-Za-z0-9._-]+)", re.IGNORECASE)
_UTF8_NAMES = {"utf-8", "utf8"}


def _bad_ref(match: re.Match[bytes]) -> bytes:
    ref = match.group(1)
    cp = int(ref[1:], 16) if ref[:1] == b"x" else int(ref)
    return match.group() if is_xml_char(cp) else b"&#xFFFD;"


def neutralize_char_refs(data: bytes) -> bytes:
    """Character references to code points XML forbids become `&#xFFFD;`."""
    return _CHAR_REF.sub(_bad_ref, data) if b"&#" in data else data


def _declared_encoding(data: bytes, content_type: str) -> str | None:
    charset = _CHARSET.search(content_type or "")
    if charset:
        return charset.group(1).lower()
    if data.startswith(b"\xef\xbb\xbf"):
        return "utf-8"
    declared = _XML_ENCODING.match(data[:512])
    return declared.group(1).decode("ascii").lower() if declared else None


def repair_utf8(data: bytes, content_type: str = "") -> bytes:
    """A UTF-8 document with invalid bytes, each replaced by U+FFFD; anything else unchanged.

    UTF-8 means declared so (HTTP charset, BOM or XML declaration) or, when nothing is declared,
    mostly valid UTF-8 (more well-formed multi-byte characters than bad bytes)."""
    try:
        data.decode("utf-8")
        return data
    except UnicodeDecodeError:
        pass
    declared = _declared_encoding(data, content_type)
    text = data.decode("utf-8", "replace")
    if declared is None:
        bad = text.count("\ufffd")
        if sum(1 for ch in text if ord(ch) > 0x7F) - bad <= bad:
            return data
    elif declared not in _UTF8_NAMES:
        return data
    return text.encode("utf-8")
