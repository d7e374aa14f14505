"""`news-ingest discover URL`: a site's feed, found as a `site:` source would find it, printed as
config YAML (the chosen feed as an entry, the other verified candidates as comments)."""

from __future__ import annotations

import yaml

from pipeline.config import HttpConfig
from pipeline.io.http import HttpFetcher
from pipeline.io.robots import RobotsPolicy
from pipeline.sources.discovery import Discovery, discover


def discovery_yaml(site: str, found: Discovery) -> str:
    """Config YAML for the chosen feed; a site with nothing found gives a commented explanation."""
    if found.chosen is None:
        return f"# {site}: no feed found ({found.summary()})\n"
    chosen = found.chosen
    item: dict = {"url": chosen.url}
    if chosen.title:
        item["name"] = chosen.title
    if chosen.language:
        item["language"] = chosen.language
    if chosen.kind != "feed":
        item["kind"] = chosen.kind
    lines = [f"# {site}: found by {chosen.found_by}, {chosen.entries} entries"
             + (f", newest {chosen.newest:%Y-%m-%d %H:%M} UTC" if chosen.newest else "")
             + f"; or keep discovering with `- site: {site}`"]
    lines += [f"# also: {c.url} ({c.kind}, {c.entries} entries)" for c in found.candidates[1:]]
    body = yaml.safe_dump({"feeds": [item]}, allow_unicode=True, sort_keys=False, default_flow_style=False)
    return "\n".join(lines) + "\n" + body


def run_discover(site: str, http: HttpConfig, respect_robots: bool = True, language: str | None = None) -> Discovery:
    with HttpFetcher(http) as fetcher:
        robots = RobotsPolicy(fetcher) if respect_robots else None
        return discover(fetcher, robots, site, language=language)
