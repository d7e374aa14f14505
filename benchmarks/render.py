"""Bytes for the synthetic corpus: article pages (50-200 KB of HTML, mostly boilerplate; with the
`real` mix 150-400 KB, as real news pages weigh) and RSS 2.0.

Pages look like a commercial news site, because extraction cost is driven by everything around the
article: mega-menus, sidebars, inline CSS/JS and JSON state, a comments section, a cookie banner.
Boilerplate text comes from per-language pools built once; article bodies are generated per story.
"""

from __future__ import annotations

import json
import random
from dataclasses import dataclass
from email.utils import format_datetime
from html import escape

import words
from corpus import GRAMMARS, Corpus, Site, Story, person

PAGE_BYTES = (50_000, 196_000)  # the last padding block may add up to 4 KB


@dataclass(frozen=True)
class PageMix:
    """What the page around the article weighs. `real` follows what real news pages carry: a
    script bundle and a framework's JSON state inline, the article several dozen wrapper divs
    deep, and hundreds of links."""

    page_bytes: tuple[int, int] = PAGE_BYTES
    bundle_bytes: tuple[int, int] = (0, 0)  # one inline <script> of minified-looking code
    state_bytes: tuple[int, int] = (0, 0)  # one inline JSON blob (__NEXT_DATA__ and the like)
    nesting: tuple[int, int] = (0, 0)  # wrapper divs around the article
    extra_links: tuple[int, int] = (0, 0)  # links in a site map block


MIXES = {"generated": PageMix(),
         "real": PageMix((150_000, 396_000), (40_000, 120_000), (20_000, 90_000), (20, 60), (150, 400))}


def _bundle(rng: random.Random, size: int) -> str:
    parts, n = [], 0
    while n < size:
        name = f"_{rng.randrange(36**4):x}"
        part = (f"function {name}(e,t){{var n=e[{rng.randrange(999)}]||{{}};return t?n.{name}(t):"
                f"Object.assign({{}},n,{{k:{rng.randrange(10**6)}}})}};")
        parts.append(part)
        n += len(part)
    return f"<script>{''.join(parts)}</script>"


def _state_blob(rng: random.Random, titles: list[str], size: int) -> str:
    items, n = [], 0
    while n < size:
        item = {"id": f"{rng.randrange(16**16):016x}", "title": rng.choice(titles),
                "url": f"/story/{rng.randrange(10**7)}", "tags": [rng.choice(titles)[:20] for _ in range(3)],
                "views": rng.randrange(10**6)}
        items.append(item)
        n += len(str(item))
    return (f'<script id="__NEXT_DATA__" type="application/json">'
            f'{json.dumps({"props": {"pageProps": {"items": items}}}, ensure_ascii=False)}</script>')


class Pools:
    """Headlines and sentences reused by teasers, menus and comments: generating every boilerplate
    word afresh would make corpus generation, not the pipeline, the slow part of a 10k run."""

    def __init__(self, seed: int):
        self.titles, self.sentences = {}, {}
        for lang, grammar in GRAMMARS.items():
            rng = random.Random(f"{seed}/pools/{lang}")
            self.titles[lang] = [escape(grammar.title(rng)) for _ in range(400)]
            self.sentences[lang] = [escape(grammar.sentence(rng)) for _ in range(800)]


def body_paragraphs(c: Corpus, story: Story) -> list[str]:
    """Plain-text paragraphs; equal for stories sharing `body_seed`, except a wire copy's edges."""
    lang = c.sites[story.site].lang
    rng = random.Random(f"{c.seed}/body/{story.body_seed}")
    grammar = GRAMMARS[lang]
    paras = [" ".join(grammar.sentence(rng) for _ in range(rng.randint(2, 6))) for _ in range(rng.randint(5, 15))]
    if story.variant == "wire":
        wrng, chrome = random.Random(f"{c.seed}/wire/{story.id}"), words.CHROME[lang]
        city = rng.choice(grammar.vocab["NAME"])
        paras[0] = f"{city.upper() if lang == 'en' else city} {chrome['wire']} — {paras[0]}"
        paras.append(chrome["wire_end"].format(a=person(lang, wrng), b=person(lang, wrng)))
    return paras


