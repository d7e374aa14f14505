"""Typed, validated configuration: loaded once, then passed around as objects, never as dicts.

    >>> cfg = Config.model_validate({"feeds": [{"url": "https://example.org/rss.xml"}]})
    >>> cfg.http.timeout_s
    20.0

Every knob has its default here and only here; the README's configuration table mirrors this file.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, replace
from datetime import timedelta
from pathlib import Path
from typing import Annotated, Literal

import yaml
from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    HttpUrl,
    ValidationError,
    field_validator,
    model_validator,
)

from pipeline.dates import duration_seconds
from pipeline.records import FeedKind, FeedSource

# `90s`, `2m`, `1h`, `1d` or a number of seconds
Duration = Annotated[float, BeforeValidator(duration_seconds), Field(gt=0)]


@dataclass(frozen=True)
class ScheduleParams:
    """The scheduler's knobs as `pipeline.sources.schedule` takes them (from `PollingConfig`)."""

    min_interval: timedelta = timedelta(minutes=5)
    max_interval: timedelta = timedelta(hours=24)
    default_interval: timedelta = timedelta(hours=1)  # no dated entries to estimate a rate from
    backoff_base: timedelta = timedelta(minutes=5)
    backoff_max: timedelta = timedelta(hours=24)
    retry_after_max: timedelta = timedelta(days=7)  # the longest Retry-After that is obeyed
    jitter: float = 0.1  # fraction of the interval added at random, spreading polls out
    polls_per_gap: float = 2.0  # polls per mean gap between a feed's entries
    recent_entries: int = 20  # publish times kept for the rate estimate
    recent_keys: int = 500  # entry keys kept to tell new entries from re-seen ones
    fixed_interval: timedelta | None = None  # a feed's poll_every: replaces the adaptive term

    def __post_init__(self) -> None:
        if not timedelta(0) < self.min_interval <= self.default_interval <= self.max_interval:
            raise ValueError("need 0 < min_interval <= default_interval <= max_interval")
        if not timedelta(0) < self.backoff_base <= self.backoff_max:
            raise ValueError("need 0 < backoff_base <= backoff_max")
        if self.retry_after_max < timedelta(0):
            raise ValueError("retry_after_max must not be negative")
        if not 0 <= self.jitter <= 1:
            raise ValueError("jitter is a fraction between 0 and 1")
        if self.polls_per_gap <= 0 or self.recent_entries < 2 or self.recent_keys < 1:
            raise ValueError("need polls_per_gap > 0, recent_entries >= 2 and recent_keys >= 1")
        if self.fixed_interval is not None and self.fixed_interval <= timedelta(0):
            raise ValueError("fixed_interval must be positive")

    def for_feed(self, source: FeedSource) -> ScheduleParams:
        """These knobs with a feed's own overrides: `min_interval`/`max_interval` (the one the feed
        gives wins a conflict with the global other), `poll_every` (a fixed interval, and the
        shortest any schedule of this feed may be)."""
        low = timedelta(seconds=source.min_interval_s) if source.min_interval_s else self.min_interval
        high = timedelta(seconds=source.max_interval_s) if source.max_interval_s else self.max_interval
        if low > high:
            low, high = (low, low) if source.min_interval_s else (high, high)
        fixed = timedelta(seconds=source.poll_every_s) if source.poll_every_s else None
        if fixed is not None:
            low = min(low, fixed)
        if (low, high, fixed) == (self.min_interval, self.max_interval, None):
            return self
        return replace(self, min_interval=low, max_interval=high, fixed_interval=fixed,
                       default_interval=min(max(self.default_interval, low), high))


@dataclass(frozen=True)
class RefetchLimits:
    """How far `pipeline.sources.revisions` follows a changed entry: at most `max_refetches` page
    fetches after the first, and none once the article is older than `window`."""

    max_refetches: int = 5
    window: timedelta = timedelta(days=7)


class ConfigError(ValueError):
    """A configuration problem, with a message meant for the person who wrote the file."""


class _Strict(BaseModel):
    # Unknown keys are typos more often than not: refuse them instead of ignoring them.
    model_config = ConfigDict(extra="forbid", frozen=True)


