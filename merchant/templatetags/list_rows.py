"""The rows of the two big list tables, built in Python as Django's admin builds its changelist rows.

A list page shows 50 rows of about ten values; through the template engine each value costs a variable
lookup, a filter and a choices lookup, which made rendering most of a page's time (bench/pages.py).
"""
from html import escape as e

from django import forms, template
from django.urls import reverse
from django.utils import timezone
from django.utils.html import format_html, format_html_join
from django.utils.safestring import mark_safe
from django.utils.translation import gettext as _

from merchant.models import ErpStatus, ListingState, OrderFlag, OrderSource, OrderStatus, RefundStatus

from .backoffice import money

register = template.Library()


def _labels(choices) -> dict:
    return {value: str(label) for value, label in choices.choices}


def _minute(value) -> str:
    return timezone.localtime(value).strftime("%Y-%m-%d %H:%M") if value else "—"


def _order_flags(order, refund_labels: dict) -> str:
    """Badges after an order's status: presale stage, refund state, lines matching no product."""
    flags = []
    if order.is_presale or order.presale_status:
        flags.append(format_html(' <span class="badge presale" title="{}">{}</span>', order.presale_status,
                                 _("presale")))
    if order.refund_status:
        flags.append(format_html(' <span class="badge refund">{}</span>',
                                 refund_labels.get(order.refund_status, order.refund_status)))
    if order.has_unmapped_lines:
        flags.append(format_html(' <span class="badge unmapped">{}</span>', _("unmapped line")))
    return mark_safe("".join(flags))  # each part was escaped by format_html


def _order_cells(source, status, erp, refunds, taken, not_taken) -> dict:
    """Column key -> a function of an order giving that cell's <td>, every value escaped (stdlib escape and
    plain strings: format_html per cell was most of the page's rendering time, bench/pages.py)."""
    return {
        "source": lambda o: '<td class="nowrap">' + e(source.get(o.source, o.source)) + (
            ' · <span class="muted">' + e(o.connection.name) + "</span>" if o.connection_id else "") + "</td>",
        "customer": lambda o: "<td>" + e(o.customer.name if o.customer_id else o.buyer_nick) + "</td>",
        "receiver": lambda o: "<td>" + e(o.receiver_name) + '<div class="muted small">' + e(o.receiver_phone)
        + "</div></td>",
        "created": lambda o: '<td class="nowrap">' + _minute(o.created_at) + "</td>",
        "paid": lambda o: '<td class="nowrap">' + _minute(o.paid_at) + "</td>",
        "total": lambda o: '<td class="num">' + e(money(o.total_amount)) + "</td>",
        "status": lambda o: '<td><span class="badge ' + e(o.status) + '">' + e(status.get(o.status, o.status))
        + "</span>" + _order_flags(o, refunds) + "</td>",
        "platform_status": lambda o: ('<td title="' + e(o.platform_status) + '">' + e(o.platform_status_label)
                                      + "</td>") if o.platform_status else "<td>—</td>",
        "erp_status": lambda o: '<td class="nowrap">' + e(erp.get(o.erp_status, o.erp_status)) + "</td>",
        "taken": lambda o: '<td class="nowrap">' + (taken if o.taken_by_erp else not_taken) + "</td>",
        "tracking": lambda o: '<td class="code">' + e(o.tracking_no or "—") + "</td>",
        "memo": lambda o: '<td class="memo">' + e(o.seller_memo or "") + "</td>",
    }


