"""`news-ingest init [DIR]`: a commented starter config to edit."""

from __future__ import annotations

from pathlib import Path

from pipeline.config import ConfigError

STARTER = Path(__file__).parent / "starter" / "feeds.yaml"


def write_starter(folder: str) -> Path:
    """`<folder>/feeds.yaml`; an existing file is left alone (a config someone edited is precious)."""
    target = Path(folder) / "feeds.yaml"
    if target.exists():
        raise ConfigError(f"{target} exists already; not overwriting it")
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text(STARTER.read_text(encoding="utf-8"), encoding="utf-8")
    return target