class FeedConfig(_Strict):
    """One configured source: a feed `url`, or a `site` whose feed is discovered (exactly one)."""

    url: HttpUrl | None = None
    site: HttpUrl | None = Field(default=None, description="A site's home page; its feed is discovered.")
    name: str | None = None
    language: str | None = Field(default=None, description="Hint used when detection is unsure.")
    tags: tuple[str, ...] = ()
    kind: FeedKind = "feed"
    check_robots: bool = Field(default=True, description="False: this feed URL is explicitly allowed.")
    trusted: bool = Field(default=True, description="False: checked like a discovered link (set for "
                                                    "feeds from an OPML list fetched from a URL).")
    poll_every: Duration | None = Field(default=None, description="A fixed interval instead of the adaptive one.")
    min_interval: Duration | None = Field(default=None, description="Overrides polling.min_interval_s.")
    max_interval: Duration | None = Field(default=None, description="Overrides polling.max_interval_s.")
    max_refetches: int | None = Field(default=None, ge=0, description="Overrides polling.max_refetches.")
    refetch_window: Duration | None = Field(default=None, description="Overrides polling.refetch_window_s.")

    @field_validator("language")
    @classmethod
    def _lower(cls, v: str | None) -> str | None:
        return v.lower() if v else v

    @model_validator(mode="after")
    def _one_location(self) -> FeedConfig:
        if (self.url is None) == (self.site is None):
            raise ValueError("give exactly one of 'url' (a feed) or 'site' (a site whose feed is discovered)")
        if self.site is not None and self.kind != "feed":
            raise ValueError("'kind' does not apply to a 'site': discovery finds the kind")
        if self.min_interval and self.max_interval and self.min_interval > self.max_interval:
            raise ValueError("need min_interval <= max_interval")
        return self

    @property
    def key(self) -> str:
        """The URL its state is stored under: the feed's, or the site's."""
        return str(self.url or self.site)

    def source(self) -> FeedSource:
        return FeedSource(self.key, self.name, self.language, tuple(self.tags), self.kind, self.check_robots,
                          self.trusted, site=self.site is not None, poll_every_s=self.poll_every,
                          min_interval_s=self.min_interval, max_interval_s=self.max_interval,
                          max_refetches=self.max_refetches, refetch_window_s=self.refetch_window)


class HttpConfig(_Strict):
    user_agent: str = "news-ingest/0.1 (+https://github.com/news-ingest/news-ingest)"
    timeout_s: float = Field(default=20.0, gt=0, description="Total deadline for one request.")
    connect_timeout_s: float = Field(default=10.0, gt=0)
    max_bytes: int = Field(default=5_000_000, gt=0, description="Larger bodies are cut off and rejected.")
    max_redirects: int = Field(default=5, ge=0)
    retries: int = Field(default=2, ge=0, description="Extra attempts after a transient failure.")
    backoff_s: float = Field(default=1.0, ge=0, description="First retry delay; doubles, with jitter.")
    concurrency: int = Field(default=32, ge=1, description="Parallel article fetches per worker.")
    per_host_concurrency: int = Field(default=4, ge=1)
    per_host_delay_s: float = Field(default=0.25, ge=0, description="Minimum gap between requests to one host.")
    max_crawl_delay_s: float = Field(default=10.0, ge=0, description="Cap on a robots.txt Crawl-delay.")
    allow_private_networks: bool = False


class PollingConfig(_Strict):
    """How often each feed is polled; see `pipeline.sources.schedule` for the formulas."""

    respect_schedule: bool = Field(default=True, description="False: poll every feed on every run.")
    min_interval_s: float = Field(default=300, gt=0)
    max_interval_s: float = Field(default=86_400, gt=0)
    default_interval_s: float = Field(default=3_600, gt=0)
    backoff_base_s: float = Field(default=300, gt=0)
    backoff_max_s: float = Field(default=86_400, gt=0)
    retry_after_max_s: float = Field(default=604_800, ge=0)
    jitter: float = Field(default=0.1, ge=0, le=1)
    respect_robots: bool = True
    sitemap_max_children: int = Field(default=50, ge=0, description="Child sitemaps read from an index.")
    max_entries_per_run: int = Field(
        default=2_500, ge=0,
        description="New entries fetched per run; the rest wait for the next run, which a batch run starts "
                    "at once (bounds memory on the local runner). 0: no limit.")
    max_refetches: int = Field(
        default=5, ge=0, description="Times one article's page is fetched again after its feed entry changed "
                                     "(updated date, content or summary); 0: never (no versions).")
    refetch_window_s: float = Field(
        default=604_800, ge=0, description="Seconds after publication during which a changed entry is refetched.")

    def refetch_limits(self, source: FeedSource) -> RefetchLimits:
        """These limits with the feed's own overrides."""
        count = self.max_refetches if source.max_refetches is None else source.max_refetches
        window = self.refetch_window_s if source.refetch_window_s is None else source.refetch_window_s
        return RefetchLimits(count, timedelta(seconds=window))

    def schedule_params(self) -> ScheduleParams:
        return ScheduleParams(
            min_interval=timedelta(seconds=self.min_interval_s),
            max_interval=timedelta(seconds=self.max_interval_s),
            default_interval=timedelta(seconds=self.default_interval_s),
            backoff_base=timedelta(seconds=self.backoff_base_s),
            backoff_max=timedelta(seconds=self.backoff_max_s),
            retry_after_max=timedelta(seconds=self.retry_after_max_s),
            jitter=self.jitter,
        )

    @model_validator(mode="after")
    def _consistent(self) -> PollingConfig:
        self.schedule_params()  # its checks (min <= default <= max, ...) become config errors
        return self


