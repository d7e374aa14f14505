"""Page extraction: trafilatura over one parsed tree, plus the JSON-LD paywall flag."""

from __future__ import annotations

from pipeline.articles.extract import extract_page

_PARAGRAPHS = "".join(
    f"<p>Paragraph {i} of the harbour story: the council met the ferry operators on Tuesday and agreed "
    f"a winter timetable with two extra crossings, after months of complaints from the island.</p>"
    for i in range(6))


def test_xhtml_with_an_xml_declaration_is_extracted() -> None:
    page = ('<?xml version="1.0" encoding="utf-8"?>\n<!DOCTYPE html PUBLIC "-//W3C//DTD XHTML 1.0 Strict//EN" '
            '"http://www.w3.org/TR/xhtml1/DTD/xhtml1-strict.dtd">\n<html xmlns="http://www.w3.org/1999/xhtml">'
            f"<head><title>Ferry timetable</title></head><body><article><h1>Ferry timetable</h1>{_PARAGRAPHS}"
            "</article></body></html>")
    extracted = extract_page(page, "https://example.org/news/ferry")
    assert extracted.text and "winter timetable" in extracted.text


def test_paywall_flag_from_json_ld_and_nothing_on_garbage() -> None:
    page = ('<html><head><script type="application/ld+json">{"@type": "NewsArticle", '
            '"isAccessibleForFree": "False"}</script></head>'
            f"<body><article>{_PARAGRAPHS}</article></body></html>")
    assert extract_page(page, "https://example.org/a").accessible_for_free is False
    assert extract_page("", "https://example.org/b").text is None
