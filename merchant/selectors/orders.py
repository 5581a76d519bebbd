"""The orders workbench's reads (SPEC M14): the status tabs, the one search box and the exception queue.

Every tab and every exception rule is one queryset definition, used both for the rows a tab lists and for
the count on the tab, so the two can never disagree.
"""
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Callable

from django.apps import apps
from django.db.models import Exists, OuterRef, Q, QuerySet
from django.db.models.functions import Right
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from merchant.models import (
    ErpCustomerCode, Order, OrderItem, OrderStatus, RefundStatus, Shipment, TrackingEntry,
)

S = OrderStatus
SHIPPABLE = (S.AWAITING_SHIPMENT, S.PARTIALLY_SHIPPED)
CLOSED = (S.COMPLETED, S.CANCELLED)


@dataclass(frozen=True)
class ExceptionRule:
    """One reason an order needs someone: `orders(merchant, now)` are the merchant's orders it applies to."""

    key: str
    label: object  # lazy text: why the order is here
    action: object  # lazy text: what to do about it
    orders: Callable[[object, datetime], QuerySet]


def _orders(merchant) -> QuerySet:
    return Order.objects.filter(merchant=merchant)


def _unmapped(merchant, now):
    return _orders(merchant).filter(has_unmapped_lines=True).exclude(status__in=CLOSED)


def _refund_before_shipping(merchant, now):
    return _orders(merchant).filter(refund_status=RefundStatus.REQUESTED,
                                    status__in=(S.PENDING_PAYMENT, *SHIPPABLE))


def _not_taken(merchant, now):
    return _orders(merchant).filter(status__in=SHIPPABLE, taken_by_erp=False,
                                    paid_at__lt=now - timedelta(hours=merchant.exception_take_hours))


def _not_shipped(merchant, now):
    return _orders(merchant).filter(status__in=SHIPPABLE, taken_by_erp=True,
                                    taken_at__lt=now - timedelta(hours=merchant.exception_ship_hours))


def _stalled(merchant, now):
    since = now - timedelta(hours=merchant.logistics_stall_hours)
    return (_orders(merchant).filter(status=S.SHIPPED, shipped_at__lt=since)
            .exclude(Exists(TrackingEntry.objects.filter(order=OuterRef("pk"), at__gte=since))))


def _erp_rejected(merchant, now):
    # Looked up by name: the refusals are the ERP bridge's records, kept by the sync app.
    refusal = apps.get_model("erp", "ErpOrderRefusal")
    return _orders(merchant).exclude(status__in=CLOSED).filter(
        pk__in=refusal.objects.filter(order__merchant=merchant).values("order_id"))


def _logistics_refused(merchant, now):
    outbox = apps.get_model("sync", "Outbox")
    return _orders(merchant).exclude(status=S.CANCELLED).filter(pk__in=outbox.objects.filter(
        order__merchant=merchant, kind="logistics", failed_at__isnull=False, pending=False).values("order_id"))


EXCEPTION_RULES = (
    ExceptionRule("unmapped", _("A line matches no product"),
                  _("Add the product or correct the line's ERP product id"), _unmapped),
    ExceptionRule("refund_unshipped", _("Refund requested before shipping"),
                  _("Hold the shipment and settle the refund"), _refund_before_shipping),
    ExceptionRule("not_taken", _("Paid, not yet taken by the ERP"),
                  _("Check the ERP connection and the order's lines"), _not_taken),
    ExceptionRule("not_shipped", _("Taken by the ERP, not yet shipped"),
                  _("Ask the warehouse, then enter the logistics"), _not_shipped),
    ExceptionRule("stalled", _("No tracking progress"),
                  _("Ask the carrier where the parcel is"), _stalled),
    ExceptionRule("erp_rejected", _("The ERP rejected the order"),
                  _("Read the ERP's reason and correct the order or the ERP"), _erp_rejected),
    ExceptionRule("logistics_refused", _("The marketplace refused the logistics"),
                  _("Check the carrier and tracking number, then ship again"), _logistics_refused),
)
RULES_BY_KEY = {rule.key: rule for rule in EXCEPTION_RULES}


