"""Precision/recall of near-duplicate detection on labelled variants of original articles.

Each article under tests/data/neardup/ (20 English, 20 Arabic, several same-topic groups) gets one
variant of each kind in KINDS: wire dateline and credit line, a dropped paragraph, reordered
paragraphs, a new headline, punctuation and layout, orthography (Arabic diacritics, hamza/ya/taa
marbuta spellings, tatweel, Arabic-Indic digits; English case and Unicode compatibility forms), a
light copy edit, an outlet footer shared by every article, and a combination. Truth: two documents
are duplicates iff they come from the same article; same-topic pairs are the hard negatives.

The run goes through the pipeline's steps (signature -> band keys -> buckets -> per-bucket
verification -> union-find clusters) and scores every pair of documents by cluster membership,
once in a single run and once split over two runs with persisted signatures. --stress scores the
harder STRESS_KINDS instead; --sweep compares shingle sizes, bandings and thresholds.

    python benchmarks/neardup_eval.py [--seed N] [--seeds N] [--json] [--stress | --sweep]
        [--shingle-size K] [--bands B --rows R] [--threshold T]
"""

from __future__ import annotations

import argparse
import itertools
import json
import random
import re
import statistics
import sys
import time
from collections import Counter, defaultdict
from collections.abc import Callable, Iterable
from dataclasses import asdict, dataclass
from datetime import datetime, timedelta
from pathlib import Path

from pipeline.articles.neardup import (
    DEFAULT,
    Member,
    NearDupParams,
    assign_clusters,
    band_keys,
    member_rank,
    shingle_hashes,
    signature,
    verify_bucket,
)
from pipeline.text import normalize_for_hash

DATA_DIR = Path(__file__).resolve().parent.parent / "tests" / "data" / "neardup"
KINDS = ("wire", "drop_paragraph", "reorder", "headline", "punctuation", "orthography", "light_edit", "footer",
         "combined")
# Harder than the variants, reported apart (--stress) to show where detection stops.
STRESS_KINDS = ("heavy_edit", "new_lead", "first_half", "teaser")


@dataclass(frozen=True)
class Source:
    id: str
    lang: str
    topic: str  # same-topic group ("en-flood"); a single article is its own topic
    city: str
    published: datetime
    headline: str
    paragraphs: tuple[str, ...]


@dataclass(frozen=True)
class Doc:
    id: str
    source: str
    lang: str
    topic: str
    kind: str  # "original" or one of KINDS
    published: datetime
    text: str


def load_sources(data_dir: Path = DATA_DIR) -> list[Source]:
    """Articles as `key: value` header lines, a blank line, then paragraphs split by blank lines."""
    sources = []
    for path in sorted(data_dir.glob("*.txt")):
        head, _, body = path.read_text(encoding="utf-8").partition("\n\n")
        meta = dict(line.split(": ", 1) for line in head.splitlines())
        topic = re.sub(r"-\d+$", "", path.stem)
        sources.append(Source(path.stem, path.stem.split("-")[0], topic, meta["city"],
                              datetime.fromisoformat(meta["published"]), meta["headline"],
                              tuple(p.strip() for p in body.split("\n\n") if p.strip())))
    return sources


def compose(headline: str, paragraphs: Iterable[str]) -> str:
    return "\n\n".join([headline, *paragraphs])


# --- variant generators: each takes (source, rng) and returns (headline, paragraphs) ---------

_REPORTERS = ["Nell Ambrose", "Tobias Quarry", "Ines Lowther", "Pavel Dromm", "Ada Kinsey", "Rufus Tellan"]
_AR_REPORTERS = ["سامر الأيوبي", "هبة النعيمي", "وائل السقا", "ريم الحمدان", "معاذ الراشد", "لينا العطية"]
_EN_HEADLINES = ["UPDATE 2-{city} story develops as officials respond", "What we know so far in {city}",
                 "{city}: the latest", "Explainer: what happened in {city} this week"]
