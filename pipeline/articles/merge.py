"""Merging a feed entry and its page into one `Article`, analysing and stamping it. Pure: tested
without Beam.

Each field takes the best source available (page metadata first, the feed entry second), and the
row says where the body and the date came from (`body_source`, `date_source`).
"""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime
from urllib.parse import urlsplit

from pipeline.articles.extract import EXTRACTOR
from pipeline.articles.keywords import keywords
from pipeline.articles.language import detect_language
from pipeline.dates import clamp_future, to_utc
from pipeline.records import Article, BodySource, Extracted, FeedEntry, utc_now
from pipeline.text import content_hash, count_words, primary_language
from pipeline.urls import canonicalize_url, domain_of, url_key

# Silent reading speeds, words per minute: Arabic script reads slower per word (longer, denser words).
READING_WPM = {"Arab": 140}
DEFAULT_WPM = 230
# A page body shorter than this is a teaser or a consent wall; the feed's full text is then better.
MIN_PAGE_WORDS = 40


def _canonical(page_url: str, declared: str | None) -> str:
    """The page's rel=canonical, unless it points at a site's home page (a common CMS mistake)."""
    if declared:
        declared_is_home = not urlsplit(declared).path.strip("/")
        if not declared_is_home or not urlsplit(page_url).path.strip("/"):
            return canonicalize_url(declared, base=page_url)
    return canonicalize_url(page_url)


def pick_body(entry: FeedEntry, extracted: Extracted) -> tuple[str | None, BodySource]:
    """The page's body unless it is a teaser against the feed's own text; the feed's full content
    before its summary."""
    feed_text, feed_source = entry.own_text()
    page_text = extracted.text
    # counting words last: analyze() counts them again, and the length test settles most pages
    if page_text and (not feed_text or len(page_text) >= len(feed_text)
                      or count_words(page_text) >= MIN_PAGE_WORDS):
        return page_text, extracted.text_source
    if feed_text:
        return feed_text, feed_source
    return None, "none"


def merge_article(entry: FeedEntry, page_url: str, extracted: Extracted | None,
                  http_status: int | None, fetched_at: datetime) -> Article:
    """One article from its feed entry and (when the fetch worked) its page's extracted fields."""
    ex = extracted or Extracted()
    body, body_source = pick_body(entry, ex)
    canonical = _canonical(page_url, ex.canonical_url) if extracted else canonicalize_url(entry.link)
    page_date = clamp_future(to_utc(ex.date), fetched_at) if ex.date else None
    feed_date = entry.published_at or entry.updated_at
    # an undated entry is dated when it was first seen, and says so: never "now" silently
    published, date_source = ((page_date, "page") if page_date else (feed_date, "feed") if feed_date
                              else (entry.first_seen_at, "first_seen") if entry.first_seen_at else (None, None))
    return Article(
        article_id=url_key(canonical),
        url=entry.link,
        canonical_url=canonical,
        feed_url=entry.feed_url,
        source=entry.source,
        domain=domain_of(canonical),
        site_name=ex.sitename,
        title=ex.title or entry.title,
        body=body,
        summary=entry.summary or ex.description,
        authors=list(ex.authors or entry.authors),
        categories=list(dict.fromkeys([*entry.categories, *ex.categories, *ex.tags])),
        tags=list(entry.tags),
        image_url=ex.image,
        published_at=published,
        date_source=date_source,
        updated_at=entry.updated_at,
        fetched_at=fetched_at,
        content_hash=content_hash(body) if body else "",
        body_source=body_source,
        http_status=http_status,
        extractor=EXTRACTOR if extracted else "feed",
        has_paywall=None if ex.accessible_for_free is None else not ex.accessible_for_free,
        # the feed's hint (else the page's lang attribute), until analyze() decides
        language=entry.language_hint or primary_language(ex.language) or "und",
    )


def language_sample(article: Article) -> str:
    """The text the language is detected on: the title and the body's first 3,000 characters,
    enough for the detector and bounded in cost whatever the body's length."""
    return " ".join(t for t in (article.title, (article.body or "")[:3000]) if t)


def analyze(article: Article) -> Article:
    """Language, script, counts and keywords: CPU work that runs beside extraction, on every core.
    The feed's language hint settles short, ambiguous text."""
    hint = article.language if article.language != "und" else None
    guess = detect_language(language_sample(article), hint=hint)
    body = article.body or ""
    words = count_words(body)
    return replace(
        article,
        language=guess.language or "und",
        language_confidence=round(guess.confidence, 4),
        script=guess.script,
        reading_time_min=round(words / READING_WPM.get(guess.script or "", DEFAULT_WPM), 1),
        word_count=words,
        keywords=keywords(article.title, article.body, guess.language),
        char_count=len(body),
    )


def with_body(article: Article, body: str) -> Article:
    """The article with a cleaned body, and everything derived from the body derived again."""
    if body == article.body:
        return article
    return analyze(replace(article, body=body, content_hash=content_hash(body) if body else ""))


def stamp(article: Article, run_id: str) -> Article:
    """Run provenance, added once an article has survived deduplication."""
    return replace(article, run_id=run_id, ingest_date=(article.fetched_at or utc_now()).date().isoformat())
