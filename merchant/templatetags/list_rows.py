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

from merchant.models import ErpStatus, ListingState, OrderSource, OrderStatus, RefundStatus

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


@register.simple_tag
def order_rows(orders):
    """<tr> rows of the orders list: number, source (and connection), customer, times, total, statuses
    with presale/refund/unmapped badges, ERP sync. Orders come with their connection selected."""
    base = reverse("order_detail", args=[0])[:-2]
    source, status, erp = _labels(OrderSource), _labels(OrderStatus), _labels(ErpStatus)
    refunds = _labels(RefundStatus)
    taken = _("Taken")
    not_taken = format_html('<span class="warn">{}</span>', _("Not taken"))
    return format_html_join("\n", (
        '<tr><td><a href="{}{}/">{}</a></td><td>{}{}</td><td>{}</td><td>{}</td><td>{}</td><td class="num">{}</td>'
        '<td><span class="badge {}">{}</span>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>'
    ), (
        (base, o.pk, o.order_no, source.get(o.source, o.source),
         format_html(' · <span class="muted">{}</span>', o.connection.name) if o.connection_id else "",
         o.customer.name if o.customer_id else o.buyer_nick, _minute(o.created_at), _minute(o.paid_at),
         money(o.total_amount), o.status, status.get(o.status, o.status), _order_flags(o, refunds),
         o.platform_status or "—", erp.get(o.erp_status, o.erp_status), taken if o.taken_by_erp else not_taken)
        for o in orders
    ))


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
