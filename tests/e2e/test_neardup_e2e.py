"""An Arabic wire story reaching users through two feeds, one copy with diacritics and a wire
suffix, ends in one near-duplicate cluster; a third copy in a later run joins the same cluster."""

from __future__ import annotations

from pathlib import Path

import lxml.html
from conftest import query

from pipeline.commands.demo_server import DEMO_DIR, FixtureServer, send
from pipeline.config import parse_config
from pipeline.run import run_batch

FATHA, KASRA = "\u064e", "\u0650"


def _story() -> list[str]:
    page = lxml.html.fromstring((DEMO_DIR / "site/articles/ar/wire-copy-a.html").read_text(encoding="utf-8"))
    return [p.text_content().strip() for p in page.iterfind(".//article//p") if p.text_content().strip()]


def _with_diacritics(text: str) -> str:
    out = []
    for i, ch in enumerate(text):
        out.append(ch)
        if "\u0621" <= ch <= "\u064a" and i % 3 == 0:
            out.append(FATHA if i % 2 else KASRA)
    return "".join(out)


def _page(title: str, paragraphs: list[str]) -> bytes:
    body = "".join(f"<p>{p}</p>" for p in paragraphs)
    return (f'<html lang="ar" dir="rtl"><head><meta charset="utf-8"><title>{title}</title></head>'
            f"<body><nav><a href='/'>الرئيسية</a></nav><article><h1>{title}</h1>{body}</article>"
            "</body></html>").encode()


DAYS = {"/a.html": 20, "/b.html": 21, "/c.html": 22}  # publication order decides a cluster's first


def _feed(base: str, items: list[str]) -> bytes:
    entries = "".join(f"<item><title>خبر {i}</title><link>{base}{path}</link><guid>{path}</guid>"
                      f"<pubDate>{DAYS[path]} Nov 2026 10:00:00 +0000</pubDate></item>"
                      for i, path in enumerate(items))
    return (f'<?xml version="1.0" encoding="utf-8"?><rss version="2.0"><channel><title>أخبار</title>'
            f"<language>ar</language>{entries}</channel></rss>").encode()


def test_arabic_wire_copies_cluster_within_and_across_runs(tmp_path: Path) -> None:
    story = _story()
    original = _page("ميناء الصدف يستقبل أول شحنة", story)
    diacritised = _page("وصول أول شحنة إلى ميناء الصدف",
                        [_with_diacritics(p) for p in story] + ["(وكالة أنباء الواحة - خدمة الأخبار)"])
    third = _page("شحنة أولى في الصدف", ["الصدف (وكالة أنباء الواحة) -", *story[:-1]])
    with FixtureServer(tmp_path) as server:
        b = server.base
        server.routes.update({
            "/a.html": lambda h: send(h, 200, original, "text/html; charset=utf-8"),
            "/b.html": lambda h: send(h, 200, diacritised, "text/html; charset=utf-8"),
            "/c.html": lambda h: send(h, 200, third, "text/html; charset=utf-8"),
            "/one.xml": lambda h: send(h, 200, _feed(b, ["/a.html"]), "application/rss+xml"),
            "/two.xml": lambda h: send(h, 200, _feed(b, ["/b.html"]), "application/rss+xml"),
        })
        cfg = parse_config({"feeds": [{"url": f"{b}/one.xml"}, {"url": f"{b}/two.xml"}],
                            "output": {"path": str(tmp_path / "out")},
                            "http": {"allow_private_networks": True, "per_host_delay_s": 0},
                            "polling": {"respect_schedule": False}})
        first = run_batch(cfg)
        server.routes["/one.xml"] = lambda h: send(h, 200, _feed(b, ["/a.html", "/c.html"]), "application/rss+xml")
        second = run_batch(cfg)
    rows = query(tmp_path / "out", "SELECT url, article_id, cluster_id, duplicate_of, language, content_hash "
                                   "FROM t ORDER BY run_id, url")
    assert [r[0].rsplit("/", 1)[1] for r in rows] == ["a.html", "b.html", "c.html"]
    assert len({r[5] for r in rows}) == 3  # three different bodies: not exact duplicates
    first_id = rows[0][1]
    assert {r[2] for r in rows} == {first_id}  # one cluster, named after the earliest article
    assert [r[3] for r in rows] == [None, first_id, first_id]
    assert {r[4] for r in rows} == {"ar"}
    assert first.counters["near_duplicates"] == 1 and second.counters["near_duplicates"] == 1