def _links(rng: random.Random, titles: list[str], n: int, prefix: str) -> str:
    return "".join(f'<li><a href="{prefix}/{rng.randrange(10**6)}.html">{rng.choice(titles)}</a></li>'
                   for _ in range(n))


def _style(rng: random.Random) -> str:
    rules = (f".c-{rng.randrange(16**6):06x}{{margin:{rng.randint(0, 40)}px {rng.randint(0, 40)}px;"
             f"color:#{rng.randrange(16**6):06x};display:{rng.choice(('flex', 'block', 'grid'))}}}"
             for _ in range(rng.randint(40, 150)))
    return f"<style>{''.join(rules)}</style>"


def _head(story: Story, site: Site, base: str, summary: str, rng: random.Random) -> str:
    url, title = base + story.path, escape(story.title)
    when = story.published.strftime("%Y-%m-%dT%H:%M:%SZ")
    ld = json.dumps({"@context": "https://schema.org", "@type": "NewsArticle", "headline": story.title,
                     "datePublished": when, "author": {"@type": "Person", "name": story.author},
                     "publisher": {"@type": "Organization", "name": site.name}}, ensure_ascii=False)
    return "\n".join([
        '<meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">',
        f"<title>{title} | {escape(site.name)}</title>",
        f'<meta name="description" content="{escape(summary)}">',
        f'<meta name="author" content="{escape(story.author)}">',
        f'<link rel="canonical" href="{url}">',
        f'<meta property="og:type" content="article"><meta property="og:site_name" content="{escape(site.name)}">',
        f'<meta property="og:title" content="{title}"><meta property="og:url" content="{url}">',
        f'<meta property="og:image" content="{base}/images/{story.id}.jpg">',
        f'<meta property="article:published_time" content="{when}">',
        f'<meta property="article:section" content="{escape(site.sections[0])}">',
        f'<link rel="alternate" type="application/rss+xml" href="{base}/feeds/{site.slug}.xml">',
        f'<link rel="stylesheet" href="/static/{site.slug}.css">',
        _style(rng),
        '<script>window.dataLayer=window.dataLayer||[];window.dataLayer.push({"pageType":"article",'
        f'"storyId":{story.id}}});</script>',
        f'<script type="application/ld+json">{ld}</script>' if rng.random() < 0.6 else "",
    ])


def _header(site: Site, pools: Pools, rng: random.Random) -> str:
    ch, titles = words.CHROME[site.lang], pools.titles[site.lang]
    menu = "".join(f'<li class="menu-item"><a href="/section/{i}/">{escape(s)}</a>'
                   f'<ul class="submenu">{_links(rng, titles, rng.randint(5, 10), f"/section/{i}")}</ul></li>'
                   for i, s in enumerate(site.sections))
    return (f'<div class="cookie-banner" role="dialog"><p>{ch["cookie"]}</p><button>{ch["accept"]}</button>'
            f'<button>{ch["reject"]}</button></div><a class="skip-link" href="#main">{ch["skip"]}</a>'
            f'<header class="site-header"><a class="logo" href="/">{escape(site.name)}</a>'
            f'<form class="site-search" action="/search"><input type="search" name="q">'
            f'<button>{ch["search"]}</button></form><nav class="main-nav"><ul>{menu}</ul></nav></header>'
            f'<nav class="breadcrumb"><a href="/">{ch["home"]}</a> › <a href="/section/0/">'
            f'{escape(site.sections[0])}</a></nav>')


