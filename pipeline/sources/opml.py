"""OPML subscription lists to feed configs, and back to a config YAML snippet.

    >>> feeds = parse_opml(b'<opml version="2.0"><body><outline text="World">'
    ...                    b'<outline text="Daily" xmlUrl="https://example.org/rss"/></outline></body></opml>')
    >>> feeds
    [{'url': 'https://example.org/rss', 'name': 'Daily', 'tags': ['World']}]
    >>> print(opml_to_yaml(feeds), end="")
    feeds:
    - url: https://example.org/rss
      name: Daily
      tags:
      - World

Rules: an outline is a feed when it has an `xmlUrl` (any `type`; readers disagree on it); its name
is `title`, else `text`; its tags are the titles of the folders (outlines without `xmlUrl`) it sits
in, outermost first, then each segment of its `category` attribute ("/News/World,ports" gives
"News", "World", "ports"). The same feed listed twice (compared by scheme, host, port, path and
query, case-insensitively on scheme and host) is kept once, at its first place, with the tags of
every listing. `feed://` URLs become `http://`; other non-http(s) or relative URLs are skipped.
An `language` attribute becomes the feed's language hint (primary subtag only).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from urllib.parse import urlsplit

import yaml
from lxml import etree
from pydantic import ValidationError

from pipeline.config import Config, ConfigError, FeedConfig
from pipeline.sources.xmlsafe import safe_xml_root
from pipeline.text import primary_language
from pipeline.urls import origin

MAX_FEEDS = 10_000
_MAX_DEPTH = 64
_LANGUAGE = re.compile(r"^[a-z]{2,3}$")


class OpmlError(ValueError):
    """The document is not a usable OPML file (unsafe, not XML, or not OPML)."""


def _local(el: etree._Element) -> str:
    return etree.QName(el).localname if isinstance(el.tag, str) else ""


def _attr(el: etree._Element, name: str) -> str:
    # Attribute names are case-sensitive in XML, but exporters write xmlUrl, xmlurl and XMLURL.
    for key, value in el.attrib.items():
        if isinstance(key, str) and key.lower() == name.lower():
            return " ".join(value.split())
    return ""


def _feed_url(raw: str) -> str | None:
    raw = raw.strip()
    if raw.lower().startswith("feed://"):
        raw = "http://" + raw[len("feed://"):]
    elif raw.lower().startswith("feed:"):  # feed:https://example.org/rss
        raw = raw[len("feed:"):]
    parts = urlsplit(raw)
    if parts.scheme.lower() not in ("http", "https") or not parts.hostname:
        return None
    return raw


def _dedup_key(url: str) -> str:
    parts = urlsplit(url)
    return f"{origin(url)}{parts.path or '/'}{'?' + parts.query if parts.query else ''}"


def _categories(value: str) -> list[str]:
    return [seg.strip() for item in value.split(",") for seg in item.split("/") if seg.strip()]


class OpmlFeeds(list):
    """The feeds of one OPML document; `dropped` counts those past `MAX_FEEDS`, so a caller can
    say so instead of silently polling a truncated list."""

    dropped: int = 0

    def limit_note(self, ref: str) -> str | None:
        if not self.dropped:
            return None
        return (f"{ref}: lists {len(self) + self.dropped} feeds; only the first {MAX_FEEDS} are used "
                f"({self.dropped} ignored)")


def parse_opml(data: bytes) -> OpmlFeeds:
    """Feed config dicts (`url`, `name`, `tags`, and `language` when given) from an OPML document.

    Raises `OpmlError` for a document that is hazardous, not XML, or has no OPML `<body>`.
    At most `MAX_FEEDS` feeds are returned (the rest counted in `dropped`) and folders deeper than
    64 levels are not descended.
    """
    try:
        # strict: a subscription list cut short would otherwise import as the feeds before the cut
        root = safe_xml_root(data, recover=False)
    except ValueError as err:
        raise OpmlError(str(err)) from None
    if _local(root).lower() != "opml":
        raise OpmlError(f"root element is <{_local(root)}>, not <opml>")
    body = next((child for child in root if _local(child).lower() == "body"), None)
    if body is None:
        raise OpmlError("OPML document without a <body>")
    feeds: dict[str, dict] = {}
    dropped: set[str] = set()
    _walk(body, (), feeds, 0, dropped)
    result = OpmlFeeds(feeds.values())
    result.dropped = len(dropped)
    return result


def _walk(parent: etree._Element, folders: tuple[str, ...], feeds: dict[str, dict], depth: int,
          dropped: set[str]) -> None:
    if depth > _MAX_DEPTH:
        return
    for el in parent:
        if _local(el).lower() != "outline":
            continue
        label = _attr(el, "title") or _attr(el, "text")
        xml_url = _attr(el, "xmlUrl")
        if not xml_url:
            _walk(el, folders + ((label,) if label else ()), feeds, depth + 1, dropped)
            continue
        url = _feed_url(xml_url)
        if url is not None:
            tags = list(dict.fromkeys([*folders, *_categories(_attr(el, "category"))]))
            key = _dedup_key(url)
            if key in feeds:
                feeds[key]["tags"] = list(dict.fromkeys([*feeds[key]["tags"], *tags]))
            elif len(feeds) < MAX_FEEDS:
                feed: dict = {"url": url, "name": label or None, "tags": tags}
                language = primary_language(_attr(el, "language")) or ""
                if _LANGUAGE.match(language):
                    feed["language"] = language
                feeds[key] = feed
            else:
                dropped.add(key)
        # An outline with an xmlUrl may still hold children (some exporters nest episodes or
        # mirror feeds under it): they are read as feeds in the same folders.
        _walk(el, folders, feeds, depth + 1, dropped)


def opml_to_yaml(feeds: Iterable[Mapping]) -> str:
    """A config YAML snippet (`feeds:` list) for `pipeline.config.parse_config`.

    Empty names and empty tag lists are left out, so each item is a valid `FeedConfig`. Merge it
    with the rest of a config (output, http, ...) by appending the other top-level keys.
    """
    items = []
    for feed in feeds:
        item: dict = {"url": str(feed["url"])}
        if feed.get("name"):
            item["name"] = str(feed["name"])
        if feed.get("language"):
            item["language"] = str(feed["language"])
        if feed.get("tags"):
            item["tags"] = [str(t) for t in feed["tags"]]
        items.append(item)
    return yaml.safe_dump({"feeds": items}, allow_unicode=True, sort_keys=False, default_flow_style=False)


def with_opml_feeds(config: Config, documents: Iterable[tuple[str, bytes]],
                    notes: list[str] | None = None) -> Config:
    """The config with the feeds of every OPML document (ref, bytes) appended; a feed already in
    `feeds` keeps its entry; a document over `MAX_FEEDS` adds a line to `notes`. Feeds of a
    document fetched from a URL are untrusted: whoever serves that list must not be able to point
    the crawler at a private address."""
    known = {_dedup_key(f.key) for f in config.feeds}
    added: list[FeedConfig] = []
    for ref, data in documents:
        try:
            feeds = parse_opml(data)
        except OpmlError as err:
            raise ConfigError(f"opml {ref}: {err}") from None
        note = feeds.limit_note(ref)
        if note and notes is not None:
            notes.append(note)
        remote = ref.startswith(("http://", "https://"))
        for feed in feeds:
            key = _dedup_key(feed["url"])
            if key in known:
                continue
            known.add(key)
            try:
                added.append(FeedConfig.model_validate({**feed, "tags": tuple(feed["tags"]),
                                                        "trusted": not remote}))
            except ValidationError as err:
                raise ConfigError(f"opml {ref}: feed {feed['url']}: {err.errors()[0]['msg']}") from None
    return config.model_copy(update={"feeds": (*config.feeds, *added)})
