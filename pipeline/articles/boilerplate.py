"""Site boilerplate: lines that a site repeats on many of its pages ("Sign up for our newsletter",
a standard byline box, a copyright line) are not the article, even when the extractor kept them.

A site's pages are its articles of this run plus the line keys of its most recent earlier ones
(`KEEP_PAGES`, in the state store), each article counted once whatever its versions. A line is
boilerplate when it is short (`MAX_LINE_CHARS`: paragraphs of a story are longer) and appears on at
least `MIN_PAGES` pages and `MIN_SHARE` of the pages known for the site: text that appears on one
page, or on a few of many, is never dropped, and a body is never emptied.
"""

from __future__ import annotations

import hashlib
from collections import Counter
from collections.abc import Iterable, Mapping

from pipeline.text import normalize_for_hash

MIN_PAGES = 3
MIN_SHARE = 0.3
MAX_LINE_CHARS = 200
KEEP_PAGES = 100  # per site, the earlier pages whose line keys are kept for the next runs


def line_key(line: str) -> str | None:
    """A short key for a line that may be boilerplate, None for one that cannot be (empty, or as
    long as a paragraph). Spelling variants fold together (`normalize_for_hash`)."""
    if len(line) > MAX_LINE_CHARS:
        return None
    folded = normalize_for_hash(line)
    return hashlib.blake2b(folded.encode("utf-8"), digest_size=8).hexdigest() if folded else None


def line_keys(body: str | None) -> frozenset[str]:
    return frozenset(k for k in map(line_key, (body or "").splitlines()) if k)


def repeated_lines(pages: Mapping[str, Iterable[str]]) -> frozenset[str]:
    """The keys found on enough of a site's pages (page id -> its line keys)."""
    counts = Counter(k for keys in pages.values() for k in set(keys))
    need = max(MIN_PAGES, MIN_SHARE * len(pages))
    return frozenset(k for k, n in counts.items() if n >= need)


def strip_lines(body: str, drop: frozenset[str]) -> str:
    """The body without its boilerplate lines; unchanged when nothing else would be left."""
    if not drop:
        return body
    kept = [line for line in body.splitlines() if line_key(line) not in drop]
    return "\n".join(kept).strip() if any(line.strip() for line in kept) else body
