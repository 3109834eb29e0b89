"""Server-rendered SVG charts: no script, no fonts or files from anywhere, each value also in a
<title> (the browser shows it on hover) and the charts' numbers in the page's tables."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from html import escape

PALETTE = ["#2f6fde", "#e07b24", "#2a9d5b", "#c9384b", "#7a52c7", "#8c6d31", "#d4569b",
           "#5f6b7a", "#1fa3b3", "#a3a31f"]  # fmt: skip
W, H = 640, 220
LEFT, RIGHT, TOP, BOTTOM = 56, 12, 14, 34


def _frame(body: str, label: str, width: int = W, height: int = H) -> str:
    return (f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {width} {height}" '
            f'role="img" aria-label="{escape(label)}" class="chart">{body}</svg>')  # fmt: skip


def _y_axis(top: float, fmt: Callable[[float], str], width: int = W, height: int = H) -> str:
    out = []
    for i in range(5):
        v = top * i / 4
        y = height - BOTTOM - (height - TOP - BOTTOM) * i / 4
        out.append(f'<line x1="{LEFT}" x2="{width - RIGHT}" y1="{y:.1f}" y2="{y:.1f}" '
                   f'class="grid"/><text x="{LEFT - 6}" y="{y + 4:.1f}" class="tick" '
                   f'text-anchor="end">{escape(fmt(v))}</text>')  # fmt: skip
    return "".join(out)


def _x_labels(labels: Sequence[str], width: int = W, height: int = H) -> str:
    if not labels:
        return ""
    step = max(1, len(labels) // 6)
    out = []
    for i in range(0, len(labels), step):
        x = _x(i, len(labels), width)
        out.append(f'<text x="{x:.1f}" y="{height - BOTTOM + 16}" class="tick" '
                   f'text-anchor="middle">{escape(labels[i])}</text>')  # fmt: skip
    return "".join(out)


def _x(i: int, n: int, width: int = W) -> float:
    span = width - LEFT - RIGHT
    return LEFT + (span * (i + 0.5) / n if n else 0)


def _y(v: float, top: float, height: int = H) -> float:
    return height - BOTTOM - (height - TOP - BOTTOM) * (v / top if top else 0)


def nice_top(values: Sequence[float]) -> float:
    """A round upper bound for the y axis."""
    top = max([v for v in values if v is not None] or [0.0])
    if top <= 0:
        return 1.0
    magnitude = 10 ** len(str(int(top))) / 10 if top >= 1 else 1.0
    while magnitude > top:
        magnitude /= 10
    for m in (1, 2, 2.5, 5, 10):
        if m * magnitude >= top:
            return m * magnitude
    return top


def line_chart(label: str, x_labels: Sequence[str],
               series: Sequence[tuple[str, Sequence[float | None]]],
               fmt: Callable[[float], str], top: float | None = None) -> str:  # fmt: skip
    """Lines over the same x; a None value breaks its line."""
    top = top or nice_top([v for _, vs in series for v in vs if v is not None])
    n = len(x_labels)
    body = [_y_axis(top, fmt), _x_labels(x_labels)]
    for k, (name, values) in enumerate(series):
        color = PALETTE[k % len(PALETTE)]
        runs: list[list[tuple[float, float]]] = [[]]
        for i, v in enumerate(values):
            if v is None:
                runs.append([])
                continue
            runs[-1].append((_x(i, n), _y(v, top)))
            body.append(f'<circle cx="{_x(i, n):.1f}" cy="{_y(v, top):.1f}" r="2.5" '
                        f'fill="{color}"><title>{escape(name)}, {escape(x_labels[i])}: '
                        f'{escape(fmt(v))}</title></circle>')  # fmt: skip
        for run in runs:
            if len(run) > 1:
                pts = " ".join(f"{x:.1f},{y:.1f}" for x, y in run)
                body.append(f'<polyline points="{pts}" fill="none" stroke="{color}" '
                            'stroke-width="2"/>')  # fmt: skip
    return _frame("".join(body), label) + legend([name for name, _ in series])


def stacked_bars(label: str, x_labels: Sequence[str],
                 stacks: Sequence[tuple[str, Sequence[int]]]) -> str:  # fmt: skip
    n = len(x_labels)
    totals = [sum(vs[i] for _, vs in stacks) for i in range(n)]
    top = nice_top([float(t) for t in totals])
    bar = (W - LEFT - RIGHT) / max(1, n) * 0.7
    body = [_y_axis(top, lambda v: f"{v:g}"), _x_labels(x_labels)]
    for i in range(n):
        base = 0.0
        for k, (name, values) in enumerate(stacks):
            v = values[i]
            if not v:
                continue
            y0, y1 = _y(base, top), _y(base + v, top)
            body.append(f'<rect x="{_x(i, n) - bar / 2:.1f}" y="{y1:.1f}" width="{bar:.1f}" '
                        f'height="{y0 - y1:.1f}" fill="{PALETTE[k % len(PALETTE)]}">'
                        f'<title>{escape(name)}, {escape(x_labels[i])}: {v}</title></rect>')  # fmt: skip
            base += v
    return _frame("".join(body), label) + legend([name for name, _ in stacks])


def scatter(label: str, curve: Sequence[tuple[str, float, float]],
            points: Sequence[tuple[str, float, float]], x_fmt: Callable[[float], str],
            y_fmt: Callable[[float], str]) -> str:  # fmt: skip
    """A curve (the school's sweep) and labelled points (baselines): x cost, y accuracy."""
    xs = [x for _, x, _ in [*curve, *points]]
    ys = [y for _, _, y in [*curve, *points]]
    x_top, y_top = nice_top(xs), nice_top(ys)
    span_x = W - LEFT - RIGHT

    def px(x: float) -> float:
        return LEFT + span_x * x / x_top

    body = [_y_axis(y_top, y_fmt)]
    for i in range(5):
        x = LEFT + span_x * i / 4
        anchor = "end" if i == 4 else "middle"  # the last label inside the frame
        body.append(f'<text x="{x:.1f}" y="{H - BOTTOM + 16}" class="tick" '
                    f'text-anchor="{anchor}">{escape(x_fmt(x_top * i / 4))}</text>')  # fmt: skip
    if len(curve) > 1:
        pts = " ".join(f"{px(x):.1f},{_y(y, y_top):.1f}" for _, x, y in curve)
        body.append(f'<polyline points="{pts}" fill="none" stroke="{PALETTE[0]}" stroke-width="2"/>')
    for name, x, y in curve:
        body.append(f'<circle cx="{px(x):.1f}" cy="{_y(y, y_top):.1f}" r="3.5" fill="{PALETTE[0]}">'
                    f'<title>{escape(name)}: {escape(x_fmt(x))}, {escape(y_fmt(y))}</title></circle>')
    for k, (name, x, y) in enumerate(points):
        color = PALETTE[(k + 1) % len(PALETTE)]
        body.append(f'<rect x="{px(x) - 4:.1f}" y="{_y(y, y_top) - 4:.1f}" width="8" height="8" '
                    f'fill="{color}"><title>{escape(name)}: {escape(x_fmt(x))}, '
                    f'{escape(y_fmt(y))}</title></rect><text x="{px(x) + 7:.1f}" '
                    f'y="{_y(y, y_top) - 6:.1f}" class="tick">{escape(name)}</text>')  # fmt: skip
    return _frame("".join(body), label)


def lanes(label: str, start: float, end: float, rows: Sequence[str],
          marks: Sequence[tuple[str, float, str, int]]) -> str:
    """One lane per row (a member); marks (row, time, title, colour index) along time."""
    height = TOP + BOTTOM + 26 * max(1, len(rows))
    span = max(end - start, 1e-9)
    body = []
    for r, row in enumerate(rows):
        y = TOP + 26 * r + 13
        body.append(f'<text x="{LEFT + 70}" y="{y + 4}" class="tick" text-anchor="end">'
                    f'{escape(row[:14])}</text><line x1="{LEFT + 76}" x2="{W - RIGHT}" '
                    f'y1="{y}" y2="{y}" class="grid"/>')  # fmt: skip
    for row, t, title, colour in marks:
        if row not in rows:
            continue
        y = TOP + 26 * rows.index(row) + 13
        x = LEFT + 76 + (W - RIGHT - LEFT - 76) * min(1.0, max(0.0, (t - start) / span))
        body.append(f'<circle cx="{x:.1f}" cy="{y}" r="5" fill="{PALETTE[colour % len(PALETTE)]}">'
                    f'<title>{escape(title)}</title></circle>')
    return _frame("".join(body), label, height=height)


def legend(names: Sequence[str]) -> str:
    items = "".join(f'<span><i style="background:{PALETTE[k % len(PALETTE)]}"></i>'
                    f"{escape(n)}</span>" for k, n in enumerate(names))  # fmt: skip
    return f'<div class="legend">{items}</div>'
