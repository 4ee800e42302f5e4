"""Server-rendered SVG bar charts for the admin dashboard (no JavaScript, no build step)."""

from __future__ import annotations

from collections.abc import Callable, Sequence

from django.utils.html import escape
from django.utils.safestring import SafeString, mark_safe

WIDTH, HEIGHT, LEFT, BOTTOM, TOP = 720, 220, 90, 40, 16


def bar_chart(
    labels: Sequence[str], values: Sequence[float | int], *, fmt: Callable[[float | int], str] = str
) -> SafeString:
    """Vertical bars (negative values go below the zero line), one per label, each with a tooltip."""
    count = max(len(values), 1)
    high = max([0, *values])
    low = min([0, *values])
    span = (high - low) or 1
    plot_height = HEIGHT - BOTTOM - TOP
    zero_y = TOP + plot_height * high / span
    step = (WIDTH - LEFT - 10) / count
    bar = max(step * 0.7, 1)
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{WIDTH}" height="{HEIGHT}" role="img" '
        f'class="bxb-chart" viewBox="0 0 {WIDTH} {HEIGHT}">',
        f'<line x1="{LEFT}" y1="{zero_y:.1f}" x2="{WIDTH - 10}" y2="{zero_y:.1f}" stroke="#999"/>',
        f'<text x="{LEFT - 6}" y="{TOP + 4}" text-anchor="end" font-size="11">{escape(fmt(high))}</text>',
        f'<text x="{LEFT - 6}" y="{zero_y + 4:.1f}" text-anchor="end" font-size="11">{escape(fmt(0))}</text>',
    ]
    if low < 0:
        parts.append(
            f'<text x="{LEFT - 6}" y="{HEIGHT - BOTTOM}" text-anchor="end" font-size="11">{escape(fmt(low))}</text>'
        )
    for index, (label, value) in enumerate(zip(labels, values, strict=True)):
        x = LEFT + index * step + (step - bar) / 2
        height = plot_height * abs(value) / span
        y = zero_y - height if value >= 0 else zero_y
        color = "#417690" if value >= 0 else "#ba2121"
        parts.append(
            f'<rect x="{x:.1f}" y="{y:.1f}" width="{bar:.1f}" height="{height:.1f}" fill="{color}">'
            f"<title>{escape(label)}: {escape(fmt(value))}</title></rect>"
        )
        parts.append(
            f'<text x="{x + bar / 2:.1f}" y="{HEIGHT - BOTTOM + 14}" text-anchor="middle" font-size="10">'
            f"{escape(label)}</text>"
        )
    parts.append("</svg>")
    return mark_safe("".join(parts))  # noqa: S308 - every interpolated text is escaped above