def _article(story: Story, site: Site, paras: list[str], pools: Pools, rng: random.Random) -> str:
    ch = words.CHROME[site.lang]
    caption = pools.titles[site.lang][story.body_seed % len(pools.titles[site.lang])]  # copies share photos
    body = [f"<p>{escape(p)}</p>" for p in paras]
    aside = (f'<aside class="read-also"><h2>{ch["read_also"]}</h2><ul>'
             f'{_links(rng, pools.titles[site.lang], 3, "/story")}</ul></aside>')
    body.insert(len(body) // 2, aside)
    return (f'<main id="main"><article class="story"><h1>{escape(story.title)}</h1>'
            f'<p class="byline">{ch["by"]} <a rel="author" href="/author/{story.id % 97}">'
            f'{escape(story.author)}</a> · <time datetime="{story.published.isoformat()}">'
            f'{story.published:%d.%m.%Y %H:%M}</time></p><figure><img src="/images/{story.id}.jpg" alt="">'
            f'<figcaption>{caption}</figcaption></figure>'
            f'<div class="story-body">{"".join(body)}</div><div class="share">{ch["share"]}: '
            '<a href="#">Facebook</a> <a href="#">X</a> <a href="#">WhatsApp</a></div></article>')


def _sidebar(site: Site, pools: Pools, rng: random.Random) -> str:
    ch, titles = words.CHROME[site.lang], pools.titles[site.lang]
    return (f'<aside class="sidebar"><section class="most-read"><h2>{ch["most_read"]}</h2><ol>'
            f'{_links(rng, titles, rng.randint(10, 20), "/story")}</ol></section><section class="related">'
            f'<h2>{ch["related"]}</h2><ul>{_links(rng, titles, rng.randint(10, 30), "/story")}</ul></section>'
            f'<form class="newsletter"><p>{ch["newsletter"]}</p><input type="email">'
            f'<button>{ch["subscribe"]}</button></form><div class="ad-slot" data-slot="side-1">'
            f'<script>googletag.cmd.push(function(){{googletag.display("side-1")}});</script></div></aside></main>')


def _comments(site: Site, pools: Pools, rng: random.Random) -> str:
    sentences = pools.sentences[site.lang]
    items = "".join(f'<div class="comment"><span class="comment-author">{escape(person(site.lang, rng))}</span>'
                    f'<p>{" ".join(rng.choices(sentences, k=rng.randint(1, 3)))}</p><button>Reply</button></div>'
                    for _ in range(rng.randint(5, 40)))
    return f'<section id="comments" class="comments"><h2>{words.CHROME[site.lang]["comments"]}</h2>{items}</section>'


def _footer(site: Site, pools: Pools, rng: random.Random) -> str:
    cols = "".join(f'<ul class="footer-col">{_links(rng, pools.titles[site.lang], rng.randint(10, 20), "/p")}</ul>'
                   for _ in range(rng.randint(4, 6)))
    return (f'<footer class="site-footer">{cols}<p>© 2025 {escape(site.name)}. '
            f'{words.CHROME[site.lang]["rights"]}</p></footer>')


def _card(titles: list[str], rng: random.Random) -> str:
    """A teaser as site templates emit it: wrapper divs, responsive image, icon, link, time."""
    img = f"/images/t{rng.randrange(10**6)}"
    return (f'<div class="card card--{rng.choice(("s", "m", "l"))}" data-id="{rng.randrange(10**6)}">'
            f'<div class="card__media"><picture><source srcset="{img}-640.webp 640w, {img}-1280.webp 1280w">'
            f'<img src="{img}.jpg" loading="lazy" alt=""></picture></div><div class="card__body">'
            f'<a class="card__link" href="/story/{rng.randrange(10**6)}.html"><h3>{rng.choice(titles)}</h3></a>'
            '<div class="card__meta"><svg viewBox="0 0 16 16" aria-hidden="true"><path d="M8 0a8 8 0 1 0 0 16A8 8 0 '
            f'0 0 8 0z"/></svg><time>{rng.randint(1, 59)} min</time></div></div></div>')


def _padding(site: Site, pools: Pools, rng: random.Random, need: int) -> str:
    """Teaser grids (no summaries: trafilatura takes long runs of them for the article when the body is
    short, which would make planted duplicates unreliable) and inline JSON state, up to the page size."""
    parts, size, titles = [], 0, pools.titles[site.lang]
    while size < need:
        if rng.random() < 0.75:
            cards = "".join(_card(titles, rng) for _ in range(12))
            part = (f'<section class="more"><h2>{words.CHROME[site.lang]["more"]} {escape(site.name)}</h2>'
                    f'<div class="grid">{cards}</div></section>')
        else:
            state = [{"id": f"{rng.randrange(16**12):012x}", "t": rng.choice(titles), "v": rng.randrange(10**5)}
                     for _ in range(40)]
            part = f"<script>window.__STATE__.push({json.dumps(state, ensure_ascii=False)});</script>"
        parts.append(part)
        size += len(part.encode())
    return "".join(parts)


def render_page(c: Corpus, story: Story, base: str, pools: Pools, mix: PageMix = MIXES["generated"]
                ) -> tuple[bytes, str]:
    """The page's UTF-8 bytes and its summary (the first sentence, for the feed item)."""
    site = c.sites[story.site]
    rng = random.Random(f"{c.seed}/page/{story.id}")
    target = rng.randint(*mix.page_bytes)
    paras = body_paragraphs(c, story)
    summary = paras[0].split(". ")[0].rstrip(".") + "."
    depth = rng.randint(*mix.nesting)
    article = ('<div class="wrap">' * depth + _article(story, site, paras, pools, rng) + "</div>" * depth)
    core = [_header(site, pools, rng), article, _sidebar(site, pools, rng), _comments(site, pools, rng)]
    if mix.extra_links[1]:
        links = _links(rng, pools.titles[site.lang], rng.randint(*mix.extra_links), "/a")
        core.append(f'<nav class="sitemap"><ul>{links}</ul></nav>')
    core.append(_footer(site, pools, rng))
    if mix.bundle_bytes[1]:
        core.append(_bundle(rng, rng.randint(*mix.bundle_bytes)))
    if mix.state_bytes[1]:
        core.append(_state_blob(rng, pools.titles[site.lang], rng.randint(*mix.state_bytes)))
    head = _head(story, site, base, summary, rng)
    direction = ' dir="rtl"' if site.lang == "ar" else ""
    start = f'<!DOCTYPE html>\n<html lang="{site.lang}"{direction}>\n<head>\n{head}\n</head>\n<body>'
    used = len(start.encode()) + sum(len(p.encode()) for p in core) + 60
    tail = _padding(site, pools, rng, target - used)
    html = f"{start}{''.join(core)}<script>window.__STATE__=[];</script>{tail}</body>\n</html>\n"
    return html.encode(), summary


def render_feed(c: Corpus, site: Site, bases: list[str], summaries: dict[int, str]) -> bytes:
    """RSS 2.0, newest first; a story cross-listed from another site keeps that site's URL."""
    items, base = [], bases[site.index]
    for sid in sorted(c.listings[site.index], key=lambda i: c.stories[i].published, reverse=True):
        s = c.stories[sid]
        url = bases[s.site] + s.path
        items.append(f"<item><title>{escape(s.title)}</title><link>{url}</link>"
                     f'<guid isPermaLink="true">{url}</guid>'
                     f"<pubDate>{format_datetime(s.published, usegmt=True)}</pubDate>"
                     f"<dc:creator>{escape(s.author)}</dc:creator><category>{escape(site.sections[0])}</category>"
                     f"<description>{escape(summaries[sid])}</description></item>")
    return ('<?xml version="1.0" encoding="UTF-8"?>\n<rss version="2.0" xmlns:dc="http://purl.org/dc/elements/1.1/" '
            f'xmlns:atom="http://www.w3.org/2005/Atom"><channel><title>{escape(site.name)}</title>'
            f'<link>{base}/</link><atom:link href="{feed_url(site, bases)}" rel="self" '
            f'type="application/rss+xml"/><description>{escape(site.name)}</description>'
            f"<language>{site.lang}</language>{''.join(items)}</channel></rss>\n").encode()


def feed_url(site: Site, bases: list[str]) -> str:
    return f"{bases[site.index]}/feeds/{site.slug}.xml"


def render_site(c: Corpus, bases: list[str], mix: str = "generated") -> tuple[dict[str, bytes], dict[str, bytes]]:
    """(feeds, pages) as URL -> bytes, site i at origin `bases[i]`; rendered up front so that serving
    costs no generation time."""
    pools, pages, summaries = Pools(c.seed), {}, {}
    for story in c.stories.values():
        base = bases[story.site]
        pages[base + story.path], summaries[story.id] = render_page(c, story, base, pools, MIXES[mix])
    feeds = {feed_url(site, bases): render_feed(c, site, bases, summaries) for site in c.sites}
    return feeds, pages