def _union_ids(querysets) -> QuerySet:
    """One id subquery from several: each part uses its own index, where one OR over them would scan."""
    parts = [qs.order_by().values("pk") if qs.model is Order else qs for qs in querysets]
    first, *rest = parts
    return first.union(*rest, all=True) if rest else first


def exception_orders(merchant, now: datetime | None = None, rule: str = "") -> Q:
    """A filter for the merchant's orders in the exception queue (or under one rule of it)."""
    now = now or timezone.now()
    rules = [RULES_BY_KEY[rule]] if rule in RULES_BY_KEY else EXCEPTION_RULES
    return Q(pk__in=_union_ids([r.orders(merchant, now) for r in rules]))


def exception_reasons(merchant, order_ids, now: datetime | None = None) -> dict[int, list[ExceptionRule]]:
    """Order id -> the exception rules that apply to it, for one page of orders (one small query per rule)."""
    now = now or timezone.now()
    ids = list(order_ids)
    found: dict[int, list[ExceptionRule]] = {}
    if not ids:
        return found
    for rule in EXCEPTION_RULES:
        for pk in rule.orders(merchant, now).filter(pk__in=ids).values_list("pk", flat=True):
            found.setdefault(pk, []).append(rule)
    return found


@dataclass(frozen=True)
class Tab:
    key: str
    label: object
    filter: Callable[[object, datetime], Q]


TABS = (
    Tab("all", _("All"), lambda m, now: Q()),
    Tab("pending_payment", _("Awaiting payment"), lambda m, now: Q(status=S.PENDING_PAYMENT)),
    Tab("awaiting_shipment", _("Awaiting shipment"), lambda m, now: Q(status__in=SHIPPABLE)),
    Tab("shipped", _("Shipped"), lambda m, now: Q(status=S.SHIPPED)),
    Tab("completed", _("Completed"), lambda m, now: Q(status=S.COMPLETED)),
    Tab("closed", _("Closed"), lambda m, now: Q(status=S.CANCELLED)),
    Tab("refunding", _("Refund in progress"), lambda m, now: Q(refund_status=RefundStatus.REQUESTED)),
    Tab("exceptions", _("Exceptions"), exception_orders),
)
TABS_BY_KEY = {tab.key: tab for tab in TABS}


def tab_filter(merchant, key: str, now: datetime | None = None) -> Q:
    tab = TABS_BY_KEY.get(key) or TABS[0]
    return tab.filter(merchant, now or timezone.now())


def search_filter(merchant, q: str) -> Q:
    """The one search box: order number (prefix), receiver (prefix), receiver phone (full, or its last four
    digits), tracking number, buyer nick (prefix), item name (part of it) or ERP product id, ERP customer
    code, seller memo (part of it).

    Each kind of match is its own indexed query; their ids are united, so the search costs what its matches
    cost rather than a scan of every order (bench/pages.py, 1,000,000 orders).
    """
    q = " ".join((q or "").split())[:100]
    if not q:
        return Q()
    orders = _orders(merchant)
    parts = [
        orders.filter(order_no__startswith=q),
        orders.filter(tracking_no=q),
        Shipment.objects.filter(order__merchant=merchant, tracking_no=q).order_by().values("order_id"),
        orders.filter(receiver_name__startswith=q),
        orders.filter(buyer_nick__startswith=q),
        OrderItem.objects.filter(order__merchant=merchant, erp_product_id=q).order_by().values("order_id"),
        orders.filter(customer__in=ErpCustomerCode.objects.filter(merchant=merchant, code=q).values("customer_id")),
    ]
    digits = q.replace("-", "").replace(" ", "").lstrip("+")
    if digits.isdigit() and len(digits) == 4:
        parts.append(orders.alias(phone_tail=Right("receiver_phone", 4)).filter(phone_tail=digits))
    elif digits.isdigit() and len(digits) >= 7:
        parts.append(orders.filter(receiver_phone__in={q, digits}))
    # Fewer than three characters match too much of every name to be worth reading (a trigram index cannot
    # serve them either); whole names and ids are still found by the exact parts above.
    if len(q) >= 3:
        parts.append(orders.exclude(seller_memo="").filter(seller_memo__icontains=q))
        parts.append(OrderItem.objects.filter(order__merchant=merchant, item_name__icontains=q)
                     .order_by().values("order_id"))
    return Q(pk__in=_union_ids(parts))
