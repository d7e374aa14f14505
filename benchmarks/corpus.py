"""A deterministic synthetic news corpus: which sites, stories and feed listings exist (not the bytes).

Everything derives from `--seed` through string-seeded `random.Random` instances (stable across
processes and Python runs), so a page can be rebuilt alone and two runs see identical data.
Duplicates are planted on purpose, to exercise the pipeline's dedup like real syndication does:
`same_url` lists one story in a second feed, `copy` republishes a body under another URL (exact
duplicate after extraction), `wire` adds a wire-service prefix and suffix (a near-duplicate).
"""

from __future__ import annotations

import random
from bisect import bisect
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from itertools import accumulate

import words

BASE_DATE = datetime(2025, 3, 1, tzinfo=UTC)  # fixed, and in the past: the pipeline drops future dates
DUP_KINDS = ("same_url", "copy", "wire")

# Next part of speech and its weight; "END" closes the sentence once it is long enough.
_EN_CHAIN = {
    "S": {"DET": 5, "NAME": 2, "NOUN_PL": 3},
    "DET": {"ADJ": 4, "NOUN": 6},
    "ADJ": {"NOUN": 7, "NOUN_PL": 3},
    "NOUN": {"VERB": 6, "PREP": 3, "CONJ": 1},
    "NOUN_PL": {"VERB": 7, "PREP": 3},
    "NAME": {"VERB": 5, "NOUN": 3, "PREP": 2},
    "VERB": {"DET": 4, "PREP": 3, "NUM": 1.5, "END": 2},
    "PREP": {"DET": 6, "NAME": 3, "NUM": 1},
    "NUM": {"NOUN_PL": 1},
    "CONJ": {"DET": 5, "NAME": 3, "NOUN_PL": 2},
}
_DANGLING = ("CONJ", "PREP", "DET")
_AR_CHAIN = {
    "S": {"VERB": 5, "NOUN": 3, "PREP": 2},
    "VERB": {"NOUN": 8, "NAME": 2},
    "NOUN": {"ADJ": 3, "NOUN": 2, "PREP": 3, "CONJ": 1, "END": 1.5},
    "ADJ": {"PREP": 5, "CONJ": 2, "END": 3},
    "PREP": {"NOUN": 7, "NAME": 2, "NUM": 1},
    "NAME": {"PREP": 4, "CONJ": 2, "END": 2, "VERB": 1},
    "NUM": {"NOUN": 1},
    "CONJ": {"VERB": 6, "NOUN": 4},
}


class Grammar:
    """Sentences from a Markov chain over parts of speech: cheap, deterministic, and plausible enough
    for language detection and for trafilatura's text-density scoring."""

    def __init__(self, vocab: dict[str, str], chain: dict[str, dict[str, float]], comma: str):
        self.vocab = {pos: ws.split() for pos, ws in vocab.items()}
        self.chain = {s: (list(nxt), list(accumulate(nxt.values()))) for s, nxt in chain.items()}
        self.comma = comma

    def _next(self, state: str, rng: random.Random) -> str:
        states, cum = self.chain[state]
        return states[bisect(cum, rng.random() * cum[-1])]

    def _word(self, pos: str, rng: random.Random) -> str:
        if pos == "NUM":
            return rng.choice((str(rng.randint(2, 99)), f"{rng.randint(1, 9)},{rng.randint(0, 999):03d}",
                               f"{rng.randint(1, 40)}.{rng.randint(1, 9)}", str(rng.randint(1990, 2025))))
        return rng.choice(self.vocab[pos])

    def words(self, rng: random.Random, low: int, high: int) -> list[str]:
        out: list[str] = []
        tags: list[str] = []
        state = self._next("S", rng)
        while len(out) < high:
            if state == "END":
                if len(out) >= low:
                    break
                state = "CONJ"
            if state == "CONJ" and out:
                out[-1] += self.comma
            out.append(self._word(state, rng))
            tags.append(state)
            state = self._next(state, rng)
        while len(tags) > 1 and tags[-1] in _DANGLING:  # cut off at `high`: do not end on "and", "of", "the"
            tags.pop()
            out.pop()
        out[-1] = out[-1].rstrip(self.comma)
        return out

    def sentence(self, rng: random.Random, low: int = 8, high: int = 28) -> str:
        text = " ".join(self.words(rng, low, high))
        return text[0].upper() + text[1:] + "."

    def title(self, rng: random.Random) -> str:
        text = " ".join(self.words(rng, 6, 12))
        return text[0].upper() + text[1:]


GRAMMARS = {"en": Grammar(words.EN_WORDS, _EN_CHAIN, ","), "ar": Grammar(words.AR_WORDS, _AR_CHAIN, "،")}
_NAMES = {"en": (words.EN_FIRST.split(), words.EN_LAST.split()),
          "ar": (words.AR_FIRST.split(), words.AR_LAST.split())}


