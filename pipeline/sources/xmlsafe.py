"""Hostile XML refused before any parser sees it, for feeds, OPML and sitemaps alike.

A DTD that declares parameter or external entities, entities that refer to other entities (the
"billion laughs"), long or many entity values, or an oversized DTD is refused (`xml_hazard`);
what passes is parsed by lxml without entity expansion, DTD loading or network access.
"""

from __future__ import annotations

import re

from lxml import etree

_MAX_DTD_BYTES = 64 * 1024
_MAX_ENTITIES = 64
_MAX_ENTITY_VALUE = 32  # bytes: with 3-byte references a document grows at most about tenfold
_DTD_SPECIAL = re.compile(rb"[\"'\[\]>]|<!--")
_ENTITY_DECL = re.compile(
    rb"<!ENTITY\s+(?P<param>%\s*)?(?P<name>[^\s\"'>%]+)\s*"
    rb"(?:\"(?P<dq>[^\"]*)\"|'(?P<sq>[^']*)'|(?P<other>[^>]*))\s*>"
)
_CHAR_REF = re.compile(rb"&#(?:[0-9]+|x[0-9a-fA-F]+);")


class UnsafeXml(ValueError):
    """A document refused before parsing because its DTD could expand it or reach outside."""


def _ascii_head(data: bytes) -> bytes:
    """The document as bytes a regex can read: UTF-16 documents are transcoded, a BOM dropped."""
    head = data[: 2 * _MAX_DTD_BYTES + 2]
    if head.startswith((b"\xff\xfe", b"\xfe\xff")):
        return head.decode("utf-16", errors="replace").encode("utf-8")
    return head.removeprefix(b"\xef\xbb\xbf")


def _doctype_at(head: bytes) -> int | None:
    """Where the DOCTYPE starts, if one precedes the root element (after the XML declaration,
    comments and processing instructions), else None."""
    pos = 0
    while pos < _MAX_DTD_BYTES:
        while pos < len(head) and head[pos] in b" \t\r\n":
            pos += 1
        if head.startswith(b"<?", pos):
            opener, closer = b"<?", b"?>"
        elif head.startswith(b"<!--", pos):
            opener, closer = b"<!--", b"-->"
        elif head[pos:pos + 9].upper() == b"<!DOCTYPE":
            return pos
        else:
            return None
        close = head.find(closer, pos + len(opener))
        if close < 0:
            return None
        pos = close + len(closer)
    return None


def _doctype_end(head: bytes, pos: int, limit: int) -> int | None:
    """End of the DOCTYPE declaration (after its internal subset), skipping quoted values and
    comments; None when it does not end before `limit`. Linear in the bytes scanned."""
    in_subset = False
    while (found := _DTD_SPECIAL.search(head, pos, limit)) is not None:
        token = found.group()
        if token in (b'"', b"'", b"<!--"):
            closer = b"-->" if token == b"<!--" else token
            close = head.find(closer, found.end(), limit)
            if close < 0:
                return None
            pos = close + len(closer)
            continue
        pos = found.end()
        if token == b"[":
            in_subset = True
        elif token == b"]":
            in_subset = False
        elif not in_subset:  # ">"
            return pos
    return None


def xml_hazard(data: bytes) -> str | None:
    """Why `data` is unsafe to hand to an XML parser, or None when it is not.

    Only the internal DTD subset can make a small document expand into a huge one, so only the
    DOCTYPE before the root element is inspected. Allowed: up to 64 internal general entities
    whose values are plain text up to 32 bytes or character references (`&#160;`), which is all
    real feeds use. Everything else a DTD can do is refused.
    """
    head = _ascii_head(data)
    start = _doctype_at(head)
    if start is None:
        return None
    end = _doctype_end(head, start + len(b"<!DOCTYPE"), start + _MAX_DTD_BYTES)
    if end is None:
        return f"DOCTYPE longer than {_MAX_DTD_BYTES} bytes or unterminated"
    dtd = head[start:end]
    declared = dtd.count(b"<!ENTITY")
    if not declared:
        return None
    if declared > _MAX_ENTITIES:
        return f"{declared} entity declarations"
    decls = list(_ENTITY_DECL.finditer(dtd))
    if len(decls) != declared:
        return "unreadable entity declaration"
    for decl in decls:
        name = decl["name"].decode("utf-8", "replace")
        if decl["param"]:
            return f"parameter entity %{name}"
        value = decl["dq"] if decl["dq"] is not None else decl["sq"]
        if value is None:
            return f"external entity {name}"
        if len(value) > _MAX_ENTITY_VALUE:
            return f"entity {name} is {len(value)} bytes long"
        if b"&" in _CHAR_REF.sub(b"", value) or b"%" in value or b"<" in value:
            return f"entity {name} refers to other entities or markup"
    return None


def safe_xml_root(data: bytes, *, recover: bool = True) -> etree._Element:
    """Parse XML with lxml without entity expansion, DTD loading, network access or huge-tree mode.

    Raises `UnsafeXml` for a hazardous document (see `xml_hazard`) and `ValueError` for one that is
    not XML. With `recover`, what libxml2 can salvage from a broken document is returned.
    """
    hazard = xml_hazard(data)
    if hazard:
        raise UnsafeXml(hazard)
    error = "no root element"
    for recovering in (False, True) if recover else (False,):
        parser = etree.XMLParser(resolve_entities=False, no_network=True, huge_tree=False, load_dtd=False,
                                 remove_comments=True, remove_pis=True, recover=recovering)
        try:
            root = etree.fromstring(data, parser)
        except etree.XMLSyntaxError as err:
            error = str(err) or error
            continue
        if root is not None:
            return root
    raise ValueError(f"not well-formed XML: {error}")
