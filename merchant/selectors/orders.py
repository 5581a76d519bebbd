"""The orders workbench's reads (SPEC M14): the status tabs, the one search box and the exception queue.

Every tab is one filter, used both for the rows it lists and for the count on it, so the two never disagree.
The exception rules are defined here once; which of them apply to an order is kept in its `attention` bits
(merchant.services.order_attention), which the exceptions tab reads.
"""
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Callable

from django.apps import apps
from django.db.models import Exists, F, OuterRef, Q, QuerySet
from django.db.models.functions import Right
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from merchant.selectors import planned_count
from merchant.models import (
    ErpCustomerCode, FollowUp, FollowUpStatus, Order, OrderItem, OrderStatus, RefundStatus, Shipment, TrackingEntry,
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
    # An order whose carrier trace we read (sync.pipelines.trace) is judged by that trace, through its follow-up; one with
    # an open follow-up is listed by that rule.
    watch = apps.get_model("sync", "TraceWatch")
    return (_orders(merchant).filter(status=S.SHIPPED, shipped_at__lt=since)
            .exclude(Exists(TrackingEntry.objects.filter(order=OuterRef("pk"), at__gte=since)))
            .exclude(Exists(watch.objects.filter(order=OuterRef("pk"))))
            .exclude(Exists(FollowUp.objects.filter(order=OuterRef("pk"), status=FollowUpStatus.OPEN))))


def _follow_up_open(merchant, now):
    return _orders(merchant).filter(Exists(FollowUp.objects.filter(
        order=OuterRef("pk"), merchant=merchant, status=FollowUpStatus.OPEN)))


def _erp_rejected(merchant, now):
    # Looked up by name: the refusals are the ERP bridge's records, kept by the sync app.
    refusal = apps.get_model("erp", "ErpOrderRefusal")
    # EXISTS, not IN (subquery): the planner semi-joins it either way round, for a page of ids or for all.
    return _orders(merchant).exclude(status__in=CLOSED).filter(
        Exists(refusal.objects.filter(order=OuterRef("pk"))))


def _logistics_refused(merchant, now):
    outbox = apps.get_model("sync", "Outbox")
    return _orders(merchant).exclude(status=S.CANCELLED).filter(Exists(outbox.objects.filter(
        order=OuterRef("pk"), kind="logistics", failed_at__isnull=False, pending=False)))


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
    # Last, so the bits of the rules above keep their values.
    ExceptionRule("follow_up", _("Parcel not moving: follow-up open"),
                  _("Handle it in the follow-up queue"), _follow_up_open),
)
RULES_BY_KEY = {rule.key: rule for rule in EXCEPTION_RULES}
RULE_BITS = {rule.key: 1 << i for i, rule in enumerate(EXCEPTION_RULES)}


def _union_ids(querysets) -> QuerySet:
    """One id subquery from several: each part uses its own index, where one OR over them would scan."""
    parts = [qs.order_by().values("pk") if qs.model is Order else qs for qs in querysets]
    first, *rest = parts
    return first.union(*rest, all=True) if rest else first


def exception_orders_now(merchant, now: datetime | None = None, rule: str = "") -> Q:
    """A filter for the merchant's orders the exception rules (or one of them) catch at this moment, evaluated
    in full: what order_attention_refresh writes into the orders' attention bits."""
    now = now or timezone.now()
    rules = [RULES_BY_KEY[rule]] if rule in RULES_BY_KEY else EXCEPTION_RULES
    return Q(pk__in=_union_ids([r.orders(merchant, now) for r in rules]))


def exception_orders(merchant, now: datetime | None = None, rule: str = "") -> Q:
    """The exception queue (or one rule of it) as the orders' attention bits record it: one indexed column."""
    if rule in RULE_BITS:
        return Q(attention__gt=0) & Q(pk__in=Order.objects.filter(merchant=merchant, attention__gt=0).alias(
            bit=F("attention").bitand(RULE_BITS[rule])).filter(bit__gt=0).values("pk"))
    return Q(attention__gt=0)


def rules_of(mask: int) -> list[ExceptionRule]:
    """The exception rules an attention value names."""
    return [rule for rule in EXCEPTION_RULES if mask & RULE_BITS[rule.key]]


def attention_masks(merchant, order_ids, now: datetime | None = None) -> dict[int, int]:
    """Order id -> its attention bits at this moment (orders no rule catches are left out): one small query
    per rule, whatever the number of orders."""
    now = now or timezone.now()
    ids = list(order_ids)
    masks: dict[int, int] = {}
    if not ids:
        return masks
    for rule in EXCEPTION_RULES:
        for pk in rule.orders(merchant, now).filter(pk__in=ids).values_list("pk", flat=True):
            masks[pk] = masks.get(pk, 0) | RULE_BITS[rule.key]
    return masks


