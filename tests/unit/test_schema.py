"""The schema is declared once; the record type and the README's data dictionary follow it."""

from __future__ import annotations

import dataclasses
import re
from pathlib import Path

from pipeline.records import Article, Reject
from pipeline.schema import ARTICLE_SCHEMA, REJECT_SCHEMA

README = (Path(__file__).resolve().parents[2] / "README.md").read_text(encoding="utf-8")


def _dictionary(title: str) -> list[str]:
    section = README.split(f"### Data dictionary: `{title}`", 1)[1].split("\n#", 1)[0]
    return re.findall(r"^\| `(\w+)` \|", section, flags=re.M)


def test_article_record_matches_schema() -> None:
    assert [f.name for f in dataclasses.fields(Article)] == ARTICLE_SCHEMA.names


def test_reject_record_plus_run_columns_match_schema() -> None:
    names = [f.name for f in dataclasses.fields(Reject)] + ["run_id", "ingest_date"]
    assert sorted(names) == sorted(REJECT_SCHEMA.names)


def test_readme_documents_every_column_in_order() -> None:
    assert _dictionary("articles") == ARTICLE_SCHEMA.names
    assert _dictionary("rejects") == REJECT_SCHEMA.names


def test_every_field_has_a_doc() -> None:
    for field in [*ARTICLE_SCHEMA, *REJECT_SCHEMA]:
        assert field.metadata and field.metadata[b"doc"], field.name
