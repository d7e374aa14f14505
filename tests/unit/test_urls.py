import pytest

from pipeline.urls import canonicalize_url, domain_of, url_key


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("HTTPS://WWW.Example.org:443/a?utm_source=rss&b=2&a=1#top", "https://www.example.org/a?a=1&b=2"),
        ("http://example.org:80/a?fbclid=x&gclid=y&utm_medium=z", "http://example.org/a"),
        ("http://example.org:8080/a", "http://example.org:8080/a"),
        ("https://example.org/%7euser/a%2fb", "https://example.org/~user/a/b"),
        ("https://example.org/news/%d8%b3%d9%84%d8%a7%d9%85", "https://example.org/news/%D8%B3%D9%84%D8%A7%D9%85"),
        ("https://example.org/news/سلام", "https://example.org/news/%D8%B3%D9%84%D8%A7%D9%85"),
        ("https://m.example.org/story-1", "https://example.org/story-1"),
        ("https://amp.example.org/story-1", "https://example.org/story-1"),
        ("https://example.org/story-1/amp", "https://example.org/story-1"),
        ("https://example.org/story-1.amp.html", "https://example.org/story-1.html"),
        ("https://example.org/story-1?amp=1", "https://example.org/story-1"),
        ("https://example.org", "https://example.org/"),
        ("https://m.org/x", "https://m.org/x"),  # "m." is only a mobile prefix on a longer host
    ],
)
def test_canonicalize(raw: str, expected: str) -> None:
    assert canonicalize_url(raw) == expected


def test_relative_links_resolve_against_base() -> None:
    assert canonicalize_url("../b?id=3", base="https://example.org/x/y/feed.xml") == "https://example.org/x/b?id=3"


def test_keys_are_stable_and_distinct() -> None:
    a = url_key(canonicalize_url("https://example.org/a?utm_source=x"))
    assert a == url_key("https://example.org/a") and len(a) == 32
    assert a != url_key("https://example.org/b")


def test_domain_drops_www() -> None:
    assert domain_of("https://www.Example.org/a") == "example.org"