_AR_HEADLINES = ["تحديث: تطورات جديدة في {city}", "ما نعرفه حتى الآن عما جرى في {city}",
                 "{city}: آخر المستجدات", "قراءة في أحداث {city} هذا الأسبوع"]
# One outlet's standard footer on different articles: shared text that must not make them duplicates.
_EN_FOOTER = ("This story was produced by the Northgate News Service newsroom. For more stories like this, sign up "
              "for our free morning newsletter and follow us on social media. To report an error, contact the "
              "standards desk through the form on our website.")
_AR_FOOTER = ("أعدت هذه المادة غرفة الأخبار في وكالة الشمال للأنباء. للاطلاع على مزيد من الأخبار اشترك في نشرتنا "
              "الصباحية المجانية وتابعنا على مواقع التواصل الاجتماعي. للإبلاغ عن أي خطأ يرجى التواصل مع قسم "
              "التدقيق عبر النموذج المتاح على موقعنا.")
_EN_LEAD = ("Officials in {city} gave new details on Friday about the events described below and said more "
            "information would be released in the coming days, as residents and businesses waited for answers.")
_AR_LEAD = ("كشف مسؤولون في {city} يوم الجمعة عن تفاصيل جديدة بشأن الأحداث المذكورة أدناه، وقالوا إن مزيدا من "
            "المعلومات سيعلن خلال الأيام المقبلة، فيما ينتظر السكان وأصحاب الأعمال إجابات واضحة.")
_EN_FILLERS = ["also", "however", "reportedly", "meanwhile", "still", "now"]
_AR_FILLERS = ["أيضا", "كذلك", "حاليا", "بدوره", "فعلا", "اليوم"]

Variant = tuple[str, list[str]]


def _wire(src: Source, rng: random.Random) -> Variant:
    paras = list(src.paragraphs)
    if src.lang == "ar":
        paras[0] = f"{src.city} (خدمة الأنباء) - {paras[0]}"
        paras.append(f"(تغطية صحفية {rng.choice(_AR_REPORTERS)}؛ تحرير {rng.choice(_AR_REPORTERS)})")
    else:
        paras[0] = f"{src.city} (Wire Service) - {paras[0]}"
        paras.append(f"Reporting by {rng.choice(_REPORTERS)}; editing by {rng.choice(_REPORTERS)}")
    return src.headline, paras


def _drop_paragraph(src: Source, rng: random.Random) -> Variant:
    paras = list(src.paragraphs)
    del paras[rng.randrange(1, len(paras))]  # the lead paragraph is what every copy keeps
    return src.headline, paras


def _reorder(src: Source, rng: random.Random) -> Variant:
    paras = list(src.paragraphs)
    while paras == list(src.paragraphs):
        rng.shuffle(paras)
    return src.headline, paras


def _headline(src: Source, rng: random.Random) -> Variant:
    pool = _AR_HEADLINES if src.lang == "ar" else _EN_HEADLINES
    return rng.choice(pool).format(city=src.city.title() if src.lang == "en" else src.city), list(src.paragraphs)


_EN_PUNCT = [(r'"([^"]*)"', "\u201c\\1\u201d"), (r", ", " , "), (r"\. ", ". . . "), (r" - ", " \u2014 "),
             (r"'", "\u2019"), (r"(\d),(\d)", r"\1 \2"), (r"\.$", "!")]
_AR_PUNCT = [(r'"([^"]*)"', "«\\1»"), (r"،", ","), (r"\. ", "... "), (r" - ", " \u2013 "), (r":", "؛"),
             (r"\.$", ".."), (r"%", "٪")]


def _punctuation(src: Source, rng: random.Random) -> Variant:
    rules = _AR_PUNCT if src.lang == "ar" else _EN_PUNCT
    out = []
    for para in src.paragraphs:
        for pattern, repl in rules:
            if rng.random() < 0.6:
                para = re.sub(pattern, repl, para)
        if rng.random() < 0.5:  # hard-wrapped plain-text copy
            para = _wrap(para, rng.randrange(50, 90))
        out.append(para.replace(" ", "  ") if rng.random() < 0.3 else para)
    return src.headline, out


