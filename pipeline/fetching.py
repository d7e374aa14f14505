"""The seam between the pure polling logic and the network: what a fetch returns, and the two
small protocols `pipeline.sources.poll` is written against.

`pipeline.io.http.HttpFetcher` and `pipeline.io.robots.RobotsPolicy` implement them; unit tests
may pass fakes, end-to-end tests use the real ones against loopback servers.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Protocol


@dataclass(frozen=True)
class FetchResult:
    """Failures are values: `error` is a short reason code for the rejects dataset."""

    url: str
    final_url: str
    status: int | None = None
    headers: Mapping[str, str] = field(default_factory=dict)
    body: bytes | None = None
    error: str | None = None
    detail: str | None = None

    @property
    def ok(self) -> bool:
        return self.error is None

    @property
    def content_type(self) -> str:
        return self.headers.get("content-type", "")


class Fetcher(Protocol):
    user_agent: str

    def get(self, url: str, *, trusted: bool = False, accept: str = "*/*",
            headers: Mapping[str, str] | None = None) -> FetchResult: ...

    def set_host_delay(self, host: str, seconds: float) -> None: ...


class Robots(Protocol):
    def permits(self, url: str, user_agent: str, *, trusted: bool = False) -> bool: ...

    def crawl_delay(self, url: str, user_agent: str, *, trusted: bool = False) -> float | None: ...

    def refusal(self, url: str, *, trusted: bool = False) -> tuple[str, str]: ...

    def sitemaps(self, url: str, *, trusted: bool = False) -> list[str]: ...
