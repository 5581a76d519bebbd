"""Sellable stock (SPEC S4): what a marketplace may sell of a product right now.

    stock in force
    - quantity in orders the ERP has not taken yet
    - the merchant's safety stock
    never below 0.

Orders the ERP has taken are already out of the stock the ERP reports, so subtracting them again would
count them twice. Of the others, an order holds its quantity while it may still ship out of this stock:
pending payment (a presale or an unpaid order must not be oversold), awaiting shipment, and partially
shipped (the whole order, since the ERP has not seen any of it). Shipped, completed and cancelled orders
hold nothing, nor does a line whose refund went through (the goods never leave).

A presale whose deposit is paid and balance not is a pending-payment order: it holds its quantity while it
is frozen for presale (merchant.services.presale), and only once: the "frozen for presale" figure the pages
show (merchant.selectors.presale) is that part of what is held here, not held on top of it. Once its balance
deadline passed it holds nothing, even before the marketplace's close of the trade reaches us.

For a batch-managed product the stock in force is its on-sale batches, less those expiring within the
merchant's expiry_exclusion_days: a batch expiring on or before today + N is not offered (N = 0 leaves out
only the expired ones, as stock itself does), and an empty batch never counts.
"""
from collections import defaultdict
from collections.abc import Iterable
from datetime import date, timedelta

from django.db.models import Q, Sum
from django.utils import timezone

from merchant.models import Batch, OrderItem, OrderStatus, PresaleStage, RefundStatus

CHUNK = 500
# The merchant settings sellable stock depends on: a change of either moves every product's sellable stock.
SELLABLE_SETTINGS = frozenset({"safety_stock", "expiry_exclusion_days"})
HOLDING_STATUSES = (OrderStatus.PENDING_PAYMENT, OrderStatus.AWAITING_SHIPMENT, OrderStatus.PARTIALLY_SHIPPED)
# A deposit-paid presale no longer frozen (its balance deadline passed) holds nothing.
PRESALE_RELEASED = Q(order__is_presale=True, order__presale_status=PresaleStage.DEPOSIT_PAID,
                     order__status=OrderStatus.PENDING_PAYMENT, order__presale_frozen=False)


def sellable_stock(products, merchant, *, today: date | None = None) -> dict[int, int]:
    """{product id: sellable quantity} for `products` (the merchant's, with stock and batch_managed loaded),
    in at most two queries whatever their number."""
    products = list(products)
    if not products:
        return {}
    today = today or timezone.localdate()
    batch_managed = [p.pk for p in products if p.batch_managed]
    in_force = {p.pk: p.stock for p in products if not p.batch_managed}
    if batch_managed:
        last_excluded = today + timedelta(days=merchant.expiry_exclusion_days)
        batches = dict(
            Batch.objects.filter(product_id__in=batch_managed, quantity__gt=0, expiry_date__gt=last_excluded)
            .values_list("product_id").annotate(total=Sum("quantity")).values_list("product_id", "total")
        )
        in_force.update({pk: batches.get(pk, 0) for pk in batch_managed})
    held = dict(
        OrderItem.objects.filter(
            product_id__in=list(in_force), order__merchant_id=merchant.pk, order__taken_by_erp=False,
            order__status__in=HOLDING_STATUSES,
        ).exclude(refund_status=RefundStatus.REFUNDED).exclude(PRESALE_RELEASED)
        .values_list("product_id").annotate(total=Sum("quantity")).values_list("product_id", "total")
    )
    return {pk: max(0, stock - held.get(pk, 0) - merchant.safety_stock) for pk, stock in in_force.items()}


def products_held_by(orders: Iterable) -> dict[int, set[int]]:
    """{merchant id: product ids} whose sellable stock a change to these orders may move: the products of
    the orders the ERP has not taken (a taken order is already out of the ERP's stock, so it holds nothing
    here and moving it moves nothing). One query per 500 orders."""
    untaken = defaultdict(list)  # merchant id -> orders the ERP has not taken
    for order in orders:
        if not order.taken_by_erp:
            untaken[order.merchant_id].append(order.pk)
    held = {}
    for merchant_id, ids in untaken.items():
        product_ids = set()
        for start in range(0, len(ids), CHUNK):
            product_ids.update(OrderItem.objects.filter(order_id__in=ids[start:start + CHUNK], product__isnull=False)
                               .values_list("product_id", flat=True))
        held[merchant_id] = product_ids
    return held