@register.simple_tag
def order_rows(orders, columns, selectable=False, reasons=None, fresh=False):
    """<tr> rows of the orders list with the user's columns: a tick box when rows can be selected, the order
    number with its flag colour, in the exception queue (reasons given) why it is there and what to do, then
    one cell per column. Orders come with their customer and connection selected."""
    base = reverse("order_detail", args=[0])[:-2]
    cells = _order_cells(_labels(OrderSource), _labels(OrderStatus), _labels(ErpStatus), _labels(RefundStatus),
                         e(_("Taken")), '<span class="warn">' + e(_("Not taken")) + "</span>")
    chosen = [cells[c] for c in columns if c in cells]
    flags = _labels(OrderFlag)
    row_class = ' class="fresh"' if fresh else ""
    rows = []
    for o in orders:
        tick = (f'<td class="tick"><input type="checkbox" name="id" value="{o.pk}" aria-label="{e(o.order_no)}">'
                "</td>") if selectable else ""
        flag = (f' <span class="flag flag-{e(o.flag)}" title="{e(flags.get(o.flag, o.flag))}"></span>'
                if o.flag else "")
        why = ('<td class="reasons">' + "".join(
            f'<div class="reason" title="{e(str(r.action))}">{e(str(r.label))}</div>' for r in reasons.get(o.pk, ()))
            + "</td>") if reasons is not None else ""
        cells_html = "".join(cell(o) for cell in chosen)
        rows.append(f'<tr{row_class}>{tick}<td class="nowrap"><a href="{base}{o.pk}/">{e(o.order_no)}</a>{flag}'
                    f"</td>{why}{cells_html}</tr>")
    return mark_safe("\n".join(rows))  # every value was escaped above


@register.simple_tag
def product_rows(rows, can_edit):
    """<tr> rows of the products list; rows pairs each product with the set of its paused switch kinds."""
    base = reverse("product_detail", args=[0])[:-2]
    states = _labels(ListingState)
    matched = _("Matched")
    unmatched = format_html('<span class="warn">{}</span>', _("Not matched"))
    paused = {"stock": format_html('<span class="badge off">{}</span> ', _("stock paused")),
              "price": format_html('<span class="badge off">{}</span>', _("price paused"))}
    return format_html_join("\n", (
        '<tr>{}<td><a href="{}{}/">{}</a></td><td>{}</td><td>{}</td><td>{}</td><td class="num">{}</td>'
        '<td class="num">{}</td><td><span class="badge {}">{}</span></td><td>{}{}</td><td class="nowrap">{}</td></tr>'
    ), (
        (format_html('<td><input type="checkbox" name="ids" value="{}" aria-label="{}"></td>', p.pk,
                     p.erp_product_id) if can_edit else "",
         base, p.pk, p.erp_product_id, p.name, p.spec, matched if p.base_product_id else unmatched,
         money(p.default_price), f"{p.stock:,}", p.listing_state, states.get(p.listing_state, p.listing_state),
         paused["stock"] if "stock" in kinds else "", paused["price"] if "price" in kinds else "",
         _minute(p.updated_at))
        for p, kinds in rows
    ))


@register.simple_tag
def plain_widget(field):
    """A filter field's <input> or <select> built directly: the same markup Django's widget templates give,
    without a template render per option (fourteen filters with forty options were a fifth of the orders
    page's time). Other widgets fall back to Django's own rendering."""
    widget = field.field.widget
    attrs = {**widget.attrs, "name": field.html_name, "id": field.auto_id}
    if isinstance(widget, forms.Select) and not widget.allow_multiple_selected:
        current = "" if field.value() is None else str(field.value())
        options = "".join(
            f'<option value="{e(str(value))}"{" selected" if str(value) == current else ""}>{e(str(label))}</option>'
            for value, label in widget.choices)
        return mark_safe(f"<select{_attrs(attrs)}>{options}</select>")
    if isinstance(widget, forms.widgets.Input) and not isinstance(widget, (forms.FileInput, forms.CheckboxInput)):
        value = widget.format_value(field.value())
        attrs = {"type": widget.input_type, **attrs}
        if value not in (None, ""):
            attrs["value"] = value
        return mark_safe(f"<input{_attrs(attrs)}>")
    return field.as_widget()


def _attrs(attrs: dict) -> str:
    """HTML attributes as Django's widgets write them: True as a bare name, None and False left out."""
    return "".join(f" {e(str(k))}" if v is True else f' {e(str(k))}="{e(str(v))}"'
                   for k, v in attrs.items() if v is not None and v is not False)