def exception_reasons(merchant, order_ids, now: datetime | None = None) -> dict[int, list[ExceptionRule]]:
    """Order id -> the exception rules that apply to it now, for one order or a page of them (one small query
    per rule)."""
    return {pk: rules_of(mask) for pk, mask in attention_masks(merchant, order_ids, now).items()}


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


SEARCH_EXACT_UP_TO = 10_000
LARGE_TERM = 1_000


@dataclass(frozen=True)
class OrderSearch:
    """What the search box selects: `filter` for the orders queryset; `large` when it matches more than
    SEARCH_EXACT_UP_TO orders, so counts under it are estimates."""

    filter: Q
    large: bool = False


def _search_terms(merchant, q: str) -> list[tuple[Q, QuerySet | None]]:
    """Each kind of match as (a condition on one order, the ids of the orders it matches through its own index;
    None when that is the condition applied to the orders table)."""
    terms: list[tuple[Q, QuerySet | None]] = [
        (Q(order_no__startswith=q), None),
        (Q(tracking_no=q), None),
        (Q(receiver_name__startswith=q), None),
        (Q(buyer_nick__startswith=q), None),
    ]
    # The customers with this ERP code, looked up first: as a subquery the planner cannot tell it is empty.
    customers = list(ErpCustomerCode.objects.filter(merchant=merchant, code=q).values_list("customer_id", flat=True))
    if customers:
        terms.append((Q(customer__in=customers), None))
    shipped = Shipment.objects.filter(tracking_no=q)
    terms.append((Q(Exists(shipped.filter(order=OuterRef("pk")))),
                  shipped.filter(order__merchant=merchant).values_list("order_id", flat=True)))
    by_id = OrderItem.objects.filter(erp_product_id=q)
    terms.append((Q(Exists(by_id.filter(order=OuterRef("pk")))),
                  by_id.filter(order__merchant=merchant).values_list("order_id", flat=True)))
    digits = q.replace("-", "").replace(" ", "").lstrip("+")
    if digits.isdigit() and len(digits) == 4:
        terms.append((Q(receiver_phone__endswith=digits), _orders(merchant).alias(
            phone_tail=Right("receiver_phone", 4)).filter(phone_tail=digits).values_list("pk", flat=True)))
    elif digits.isdigit() and len(digits) >= 7:
        terms.append((Q(receiver_phone__in={q, digits}), None))
    # Fewer than three characters match too much of every name to be worth reading (a trigram index cannot
    # serve them either); whole names and ids are still found by the exact terms above.
    if len(q) >= 3:
        terms.append((~Q(seller_memo="") & Q(seller_memo__icontains=q), None))
        named = OrderItem.objects.filter(item_name__icontains=q)
        terms.append((Q(Exists(named.filter(order=OuterRef("pk")))),
                      named.filter(order__merchant=merchant).values_list("order_id", flat=True)))
    return terms


def order_search(merchant, q: str) -> OrderSearch:
    """The one search box: order number (prefix), receiver (prefix), receiver phone (full, or its last four
    digits), tracking number, buyer nick (prefix), item name (part of it) or ERP product id, ERP customer
    code, seller memo (part of it).

    Each kind of match is read through its own index and the matching ids (up to SEARCH_EXACT_UP_TO) are
    collected once, so the list, its count and every tab's count cost what the matches cost, not a scan of
    every order (bench/pages.py, 1,000,000 orders). A kind the planner expects to match more than LARGE_TERM
    orders (an item many orders hold) is not collected but checked order by order, newest first, so a page
    fills at once; the counts under such a search are the planner's estimates.
    """
    q = " ".join((q or "").split())[:100]
    if not q:
        return OrderSearch(Q())
    orders = _orders(merchant)
    small, large = [], []
    for cond, ids in _search_terms(merchant, q):
        part = (ids if ids is not None else orders.filter(cond).values_list("pk", flat=True)).order_by()
        (large if planned_count(part) > LARGE_TERM else small).append((cond, part))
    found: list[int] = []
    if small:
        first, *rest = [part for _cond, part in small]
        # UNION ALL stops reading at the limit; an order matched twice (two items, say) counts twice here, so
        # reaching the limit means "too many", never a partial list taken for the whole.
        found = list(first.union(*rest, all=True)[: SEARCH_EXACT_UP_TO + 1])
        if len(found) > SEARCH_EXACT_UP_TO:
            large, found = small + large, []
    if not large:
        return OrderSearch(Q(pk__in=sorted(set(found))))
    condition = Q(pk__in=sorted(set(found))) if found else None
    for cond, _part in large:
        condition = cond if condition is None else condition | cond
    return OrderSearch(condition, large=True)


def search_filter(merchant, q: str) -> Q:
    return order_search(merchant, q).filter