def person(lang: str, rng: random.Random) -> str:
    first, last = _NAMES[lang]
    return f"{rng.choice(first)} {rng.choice(last)}"


@dataclass(frozen=True)
class Site:
    """One publication with one RSS feed."""

    index: int
    lang: str
    name: str
    slug: str
    sections: tuple[str, ...]


@dataclass(frozen=True)
class Story:
    """One article page. `body_seed` is shared by a story and its copies, so their bodies match."""

    id: int
    site: int
    path: str
    body_seed: int
    variant: str  # original | copy | wire
    title: str
    author: str
    published: datetime


@dataclass
class Corpus:
    seed: int
    sites: list[Site]
    stories: dict[int, Story] = field(default_factory=dict)
    listings: list[list[int]] = field(default_factory=list)  # story ids per site's feed
    dups: dict[str, int] = field(default_factory=lambda: dict.fromkeys(DUP_KINDS, 0))

    def body_key(self, story: Story) -> tuple[int, int]:
        """Stories with equal keys have equal extracted bodies: one of them survives dedup."""
        return story.body_seed, story.id if story.variant == "wire" else -1

    def stats(self) -> dict[str, int]:
        return {"feeds": len(self.sites), "entries": sum(map(len, self.listings)), "pages": len(self.stories),
                "arabic_pages": sum(self.sites[s.site].lang == "ar" for s in self.stories.values()),
                "expected_articles": len({self.body_key(s) for s in self.stories.values()}),
                **{f"dup_{k}": v for k, v in self.dups.items()}}


def _sites(n: int, arabic_share: float, rng: random.Random) -> list[Site]:
    """Arabic feeds spread evenly through the list, so any prefix of it keeps roughly the share."""
    sites, counts = [], {"en": 0, "ar": 0}
    for i in range(n):
        lang = "ar" if int((i + 1) * arabic_share) > int(i * arabic_share) else "en"
        names = (words.AR_SITES if lang == "ar" else words.EN_SITES).split("|")
        k = counts[lang]
        counts[lang] += 1
        name = names[k % len(names)] + ("" if k < len(names) else f" {k // len(names) + 1}")
        sections = tuple((words.AR_SECTIONS if lang == "ar" else words.EN_SECTIONS).split("|"))
        sites.append(Site(i, lang, name, f"{lang}{i:03d}", tuple(rng.sample(sections, len(sections)))))
    return sites


def _slug(story_id: int, title: str, lang: str) -> str:
    if lang == "ar":
        return f"story-{story_id}"
    return "-".join(w.strip(",").lower() for w in title.split()[:6]) + f"-{story_id}"


def _new_story(c: Corpus, site: Site, source: Story | None = None, variant: str = "original") -> Story:
    """A new page; a `copy` or `wire` one republishes `source`'s body and headline (trafilatura keeps
    the <h1> in the body text, so a re-headlined copy would not be an exact duplicate)."""
    sid = len(c.stories)
    rng = random.Random(f"{c.seed}/story/{sid}")
    published = (source.published + timedelta(minutes=rng.randint(20, 600)) if source
                 else BASE_DATE + timedelta(minutes=rng.randint(0, 120 * 24 * 60)))
    title = source.title if source else GRAMMARS[site.lang].title(rng)
    path = f"/{site.slug}/{published:%Y/%m}/{_slug(sid, title, site.lang)}.html"
    story = Story(sid, site.index, path, source.body_seed if source else sid, variant, title,
                  person(site.lang, rng), published)
    c.stories[sid] = story
    return story


def build_corpus(feeds: int, per_feed: int, seed: int = 1, arabic_share: float = 0.3,
                 dup_share: float = 0.05) -> Corpus:
    """Sites, stories and listings; a `dup_share` of feed entries are planted duplicates."""
    rng = random.Random(f"{seed}/corpus")
    corpus = Corpus(seed, _sites(feeds, arabic_share, rng))
    originals: dict[str, list[Story]] = {"en": [], "ar": []}
    for site in corpus.sites:
        listing: list[int] = []
        for _ in range(per_feed):
            if rng.random() < dup_share and (pool := [
                    s for s in originals[site.lang][-500:] if s.site != site.index and s.id not in listing]):
                source, kind = rng.choice(pool), rng.choice(DUP_KINDS)
                corpus.dups[kind] += 1
                story = source if kind == "same_url" else _new_story(corpus, site, source, kind)
            else:
                story = _new_story(corpus, site)
                originals[site.lang].append(story)
            listing.append(story.id)
        corpus.listings.append(listing)
    return corpus
