"""The rows of the two big list tables, built in Python as Django's admin builds its changelist rows.

A list page shows 50 rows of about ten values; through the template engine each value costs a variable
lookup, a filter and a choices lookup, which made rendering most of a page's time (bench/pages.py).
"""
from django import template
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
    """Column key -> a function of an order giving that cell's <td> (escaped)."""
    return {
        "source": lambda o: format_html(
            '<td class="nowrap">{}{}</td>', source.get(o.source, o.source),
            format_html(' · <span class="muted">{}</span>', o.connection.name) if o.connection_id else ""),
        "customer": lambda o: format_html("<td>{}</td>", o.customer.name if o.customer_id else o.buyer_nick),
        "receiver": lambda o: format_html('<td>{}<div class="muted small">{}</div></td>', o.receiver_name,
                                          o.receiver_phone),
        "created": lambda o: format_html('<td class="nowrap">{}</td>', _minute(o.created_at)),
        "paid": lambda o: format_html('<td class="nowrap">{}</td>', _minute(o.paid_at)),
        "total": lambda o: format_html('<td class="num">{}</td>', money(o.total_amount)),
        "status": lambda o: format_html('<td><span class="badge {}">{}</span>{}</td>', o.status,
                                        status.get(o.status, o.status), _order_flags(o, refunds)),
        "platform_status": lambda o: format_html("<td>{}</td>", o.platform_status or "—"),
        "erp_status": lambda o: format_html('<td class="nowrap">{}</td>', erp.get(o.erp_status, o.erp_status)),
        "taken": lambda o: format_html('<td class="nowrap">{}</td>', taken if o.taken_by_erp else not_taken),
        "tracking": lambda o: format_html('<td class="code">{}</td>', o.tracking_no or "—"),
        "memo": lambda o: format_html('<td class="memo">{}</td>', o.seller_memo or ""),
    }


@register.simple_tag
def order_rows(orders, columns, selectable=False, reasons=None, fresh=False):
    """<tr> rows of the orders list with the user's columns: a tick box when rows can be selected, the order
    number with its flag colour, in the exception queue (reasons given) why it is there and what to do, then
    one cell per column. Orders come with their customer and connection selected."""
    base = reverse("order_detail", args=[0])[:-2]
    cells = _order_cells(_labels(OrderSource), _labels(OrderStatus), _labels(ErpStatus), _labels(RefundStatus),
                         _("Taken"), format_html('<span class="warn">{}</span>', _("Not taken")))
    chosen = [cells[c] for c in columns if c in cells]
    flags = _labels(OrderFlag)
    rows = []
    for o in orders:
        tick = format_html('<td class="tick"><input type="checkbox" name="id" value="{}" aria-label="{}"></td>',
                           o.pk, o.order_no) if selectable else ""
        flag = format_html(' <span class="flag flag-{}" title="{}"></span>', o.flag, flags.get(o.flag, o.flag)) \
            if o.flag else ""
        why = format_html('<td class="reasons">{}</td>', format_html_join(
            "", '<div class="reason" title="{}">{}</div>',
            ((str(r.action), str(r.label)) for r in reasons.get(o.pk, ())))) if reasons is not None else ""
        rows.append(format_html(
            '<tr{}>{}<td class="nowrap"><a href="{}{}/">{}</a>{}</td>{}{}</tr>', mark_safe(' class="fresh"') if fresh
            else "", tick, base, o.pk, o.order_no, flag, why, mark_safe("".join(cell(o) for cell in chosen))))
    return mark_safe("\n".join(rows))  # every part was escaped by format_html


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
        '<td class="num">{}</td><td><span class="badge {}">{}</span></td><td>{}{}</td></tr>'
    ), (
        (format_html('<td><input type="checkbox" name="ids" value="{}" aria-label="{}"></td>', p.pk,
                     p.erp_product_id) if can_edit else "",
         base, p.pk, p.erp_product_id, p.name, p.spec, matched if p.base_product_id else unmatched,
         money(p.default_price), f"{p.stock:,}", p.listing_state, states.get(p.listing_state, p.listing_state),
         paused["stock"] if "stock" in kinds else "", paused["price"] if "price" in kinds else "")
        for p, kinds in rows
    ))
