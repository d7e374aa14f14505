"""Which lines are a site's boilerplate: short, and on enough of its pages; nothing said once."""

from __future__ import annotations

from pipeline.articles.boilerplate import MAX_LINE_CHARS, MIN_PAGES, line_keys, repeated_lines, strip_lines

NEWSLETTER = "Sign up for the Harbour Daily newsletter."


def _story(i: int) -> str:
    return f"Story {i} begins with its own lead paragraph about ferry {i}.\n{NEWSLETTER}\nIts own ending {i}."


def test_a_line_on_enough_pages_of_a_site_is_dropped_and_nothing_said_once() -> None:
    pages = {f"a{i}": line_keys(_story(i)) for i in range(MIN_PAGES)}
    drop = repeated_lines(pages)
    assert drop == line_keys(NEWSLETTER)
    lines = _story(0).splitlines()
    assert strip_lines(_story(0), drop) == f"{lines[0]}\n{lines[2]}"
    # one page fewer: the line is not yet "many pages"
    assert repeated_lines(dict(list(pages.items())[:MIN_PAGES - 1])) == frozenset()


def test_a_few_pages_of_many_are_not_enough() -> None:
    """A background paragraph repeated in three stories of a busy site is the stories' text."""
    pages = {f"a{i}": line_keys(_story(i) if i < MIN_PAGES else f"Another story {i}.") for i in range(30)}
    assert repeated_lines(pages) == frozenset()


def test_paragraph_length_lines_and_whole_bodies_are_kept() -> None:
    long_line = "A long shared paragraph. " * (MAX_LINE_CHARS // 20)
    assert line_keys(long_line) == frozenset()
    drop = line_keys(NEWSLETTER)
    assert strip_lines(NEWSLETTER, drop) == NEWSLETTER  # never emptied
    # spelling variants fold together: case, spacing, Arabic letter forms
    assert line_keys("SIGN UP  for the harbour daily newsletter") == drop
    assert line_keys("اشترك في النشرة") == line_keys("إشترك في النشرة")
