"""Template helpers: money, SVG charts, paging links."""
import math
from decimal import Decimal

from django import template
from django.utils.html import format_html, format_html_join
from django.utils.safestring import mark_safe

register = template.Library()


@register.filter
def money(value):
    """2-decimal CNY with thousands separators, or an em dash when there is no value."""
    if value is None or value == "":
        return "—"
    return f"¥{Decimal(value):,.2f}"


def nice_top(value: float, floor: float = 0) -> float:
    """The top of a chart's scale: the smallest 1, 2, 2.5 or 5 times a power of ten at or above both the
    largest value and `floor` (so 0.1 % on a scale of at least 10 % draws a sliver, not a full bar)."""
    value = max(float(value), float(floor))
    if value <= 0:
        return 1.0
    power = 10 ** math.floor(math.log10(value))
    return next(m * power for m in (1, 2, 2.5, 5, 10) if m * power >= value * (1 - 1e-9))


def _tick(value: float, unit: str) -> str:
    text = f"{value:,.0f}" if value == int(value) else f"{value:,.1f}".rstrip("0").rstrip(".")
    return f"{text}{unit}"


TICKS = 5


@register.simple_tag
def bar_chart(points, width=720, height=200, color="#2f6fde", label_every=5, money_values=False, unit="", floor=0):
    """An inline SVG bar chart of (label, value) points with a labelled y axis (0 to a round top, see
    nice_top), readable without JavaScript; each bar's exact value is in its tooltip."""
    points = list(points)
    if not points:
        return ""
    top = nice_top(max((float(v) for _l, v in points), default=0), floor)
    # Text is sized to the drawing, so it stays readable when a narrow card scales the drawing down.
    font = max(10, round(width / 40))
    pad_left, pad_bottom, pad_top = font * (5 if money_values else 4), font + 12, 8
    plot = height - pad_bottom - pad_top
    slot = (width - pad_left) / len(points)
    parts = []
    for i in range(TICKS + 1):
        value = top * i / TICKS
        y = pad_top + plot - plot * i / TICKS
        parts.append(format_html(
            '<line class="grid" x1="{}" x2="{}" y1="{}" y2="{}" stroke="#e3e6ea"></line>'
            '<text class="tick" x="{}" y="{}" font-size="{}" fill="#555" text-anchor="end">{}</text>',
            pad_left, width, f"{y:.1f}", f"{y:.1f}", pad_left - 4, f"{y + font / 3:.1f}", font, _tick(value, unit),
        ))
    for i, (label, value) in enumerate(points):
        h = plot * float(value) / top
        x = pad_left + i * slot
        text = money(value) if money_values else f"{_tick(float(value), '')}{unit}"
        parts.append(format_html(
            '<rect x="{}" y="{}" width="{}" height="{}" fill="{}"><title>{}: {}</title></rect>',
            f"{x + 1:.1f}", f"{pad_top + plot - h:.1f}", f"{max(slot - 2, 1):.1f}", f"{h:.1f}", color, label, text,
        ))
        if i % label_every == 0:
            short = label.strftime("%m-%d") if hasattr(label, "strftime") else str(label)
            parts.append(format_html(
                '<text x="{}" y="{}" font-size="{}" fill="#555">{}</text>', f"{x + 1:.1f}", height - 6, font, short
            ))
    parts.append(format_html('<line x1="{}" x2="{}" y1="{}" y2="{}" stroke="#888"></line>',
                             pad_left, pad_left, pad_top, pad_top + plot))
    return format_html(
        '<svg class="chart" viewBox="0 0 {} {}" role="img" data-scale-top="{}">{}</svg>',
        width, height, _tick(top, ""), mark_safe("".join(parts)),
    )


@register.simple_tag
def hbar_chart(points, width=360, row=22, color="#2f6fde"):
    """Horizontal bars with labels and counts, for distributions such as orders by status; the bars share a
    scale from 0 to a round top, marked under them."""
    points = list(points)
    top = nice_top(max((float(v) for _l, v in points), default=0))
    span = width - 180
    rows = format_html_join(
        "", '<g transform="translate(0,{})"><text x="0" y="15" font-size="12">{}</text>'
        '<rect x="130" y="3" width="{}" height="14" fill="{}"></rect>'
        '<text x="{}" y="15" font-size="12">{}</text></g>',
        ((i * row, label, f"{span * float(v) / top:.1f}", color, f"{134 + span * float(v) / top:.1f}", v)
         for i, (label, v) in enumerate(points)),
    )
    axis_y = row * len(points) + 4
    axis = format_html(
        '<line x1="130" x2="{}" y1="{}" y2="{}" stroke="#888"></line>'
        '<text x="130" y="{}" font-size="10" fill="#555">0</text>'
        '<text x="{}" y="{}" font-size="10" fill="#555" text-anchor="end">{}</text>',
        130 + span, axis_y, axis_y, axis_y + 12, 130 + span, axis_y + 12, _tick(top, ""),
    )
    return format_html('<svg class="chart" viewBox="0 0 {} {}" role="img">{}{}</svg>', width,
                       row * len(points) + 20, rows, axis)


@register.filter
def audit_sentence(entry):
    """One audit entry as a sentence: "Default price changed from 12.00 to 13.50"."""
    from django.utils.text import capfirst
    from django.utils.translation import gettext as _

    from merchant.field_labels import field_label, value_text

    field = capfirst(field_label(entry.entity, entry.field))
    old = value_text(entry.entity, entry.field, entry.old_value)
    new = value_text(entry.entity, entry.field, entry.new_value)
    if not entry.old_value:
        return _("%(field)s set to %(new)s") % {"field": field, "new": new}
    if not entry.new_value:
        return _("%(field)s removed (was %(old)s)") % {"field": field, "old": old}
    return _("%(field)s changed from %(old)s to %(new)s") % {"field": field, "old": old, "new": new}
