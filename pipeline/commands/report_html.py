"""The report page: inline SVG charts and tables from plain rows, no script, no network.

Every chart is an `<svg data-chart="...">` drawn here, so the page needs nothing but a browser;
text cells carry `dir="auto"` so Arabic renders right to left.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from html import escape

PALETTE = ("#4e79a7", "#f28e2b", "#59a14f", "#e15759", "#76b7b2", "#edc948", "#b07aa1", "#ff9da7", "#9c755f")
BAR_H, LABEL_W, PLOT_W = 22, 220, 560


def _text(x: float, y: float, value: object, anchor: str = "start", size: int = 12) -> str:
    return (f'<text x="{x:.1f}" y="{y:.1f}" font-size="{size}" text-anchor="{anchor}" '
            f'direction="ltr" unicode-bidi="plaintext">{escape(str(value))}</text>')


def stacked_bars(name: str, labels: Sequence[str], series: Sequence[str], values: dict[tuple[str, str], float],
                 title: str) -> str:
    """One horizontal bar per label, stacked by series, with a legend: covers every chart here."""
    totals = [sum(values.get((lab, s), 0) for s in series) for lab in labels]
    top = max(totals, default=0) or 1
    legend_h = 20 * ((len(series) + 3) // 4)
    height = 30 + legend_h + BAR_H * max(len(labels), 1) + 10
    parts = [f'<svg data-chart="{name}" role="img" aria-label="{escape(title)}" xmlns="http://www.w3.org/2000/svg" '
             f'width="{LABEL_W + PLOT_W + 60}" height="{height}" font-family="sans-serif">']
    for i, s in enumerate(series):
        x, y = 10 + (i % 4) * 190, 14 + 20 * (i // 4)
        parts.append(f'<rect x="{x}" y="{y - 10}" width="12" height="12" fill="{PALETTE[i % len(PALETTE)]}"/>')
        parts.append(_text(x + 18, y, s))
    for row, (label, total) in enumerate(zip(labels, totals, strict=True)):
        y = 30 + legend_h + row * BAR_H
        parts.append(_text(LABEL_W - 8, y + 15, label, "end"))
        x = float(LABEL_W)
        for i, s in enumerate(series):
            width = PLOT_W * values.get((label, s), 0) / top
            if width:
                tip = escape(f"{label}, {s}: {values[(label, s)]:g}")
                parts.append(f'<rect x="{x:.1f}" y="{y + 3}" width="{width:.1f}" height="{BAR_H - 6}" '
                             f'fill="{PALETTE[i % len(PALETTE)]}"><title>{tip}</title></rect>')
                x += width
        parts.append(_text(x + 6, y + 15, f"{total:g}"))
    parts.append("</svg>")
    return "".join(parts)


def _cell(value: object) -> str:
    if isinstance(value, datetime):
        value = f"{value:%Y-%m-%d %H:%M} UTC"
    return f'<td dir="auto">{escape("-" if value is None else str(value))}</td>'


def table(name: str, header: Sequence[str], rows: Sequence[Sequence[object]]) -> str:
    head = "".join(f"<th>{escape(h)}</th>" for h in header)
    body = "".join(f"<tr>{''.join(_cell(v) for v in row)}</tr>" for row in rows)
    return f'<table data-table="{name}"><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>'


def section(name: str, title: str, *content: str, empty: bool = False) -> str:
    inner = '<p class="empty">Nothing to show.</p>' if empty else "".join(content)
    return f'<section id="{name}"><h2>{escape(title)}</h2>{inner}</section>'


STYLE = """body{font-family:sans-serif;margin:24px;color:#222;max-width:1100px}
h1{font-size:22px}h2{font-size:17px;margin-top:28px;border-bottom:1px solid #ddd}
table{border-collapse:collapse;font-size:13px}td,th{border:1px solid #ddd;padding:4px 8px;text-align:start}
th{background:#f4f4f4}.empty{color:#888}"""


def page(title: str, subtitle: str, sections: Sequence[str]) -> str:
    return ("<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
            f"<title>{escape(title)}</title><style>{STYLE}</style></head><body>"
            f"<h1>{escape(title)}</h1><p dir=\"auto\">{escape(subtitle)}</p>{''.join(sections)}</body></html>\n")
