"""Page extraction: the ladder of trafilatura passes over one parsed tree, the metadata the feed
lacks, and the JSON-LD paywall flag."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import lxml.html
import trafilatura.utils
from trafilatura import load_html

from pipeline.articles.decoding import decode_html
from pipeline.articles.extract import (
    HTML_CLASSES,
    MIN_BODY_CHARS,
    body_is_doubtful,
    choose_body,
    extract_body,
    extract_page,
)
from pipeline.records import FeedEntry

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


def test_the_cheap_pass_is_kept_when_it_looks_right_and_the_next_is_tried_when_short() -> None:
    article = "x" * MIN_BODY_CHARS
    assert choose_body([("page", article)]) == ("page", article)
    # a short first pass loses to a later, longer one; all short: the longest, the earlier on a tie
    assert choose_body([("page", "teaser"), ("page", "teaser"), ("page_recall", article)]) == ("page_recall", article)
    assert choose_body([("page", "ab"), ("page_recall", "abc")]) == ("page_recall", "abc")
    assert choose_body([("page", "abc"), ("page_recall", "abc")]) == ("page", "abc")
    # much shorter than the feed's own full text is doubtful too, whatever its length
    assert body_is_doubtful(article, feed_text="y" * (3 * MIN_BODY_CHARS))
    assert not body_is_doubtful(article, feed_text="a short summary")


def test_a_real_article_is_taken_from_the_first_pass() -> None:
    tree = load_html(f"<html><body><nav>Home | World</nav><article>{_PARAGRAPHS}</article></body></html>")
    source, text = extract_body(tree)
    assert source == "page" and "winter timetable" in text and "Home | World" not in text


def test_the_byline_search_runs_only_when_the_feed_has_no_author() -> None:
    page = ('<html><head><title>Ferry</title></head><body><article><h1>Ferry</h1>'
            '<p class="byline">By <span class="author">Mona Haddad</span></p>'
            f"{_PARAGRAPHS}</article></body></html>")
    entry = FeedEntry("https://example.org/rss", "E", "https://example.org/a", "k")
    assert extract_page(page, "https://example.org/a", entry).authors == ("Mona Haddad",)
    with_author = replace(entry, authors=("M. Haddad",))
    assert extract_page(page, "https://example.org/a", with_author).authors == ()  # the feed's is used


def test_the_page_language_is_a_hint_from_its_lang_attribute() -> None:
    page = f'<html lang="ar-EG" dir="rtl"><body><article>{_PARAGRAPHS}</article></body></html>'
    assert extract_page(page, "https://example.org/a").language == "ar-EG"


def test_pages_parse_to_the_same_article_with_lxmls_c_class_lookup() -> None:
    """The look-up this module installs changes only which Python class an element gets, never what
    is extracted: every demo page (English, Arabic, windows-1256) gives the same fields either way."""
    with_form = "<html><body><form><input name='q'></form><p>one</p><p>two</p></body></html>"
    assert type(load_html(with_form).find(".//form")) is lxml.html.HtmlElement
    pages = sorted((Path(__file__).parents[2] / "pipeline/commands/demo_data/site/articles").rglob("*.html"))
    assert len(pages) >= 10
    html = [decode_html(p.read_bytes())[0] for p in pages]
    fast = [extract_page(h, f"https://example.org/{p.name}") for h, p in zip(html, pages, strict=True)]
    parser = trafilatura.utils.HTML_PARSER
    parser.set_element_class_lookup(lxml.html.HtmlElementClassLookup())
    try:
        assert type(load_html(with_form).find(".//form")) is lxml.html.FormElement
        plain = [extract_page(h, f"https://example.org/{p.name}") for h, p in zip(html, pages, strict=True)]
    finally:
        parser.set_element_class_lookup(HTML_CLASSES)
    assert sum(bool(e.text) for e in fast) >= 10
    assert fast == plain