class ExtractConfig(_Strict):
    processes: int = Field(default=0, ge=0,
                           description="Extraction (and feed parsing) processes per worker; 0: one per core.")


class DedupConfig(_Strict):
    """Near-duplicates (MinHash over 3-word shingles, LSH banding); exact repeats are always dropped."""

    near_duplicates: Literal["flag", "drop"] = Field(
        default="flag", description="flag: keep and mark with cluster_id/duplicate_of; drop: do not write.")
    threshold: float = Field(default=0.5, gt=0, le=1, description="Estimated Jaccard similarity of shingles.")
    window_days: int = Field(default=7, ge=0, description="How far back earlier runs' articles are matched.")


class StreamingConfig(_Strict):
    """`run --streaming`: one poll cycle per tick; only feeds that are due are polled."""

    tick_s: float = Field(default=60, gt=0, description="Seconds between poll cycles.")
    status_every_s: float = Field(default=60, ge=0, description="Seconds between status lines.")
    metrics_port: int | None = Field(default=None, ge=0, le=65535,
                                     description="Serve Prometheus /metrics on 127.0.0.1:PORT (0: any free port).")


class OutputConfig(_Strict):
    path: str = "./data"
    partition_by: tuple[Literal["ingest_date", "language", "source", "domain"], ...] = (
        "ingest_date",
        "language",
    )
    compression: Literal["zstd", "snappy", "gzip", "none"] = "zstd"
    format: Literal["parquet", "delta"] = "parquet"


class StateConfig(_Strict):
    path: str | None = Field(default=None, description="Defaults to <output>/_state.")


def default_state_path(output_path: str) -> str:
    return f"{output_path.rstrip('/')}/_state"


class Config(_Strict):
    feeds: tuple[FeedConfig, ...] = ()
    opml: tuple[str, ...] = Field(default=(), description="OPML files or URLs whose feeds are added.")
    output: OutputConfig = OutputConfig()
    state: StateConfig = StateConfig()
    http: HttpConfig = HttpConfig()
    polling: PollingConfig = PollingConfig()
    extract: ExtractConfig = ExtractConfig()
    dedup: DedupConfig = DedupConfig()
    streaming: StreamingConfig = StreamingConfig()

    @model_validator(mode="after")
    def _has_feeds(self) -> Config:
        if not self.feeds and not self.opml:
            raise ValueError("no feeds: list at least one under 'feeds' or 'opml'")
        return self

    @property
    def state_path(self) -> str:
        return self.state.path or default_state_path(self.output.path)

    def with_paths(self, output: str | None = None, state: str | None = None) -> Config:
        """Apply command-line overrides without giving up immutability."""
        update: dict = {}
        if output:
            update["output"] = self.output.model_copy(update={"path": output})
        if state:
            update["state"] = self.state.model_copy(update={"path": state})
        return self.model_copy(update=update)


# pydantic's messages speak of Python types ("a valid tuple"); a config's author thinks in YAML
_PLAIN = {"tuple_type": "expected a list", "list_type": "expected a list", "dict_type": "expected a mapping",
          "model_type": "expected a mapping", "model_attributes_type": "expected a mapping",
          "string_type": "expected text", "float_parsing": "expected a number", "float_type": "expected a number",
          "int_parsing": "expected a whole number", "int_type": "expected a whole number",
          "int_from_float": "expected a whole number", "bool_parsing": "expected true or false",
          "bool_type": "expected true or false", "url_parsing": "expected an http(s) URL",
          "url_scheme": "expected an http(s) URL", "missing": "required, but missing"}