def test_drop_mode_writes_only_the_first_of_a_cluster(tmp_path: Path) -> None:
    story = _story()
    with FixtureServer(tmp_path) as server:
        b = server.base
        server.routes.update({
            "/a.html": lambda h: send(h, 200, _page("أ", story), "text/html; charset=utf-8"),
            "/b.html": lambda h: send(h, 200, _page("ب", [*story, "(رويترز)"]), "text/html; charset=utf-8"),
            "/f.xml": lambda h: send(h, 200, _feed(b, ["/a.html", "/b.html"]), "application/rss+xml"),
        })
        cfg = parse_config({"feeds": [{"url": f"{b}/f.xml"}], "output": {"path": str(tmp_path / "out")},
                            "http": {"allow_private_networks": True, "per_host_delay_s": 0},
                            "dedup": {"near_duplicates": "drop"}})
        summary = run_batch(cfg)
    assert query(tmp_path / "out", "SELECT count(*), count(duplicate_of) FROM t") == [(1, 0)]
    assert summary.counters["near_duplicates"] == 1


def test_a_body_signed_on_the_extraction_pool_is_not_signed_again() -> None:
    """The near-duplicate stage takes the pool's signature for an unchanged body (same content
    hash), and signs a body that changed since (site boilerplate removed) itself."""
    from pipeline.articles import neardup
    from pipeline.records import Article
    from pipeline.text import content_hash
    from pipeline.transforms.neardup import _sign

    body = " ".join(_story())
    article = Article("id1", "u", "u", "f", "s", "d", None, "t", body, None, content_hash=content_hash(body))
    pooled = b"\x01" * len(neardup.signature(body))  # not what signing here would give
    assert _sign(article, {article.content_hash: pooled}, neardup.DEFAULT) == ("id1", (article, pooled))
    assert _sign(article, {"another hash": pooled}, neardup.DEFAULT) == ("id1", (article, neardup.signature(body)))


def test_band_shards_find_exactly_the_pairs_of_per_band_buckets() -> None:
    """Grouping band buckets into shards, and filtering stored signatures by the new band keys,
    must verify the same pairs as one bucket per band key over every member."""
    import random
    from collections import defaultdict

    import numpy as np

    from pipeline.articles import neardup
    from pipeline.articles.neardup import Member
    from pipeline.transforms.neardup import _shards, _sharing_shards, _verify

    rng = random.Random(0)
    params = neardup.DEFAULT

    def sig() -> np.ndarray:
        return np.array([rng.getrandbits(32) for _ in range(params.num_perm)], dtype="<u4")

    def edited(base: np.ndarray) -> np.ndarray:
        out = base.copy()
        for i in rng.sample(range(params.num_perm), rng.randint(0, 70)):
            out[i] = rng.getrandbits(32)
        return out

    originals = [sig() for _ in range(12)]
    members = []
    for n in range(80):
        values = edited(rng.choice(originals)) if n % 3 else sig()
        stored = n % 2 == 0
        members.append((Member(f"a{n:02d}", (0 if stored else 1, n, f"a{n:02d}"), f"c{n}" if stored else None),
                        values.tobytes()))
    new = [m for m in members if m[0].cluster_id is None]
    stored = [m for m in members if m[0].cluster_id is not None]

    buckets = defaultdict(list)
    for member, s in members:
        for key in neardup.band_keys(s, params):
            buckets[key].append((member, s))
    expected = {(a, b) for key, group in buckets.items()
                for a, b in neardup.verify_bucket(key, [(m.article_id, s) for m, s in group], params)
                if any(m.cluster_id is None for m, _ in group if m.article_id in (a, b))}

    new_elements = [e for item in new for e in _shards(item, params)]
    wanted = {k for _, (_, _, keys) in new_elements for k in keys}
    shards = defaultdict(list)
    rows = [{"article_id": m.article_id, "cluster_id": m.cluster_id, "published_at": None, "signature": s}
            for m, s in stored]  # as the signature store gives them
    for shard, value in new_elements + list(_sharing_shards(rows, params, neardup.by_band(wanted))):
        shards[shard].append(value)
    found = {(ma.article_id, mb.article_id) for shard in shards.items() for _, (ma, mb) in _verify(shard, params)}
    assert len(expected) > 20 and found == expected