def _wrap(text: str, width: int) -> str:
    lines, line = [], ""
    for word in text.split(" "):
        if line and len(line) + len(word) >= width:
            lines.append(line)
            line = word
        else:
            line = f"{line} {word}" if line else word
    return "\n".join([*lines, line])


_HARAKAT = "\u064e\u064f\u0650\u0651\u0652\u064b\u064c\u064d"
_AR_LETTER = re.compile(r"[\u0621-\u064a]")
_INDIC = str.maketrans("0123456789", "٠١٢٣٤٥٦٧٨٩")
_WESTERN = str.maketrans("٠١٢٣٤٥٦٧٨٩", "0123456789")


def _arabic_word(word: str, rng: random.Random) -> str:
    if rng.random() < 0.3:  # vocalise: a haraka (sometimes with shadda) after letters
        word = "".join(ch + (rng.choice(_HARAKAT) if _AR_LETTER.match(ch) and rng.random() < 0.7 else "")
                       for ch in word)
    if rng.random() < 0.5:  # hamza spellings both ways
        word = word.translate(str.maketrans("أإآ", "ااا")) if rng.random() < 0.7 else re.sub("^ا", "أ", word)
    if rng.random() < 0.5:
        word = re.sub("ي$", "ى", word)
        word = re.sub("ة$", "ه", word)
    if rng.random() < 0.15 and len(word) > 3:  # kashida stretching between letters
        cut = rng.randrange(1, len(word) - 1)
        word = word[:cut] + "\u0640" * rng.randrange(1, 4) + word[cut:]
    return word


def _english_word(word: str, rng: random.Random) -> str:
    if rng.random() < 0.08:
        word = word.upper()
    if rng.random() < 0.3:
        word = word.replace("fi", "\ufb01").replace("fl", "\ufb02")  # ligatures: NFKC folds them
    if rng.random() < 0.05 and len(word) > 6:
        word = word[:3] + "\u00ad" + word[3:]  # soft hyphen from a typesetting system
    return word.translate({ord(d): 0xFF10 + int(d) for d in "0123456789"}) if rng.random() < 0.3 else word


def _orthography(src: Source, rng: random.Random) -> Variant:
    if src.lang == "ar":
        digits = _INDIC if rng.random() < 0.5 else _WESTERN
        def fold(text: str) -> str:
            return " ".join(_arabic_word(w, rng) for w in text.translate(digits).split(" "))
    else:
        def fold(text: str) -> str:
            return "\u00a0".join(_english_word(w, rng) for w in text.split(" ")) if rng.random() < 0.3 \
                else " ".join(_english_word(w, rng) for w in text.split(" "))
    return fold(src.headline), [fold(p) for p in src.paragraphs]


def _edit_words(src: Source, rng: random.Random, share: float) -> Variant:
    """`share` of the words deleted, swapped with a neighbour or padded with a filler word."""
    words = compose(src.headline, src.paragraphs).split(" ")
    fillers = _AR_FILLERS if src.lang == "ar" else _EN_FILLERS
    for _ in range(max(2, round(share * len(words)))):
        i = rng.randrange(1, len(words) - 1)
        op = rng.randrange(3)
        if op == 0 and "\n" not in words[i]:
            del words[i]
        elif op == 1 and "\n" not in words[i] + words[i + 1]:
            words[i], words[i + 1] = words[i + 1], words[i]
        else:
            words.insert(i, rng.choice(fillers))
    headline, *paras = " ".join(words).split("\n\n")
    return headline, paras


def _light_edit(src: Source, rng: random.Random) -> Variant:
    """A copy editor's touch: ~4% of words changed."""
    return _edit_words(src, rng, 0.04)


def _footer(src: Source, rng: random.Random) -> Variant:
    return src.headline, [*src.paragraphs, _AR_FOOTER if src.lang == "ar" else _EN_FOOTER]


def _heavy_edit(src: Source, rng: random.Random) -> Variant:
    return _edit_words(src, rng, 0.10)


