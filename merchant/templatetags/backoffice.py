"""Template helpers: money, SVG charts, paging links."""
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


@register.simple_tag
def bar_chart(points, width=720, height=180, color="#2f6fde", label_every=5, money_values=False):
    """An inline SVG bar chart of (label, value) points, readable without JavaScript."""
    points = list(points)
    if not points:
        return ""
    top = max((float(v) for _l, v in points), default=0) or 1
    pad_left, pad_bottom = 8, 22
    slot = (width - pad_left) / len(points)
    bars = []
    for i, (label, value) in enumerate(points):
        h = (height - pad_bottom - 10) * float(value) / top
        x = pad_left + i * slot
        text = money(value) if money_values else value
        bars.append(format_html(
            '<rect x="{}" y="{}" width="{}" height="{}" fill="{}"><title>{}: {}</title></rect>',
            f"{x + 1:.1f}", f"{height - pad_bottom - h:.1f}", f"{max(slot - 2, 1):.1f}", f"{h:.1f}", color, label, text,
        ))
        if i % label_every == 0:
            short = label.strftime("%m-%d") if hasattr(label, "strftime") else str(label)
            bars.append(format_html(
                '<text x="{}" y="{}" font-size="10" fill="#555">{}</text>', f"{x:.1f}", height - 6, short
            ))
    return format_html(
        '<svg class="chart" viewBox="0 0 {} {}" role="img" preserveAspectRatio="none">{}</svg>',
        width, height, mark_safe("".join(bars)),
    )


@register.simple_tag
def hbar_chart(points, width=360, row=22, color="#2f6fde"):
    """Horizontal bars with labels and counts, for distributions such as orders by status."""
    points = list(points)
    top = max((float(v) for _l, v in points), default=0) or 1
    rows = format_html_join(
        "", '<g transform="translate(0,{})"><text x="0" y="15" font-size="12">{}</text>'
        '<rect x="130" y="3" width="{}" height="14" fill="{}"></rect>'
        '<text x="{}" y="15" font-size="12">{}</text></g>',
        ((i * row, label, f"{(width - 180) * float(v) / top:.1f}", color, f"{134 + (width - 180) * float(v) / top:.1f}", v)
         for i, (label, v) in enumerate(points)),
    )
    return format_html('<svg class="chart" viewBox="0 0 {} {}" role="img">{}</svg>', width, row * len(points), rows)


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