def _expected(e: dict) -> str:
    plain = _PLAIN.get(e["type"])
    if plain is None:
        return e["msg"]
    if plain == "expected a list" and _annotation(e["loc"]) == tuple[str, ...]:
        return "expected a list of strings"
    return plain


def _annotation(loc: tuple) -> object:
    """The declared type of the config key at `loc` (list positions skipped), or None."""
    model: object = Config
    annotation: object = None
    for part in loc:
        if isinstance(part, int):
            continue
        fields = getattr(model, "model_fields", {})
        if part not in fields:
            return None
        annotation = fields[part].annotation
        inner = [a for a in getattr(annotation, "__args__", ()) if isinstance(a, type) and issubclass(a, BaseModel)]
        model = annotation if isinstance(annotation, type) and issubclass(annotation, BaseModel) else \
            (inner[0] if inner else None)
    return annotation


def _describe(err: ValidationError, source: str) -> str:
    problems = []
    for e in err.errors():
        where = ".".join(str(p) for p in e["loc"]) or "(top level)"
        if e["type"] == "extra_forbidden":
            problems.append(f"unknown key '{where}'")
        else:
            problems.append(f"'{where}': {_expected(e)}")
    return f"{source}: invalid config: " + "; ".join(problems)


def parse_config(data: object, source: str = "config") -> Config:
    if not isinstance(data, dict):
        raise ConfigError(f"{source}: expected a mapping at the top level, got {type(data).__name__}")
    try:
        return Config.model_validate(data)
    except ValidationError as err:
        raise ConfigError(_describe(err, source)) from None


ENV_PREFIX = "NEWS_INGEST__"


def with_env(data: dict, environ: Mapping[str, str]) -> dict:
    """The config mapping with `NEWS_INGEST__HTTP__TIMEOUT_S=30`-style overrides applied: one key
    per double underscore, lower-cased, the value read as a YAML scalar. The environment wins
    over the file, so a deployment can change one knob without editing it."""
    data = dict(data)
    for name, raw in sorted(environ.items()):
        if not name.startswith(ENV_PREFIX):
            continue
        keys = [k.lower() for k in name[len(ENV_PREFIX):].split("__")]
        if not all(keys):
            raise ConfigError(f"{name}: empty key in the variable's name")
        try:
            value = yaml.safe_load(raw) if raw.strip() else None
        except yaml.YAMLError as err:
            raise ConfigError(f"{name}: not a YAML value: {err}") from None
        node = data
        for depth, key in enumerate(keys[:-1]):
            child = node.get(key)
            if child is None:
                child = {}
            elif not isinstance(child, dict):
                raise ConfigError(f"{name}: '{'.'.join(keys[:depth + 1])}' is not a mapping")
            node[key] = child = dict(child)
            node = child
        node[keys[-1]] = value
    return data


def dump_config(config: Config) -> str:
    """The effective config as YAML that `load_config` reads back."""
    return yaml.safe_dump(config.model_dump(mode="json"), sort_keys=False, allow_unicode=True)


# A config is read whole and every feed validated: past this size (about 200,000 feeds) loading
# takes minutes and gigabytes; long lists belong in OPML files, which are capped per file.
MAX_CONFIG_BYTES = 20_000_000
_YAML_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)  # libyaml's, when PyYAML has it: ~10x faster


def load_config(path: str | Path, environ: Mapping[str, str] | None = None) -> Config:
    path = Path(path)
    try:
        size = path.stat().st_size
        if size > MAX_CONFIG_BYTES:
            raise ConfigError(f"{path}: config is {size / 1e6:.0f} MB, over the {MAX_CONFIG_BYTES / 1e6:.0f} MB "
                              "limit: put long feed lists in OPML files (`opml:`)")
        text = path.read_text(encoding="utf-8")
    except OSError as err:
        raise ConfigError(f"{path}: cannot read config: {err.strerror or err}") from None
    try:
        data = yaml.load(text, Loader=_YAML_LOADER)  # a safe loader: no Python objects
    except yaml.YAMLError as err:
        raise ConfigError(f"{path}: not valid YAML: {err}") from None
    if isinstance(data, dict):
        data = with_env(data, os.environ if environ is None else environ)
    return parse_config(data, str(path))