def _new_lead(src: Source, rng: random.Random) -> Variant:
    """A developing story's next version: a new lead paragraph, the last paragraph cut."""
    lead = (_AR_LEAD if src.lang == "ar" else _EN_LEAD).format(city=src.city if src.lang == "ar" else src.city.title())
    return src.headline, [lead, *src.paragraphs[:-1]]


def _first_half(src: Source, rng: random.Random) -> Variant:
    """Cut at a paywall: the first half of the paragraphs."""
    return src.headline, list(src.paragraphs[:(len(src.paragraphs) + 1) // 2])


def _teaser(src: Source, rng: random.Random) -> Variant:
    """A feed summary: headline and lead paragraph only."""
    return src.headline, list(src.paragraphs[:1])


def _combined(src: Source, rng: random.Random) -> Variant:
    """A syndicated copy: new headline, a paragraph cut, wire credits, another house style."""
    steps: list[Callable[[Source, random.Random], Variant]] = [_drop_paragraph, _wire, _headline, _orthography]
    if rng.random() < 0.5:
        steps.append(_punctuation)
    for step in steps:
        headline, paras = step(src, rng)
        src = Source(src.id, src.lang, src.topic, src.city, src.published, headline, tuple(paras))
    return src.headline, list(src.paragraphs)


GENERATORS: dict[str, Callable[[Source, random.Random], Variant]] = {
    "wire": _wire, "drop_paragraph": _drop_paragraph, "reorder": _reorder, "headline": _headline,
    "punctuation": _punctuation, "orthography": _orthography, "light_edit": _light_edit, "footer": _footer,
    "combined": _combined,
    "heavy_edit": _heavy_edit, "new_lead": _new_lead, "first_half": _first_half, "teaser": _teaser,
}


def make_docs(sources: list[Source], seed: int, kinds: Iterable[str] = KINDS) -> list[Doc]:
    """Each original plus one variant of every kind, published minutes to hours later."""
    kinds, docs = tuple(kinds), []
    for src in sources:
        docs.append(Doc(src.id, src.id, src.lang, src.topic, "original", src.published,
                        compose(src.headline, src.paragraphs)))
        for kind in kinds:
            rng = random.Random(f"{seed}/{src.id}/{kind}")  # str seeds are hashed with sha512: stable
            headline, paras = GENERATORS[kind](src, rng)
            published = src.published + timedelta(minutes=rng.randrange(5, 600))
            docs.append(Doc(f"{src.id}~{kind}", src.id, src.lang, src.topic, kind, published,
                            compose(headline, paras)))
    return docs


# --- the candidate pipeline, as the Beam graph runs it -----------------------------------------

@dataclass
class Run:
    clusters: dict[str, str]
    edges: list[tuple[str, str]]
    bucket_pairs: int  # pairs inside shared buckets, counted once per bucket
    candidate_pairs: int  # distinct pairs sharing at least one band key (each verified once)
    candidates: set[tuple[str, str]]
    buckets: int
    largest_bucket: int


def _bucket(docs: Iterable[Doc], sigs: dict[str, bytes], params: NearDupParams) -> dict[str, list[tuple[str, bytes]]]:
    buckets: dict[str, list[tuple[str, bytes]]] = defaultdict(list)  # GroupByKey
    for doc in docs:
        for key in band_keys(sigs[doc.id], params):
            buckets[key].append((doc.id, sigs[doc.id]))
    return buckets


def _verify(buckets: dict[str, list[tuple[str, bytes]]], params: NearDupParams,
            ) -> tuple[list[tuple[str, str]], set[tuple[str, str]], int, int]:
    shared = [(k, v) for k, v in buckets.items() if len(v) > 1]
    candidates = {tuple(sorted((a, b))) for _, group in shared for (a, _), (b, _) in itertools.combinations(group, 2)}
    edges = [pair for key, group in shared for pair in verify_bucket(key, group, params)]
    return (edges, candidates, sum(len(g) * (len(g) - 1) // 2 for _, g in shared),
            max((len(g) for _, g in shared), default=1))


def run_pipeline(docs: list[Doc], sigs: dict[str, bytes], params: NearDupParams) -> Run:
    """One run over all docs: band keys -> buckets -> verification -> clusters."""
    buckets = _bucket(docs, sigs, params)
    edges, candidates, bucket_pairs, largest = _verify(buckets, params)
    members = {d.id: Member(d.id, member_rank(False, d.published, d.id)) for d in docs}
    clusters = assign_clusters(members.values(), [(members[a], members[b]) for a, b in edges])
    return Run(clusters, edges, bucket_pairs, len(candidates), candidates, len(buckets), largest)


def run_two_runs(docs: list[Doc], sigs: dict[str, bytes], params: NearDupParams) -> Run:
    """Originals and some copies in a first run; the other copies in a second, matched against
    the persisted signatures (so a new copy may match a stored copy rather than the original).

    Run 2 reads the stored (article_id, signature, cluster_id) rows, joins their band keys with the
    new articles' keys (only buckets holding a new article are verified), drops pairs of two stored
    articles (settled last run), and clusters with stored rows first and their cluster_ids known.
    """
    first = {"original", "wire", "headline", "heavy_edit"}
    old = [d for d in docs if d.kind in first]
    new = [d for d in docs if d.kind not in first]
    stored = run_pipeline(old, sigs, params).clusters
    persisted = _bucket(old, sigs, params)
    buckets = {key: group + persisted.get(key, []) for key, group in _bucket(new, sigs, params).items()}
    old_ids = set(stored)
    edges, candidates, bucket_pairs, largest = _verify(buckets, params)
    edges = [(a, b) for a, b in edges if not (a in old_ids and b in old_ids)]  # as MarkNearDuplicates does
    by_id = {d.id: d for d in docs}

    def member(i: str) -> Member:
        stored_id = stored.get(i)
        return Member(i, member_rank(stored_id is not None, by_id[i].published, i), stored_id)

    assigned = assign_clusters([member(d.id) for d in new], [(member(a), member(b)) for a, b in edges])
    return Run({**stored, **{d.id: assigned[d.id] for d in new}}, edges, bucket_pairs, len(candidates),
               candidates, len(buckets), largest)


# --- scoring ------------------------------------------------------------------------------------

def _prf(tp: int, fp: int, fn: int) -> dict[str, float | int]:
    return {"tp": tp, "fp": fp, "fn": fn,
            "precision": tp / (tp + fp) if tp + fp else 1.0, "recall": tp / (tp + fn) if tp + fn else 1.0}


def score(docs: list[Doc], run: Run) -> dict:
    """Pair metrics by cluster membership, plus recall per variant kind and edge-level precision."""
    by_id = {d.id: d for d in docs}
    counts: dict[str, Counter] = defaultdict(Counter)
    for a, b in itertools.combinations(docs, 2):
        truth = a.source == b.source
        predicted = run.clusters[a.id] == run.clusters[b.id]
        if not truth and not predicted:
            continue
        cell = "tp" if truth and predicted else ("fn" if truth else "fp")
        groups = ["all"]
        if a.lang == b.lang:
            groups.append(a.lang)
        if not truth and a.topic == b.topic:
            groups.append("hard_negatives")
        if truth and "original" in (a.kind, b.kind):
            groups.append("original_variant")
        for group in groups:
            counts[group][cell] += 1
    n_hard = sum(1 for a, b in itertools.combinations(docs, 2) if a.source != b.source and a.topic == b.topic)
    per_kind = {}
    for kind in dict.fromkeys(d.kind for d in docs if d.kind != "original"):
        variants = [d for d in docs if d.kind == kind]
        found = sum(run.clusters[d.id] == run.clusters[d.source] for d in variants)
        per_kind[kind] = found / len(variants)
    edge_fp = sum(by_id[a].source != by_id[b].source for a, b in run.edges)
    heads = sum(run.clusters[d.id] == d.source for d in docs)
    metrics = {g: _prf(c["tp"], c["fp"], c["fn"]) for g, c in counts.items()}
    for g in ("all", "en", "ar", "original_variant"):
        metrics.setdefault(g, _prf(0, 0, 0))
    hard_fp = counts["hard_negatives"]["fp"]
    metrics["hard_negatives"] = {"pairs": n_hard, "fp": hard_fp, "fp_rate": hard_fp / n_hard if n_hard else 0.0}
    negative_candidates = sum(by_id[a].source != by_id[b].source for a, b in run.candidates)
    return {"pairs": metrics, "recall_by_kind": per_kind, "negative_candidates": negative_candidates,
            "edges": {"verified": len(run.edges), "wrong": edge_fp},
            "cluster_head_correct": heads / len(docs)}


def exact_jaccard_stats(docs: list[Doc], shingle_size: int) -> dict:
    """Exact Jaccard of every (original, variant) pair by kind, and the largest across articles."""
    sets = {d.id: frozenset(shingle_hashes(d.text, shingle_size).tolist()) for d in docs}

    def jac(a: str, b: str) -> float:
        union = len(sets[a] | sets[b])
        return len(sets[a] & sets[b]) / union if union else 0.0

    by_kind: dict[str, list[float]] = defaultdict(list)
    for d in docs:
        if d.kind != "original":
            by_kind[d.kind].append(jac(d.source, d.id))
    neg = hard = 0.0
    worst = ("", "")
    for a, b in itertools.combinations(docs, 2):
        if a.source != b.source:
            j = jac(a.id, b.id)
            if j > neg:
                neg, worst = j, (a.id, b.id)
            if a.topic == b.topic:
                hard = max(hard, j)
    return {"positive_min": {k: min(v) for k, v in by_kind.items()},
            "positive_median": {k: statistics.median(v) for k, v in by_kind.items()},
            "negative_max": neg, "hard_negative_max": hard, "negative_max_pair": list(worst)}


def time_signatures(docs: list[Doc], params: NearDupParams, repeat: int = 3) -> dict[str, float]:
    """Microseconds per article: signature() in total, and normalize_for_hash() alone."""
    best_sig = best_norm = float("inf")
    for _ in range(repeat):
        t0 = time.perf_counter()
        for d in docs:
            signature(d.text, params)
        t1 = time.perf_counter()
        for d in docs:
            normalize_for_hash(d.text)
        t2 = time.perf_counter()
        best_sig, best_norm = min(best_sig, t1 - t0), min(best_norm, t2 - t1)
    words = statistics.mean(len(normalize_for_hash(d.text).split()) for d in docs)
    return {"signature_us": best_sig / len(docs) * 1e6, "normalize_us": best_norm / len(docs) * 1e6,
            "mean_words": words}


def evaluate(params: NearDupParams = DEFAULT, seed: int = 0, data_dir: Path = DATA_DIR,
             exact: bool = False, timing: bool = False, kinds: Iterable[str] = KINDS) -> dict:
    """One full run: variants for `seed`, the candidate pipeline, and its scores."""
    docs = make_docs(load_sources(data_dir), seed, kinds)
    t0 = time.perf_counter()
    sigs = {d.id: signature(d.text, params) for d in docs}
    run = run_pipeline(docs, sigs, params)
    elapsed = time.perf_counter() - t0
    two_runs = score(docs, run_two_runs(docs, sigs, params))
    total_pairs = len(docs) * (len(docs) - 1) // 2
    result = {
        "params": asdict(params), "seed": seed,
        "docs": len(docs), "articles": len({d.source for d in docs}),
        "docs_by_lang": dict(Counter(d.lang for d in docs)),
        "all_pairs": total_pairs, "candidate_pairs": run.candidate_pairs, "bucket_pairs": run.bucket_pairs,
        "buckets": run.buckets, "largest_bucket": run.largest_bucket,
        "pipeline_seconds": elapsed, **score(docs, run),
        "two_runs": {"pairs": two_runs["pairs"], "cluster_head_correct": two_runs["cluster_head_correct"]},
    }
    if exact:
        result["exact_jaccard"] = exact_jaccard_stats(docs, params.shingle_size)
    if timing:
        result["timing"] = time_signatures(docs, params)
    return result


# --- reporting ----------------------------------------------------------------------------------

def format_report(r: dict) -> str:
    p = r["params"]
    lines = [f"near-dup eval: {r['articles']} articles -> {r['docs']} docs {r['docs_by_lang']}, seed {r['seed']}",
             f"params: num_perm={p['num_perm']} bands={p['bands']} rows={p['rows']} "
             f"shingle_size={p['shingle_size']} threshold={p['threshold']}",
             "", f"{'pairs':<18}{'TP':>7}{'FP':>6}{'FN':>6}{'precision':>11}{'recall':>9}"]
    for group in ("all", "en", "ar", "original_variant"):
        m = r["pairs"][group]
        lines.append(f"{group:<18}{m['tp']:>7}{m['fp']:>6}{m['fn']:>6}{m['precision']:>11.4f}{m['recall']:>9.4f}")
    h = r["pairs"]["hard_negatives"]
    lines += [f"{'hard_negatives':<18}{'':>7}{h['fp']:>6}{'':>6}   {h['fp']} false matches in {h['pairs']} "
              "same-topic pairs",
              "", "recall by variant kind (variant clustered with its original):",
              "  " + "  ".join(f"{k}={v:.3f}" for k, v in r["recall_by_kind"].items()),
              "", f"candidates: {r['candidate_pairs']} distinct pairs verified of {r['all_pairs']} "
              f"({r['candidate_pairs'] / r['all_pairs']:.2%}), {r['negative_candidates']} of them across articles; "
              f"{r['bucket_pairs']} pairs within "
              f"{r['buckets']} buckets (largest {r['largest_bucket']})",
              f"verified edges: {r['edges']['verified']} ({r['edges']['wrong']} across articles); "
              f"cluster_id = original for {r['cluster_head_correct']:.1%} of docs; "
              f"pipeline {r['pipeline_seconds'] * 1e3:.0f} ms"]
    t = r["two_runs"]["pairs"]
    lines.append(f"two runs (originals + some copies, then the rest against stored signatures): precision "
                 f"{t['all']['precision']:.4f} recall {t['all']['recall']:.4f}, {t['hard_negatives']['fp']} hard FP, "
                 f"cluster_id = original for {r['two_runs']['cluster_head_correct']:.1%} of docs")
    if "exact_jaccard" in r:
        e = r["exact_jaccard"]
        lines += ["", "exact Jaccard (original vs variant): min / median per kind",
                  "  " + "  ".join(f"{k}={e['positive_min'][k]:.2f}/{e['positive_median'][k]:.2f}"
                                   for k in e["positive_min"]),
                  f"  max across different articles: {e['negative_max']:.3f} {tuple(e['negative_max_pair'])}; "
                  f"same-topic max {e['hard_negative_max']:.3f}"]
    if "timing" in r:
        t = r["timing"]
        lines.append(f"\nsignature: {t['signature_us']:.0f} us/article (normalize_for_hash alone "
                     f"{t['normalize_us']:.0f} us), mean {t['mean_words']:.0f} words")
    return "\n".join(lines)


def sweep(seeds: list[int], data_dir: Path = DATA_DIR) -> list[dict]:
    """Grid over shingle size, banding and threshold; signatures computed once per shingle size."""
    rows = []
    sources = load_sources(data_dir)
    for k in (2, 3, 4, 5):
        runs, stress_runs = [], []
        for seed in seeds:
            docs = make_docs(sources, seed)
            sigs = {d.id: signature(d.text, NearDupParams(shingle_size=k)) for d in docs}
            runs.append((docs, sigs, exact_jaccard_stats(docs, k)))
            docs = make_docs(sources, seed, STRESS_KINDS)
            stress_runs.append((docs, {d.id: signature(d.text, NearDupParams(shingle_size=k)) for d in docs}))
        for bands, r in ((64, 2), (32, 4), (16, 8)):
            for threshold in (0.3, 0.4, 0.5, 0.6, 0.7):
                params = NearDupParams(bands=bands, rows=r, shingle_size=k, threshold=threshold)
                scores = []
                for docs, sigs, _ in runs:
                    scores.append((score(docs, run := run_pipeline(docs, sigs, params)), run))
                stress = [score(docs, run_pipeline(docs, sigs, params))["recall_by_kind"] for docs, sigs in stress_runs]
                rows.append({
                    "shingle_size": k, "bands": bands, "rows": r, "threshold": threshold,
                    "precision": min(s["pairs"]["all"]["precision"] for s, _ in scores),
                    "recall": min(s["pairs"]["all"]["recall"] for s, _ in scores),
                    "ov_recall": min(s["pairs"]["original_variant"]["recall"] for s, _ in scores),
                    "hard_fp": max(s["pairs"]["hard_negatives"]["fp"] for s, _ in scores),
                    "candidates": max(run.candidate_pairs for _, run in scores),
                    "negative_candidates": max(s["negative_candidates"] for s, _ in scores),
                    "stress_recall": {kind: statistics.mean(st[kind] for st in stress) for kind in STRESS_KINDS},
                    "p_candidate_at_t": 1 - (1 - threshold ** r) ** bands,
                    "pos_min_jaccard": min(min(e["positive_min"].values()) for _, _, e in runs),
                    "neg_max_jaccard": max(e["negative_max"] for _, _, e in runs),
                })
    return rows


def format_sweep(rows: list[dict]) -> str:
    out = [f"{'k':>2} {'b x r':>6} {'t':>4} {'precision':>9} {'recall':>7} {'orig-var':>8} {'hardFP':>6} "
           f"{'cands':>6} {'neg':>4} {'P(cand|J=t)':>11} {'minJ+':>6} {'maxJ-':>6}  stress recall: "
           + " ".join(STRESS_KINDS)]
    for r in rows:
        out.append(f"{r['shingle_size']:>2} {r['bands']:>3}x{r['rows']:<2} {r['threshold']:>4} "
                   f"{r['precision']:>9.4f} {r['recall']:>7.4f} {r['ov_recall']:>8.4f} {r['hard_fp']:>6} "
                   f"{r['candidates']:>6} {r['negative_candidates']:>4} {r['p_candidate_at_t']:>11.3f} "
                   f"{r['pos_min_jaccard']:>6.3f} {r['neg_max_jaccard']:>6.3f}  "
                   + " ".join(f"{v:.2f}" for v in r["stress_recall"].values()))
    return "\n".join(out)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--seed", type=int, default=0, help="variant seed (default 0)")
    ap.add_argument("--seeds", type=int, default=1, help="run seeds seed..seed+N-1 and report each")
    ap.add_argument("--shingle-size", type=int, default=DEFAULT.shingle_size)
    ap.add_argument("--bands", type=int, default=DEFAULT.bands)
    ap.add_argument("--rows", type=int, default=DEFAULT.rows)
    ap.add_argument("--threshold", type=float, default=DEFAULT.threshold)
    ap.add_argument("--data", type=Path, default=DATA_DIR)
    ap.add_argument("--json", action="store_true", help="print JSON instead of a table")
    ap.add_argument("--sweep", action="store_true", help="grid over shingle size, banding and threshold")
    ap.add_argument("--stress", action="store_true", help="score the harder STRESS_KINDS variants instead")
    args = ap.parse_args(argv)
    seeds = list(range(args.seed, args.seed + args.seeds))
    if args.sweep:
        rows = sweep(seeds, args.data)
        print(json.dumps(rows, indent=2) if args.json else format_sweep(rows))
        return 0
    params = NearDupParams(num_perm=args.bands * args.rows, bands=args.bands, rows=args.rows,
                           shingle_size=args.shingle_size, threshold=args.threshold)
    kinds = STRESS_KINDS if args.stress else KINDS
    results = [evaluate(params, seed, args.data, exact=True, timing=True, kinds=kinds) for seed in seeds]
    if args.json:
        print(json.dumps(results if len(results) > 1 else results[0], indent=2, ensure_ascii=False))
    else:
        print("\n\n".join(format_report(r) for r in results))
    return 0


if __name__ == "__main__":
    sys.exit(main())
