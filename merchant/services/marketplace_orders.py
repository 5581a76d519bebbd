"""Writes of orders that come in from a marketplace connection: a bulk, idempotent upsert keyed by
(merchant, marketplace, order number) where an older `modified` never overwrites a newer one (DESIGN
rule 5), and refund states per line. Callers pass plain records (sync.marketplaces.records)."""
from dataclasses import dataclass

from django.db import transaction
from django.utils import timezone

from merchant.changes import products_changed
from merchant.models import Order, OrderItem, OrderSource, OrderStatus, RefundStatus

from .bulk.stock import products_by_key
from .presale import presale_freezes

BATCH = 500
ORDER_FIELDS = (
    "status", "platform_status", "is_presale", "presale_status", "created_at", "modified_at", "paid_at",
    "shipped_at", "completed_at", "buyer_nick", "goods_amount", "shipping_fee", "discount_amount", "total_amount",
    "paid_amount", "receiver_name", "receiver_phone", "receiver_province", "receiver_city", "receiver_district",
    "receiver_address",
)
ITEM_FIELDS = ("product_id", "erp_product_id", "item_name", "spec", "quantity", "unit_price", "amount", "refund_status")


# Marketplace times have whole seconds, so two changes in one second carry the same `modified`; between
# such copies the one further along the order's life wins.
STAGE = {
    OrderStatus.PENDING_PAYMENT: 0, OrderStatus.AWAITING_SHIPMENT: 1, OrderStatus.PARTIALLY_SHIPPED: 2,
    OrderStatus.SHIPPED: 3, OrderStatus.COMPLETED: 4, OrderStatus.CANCELLED: 4,
}


def _is_newer(trade, order: Order) -> bool:
    # Compared to the second: a change made here (shipped by hand) carries microseconds, and the marketplace's
    # record of that same change, stamped in the same second, must not lose to it for being "earlier".
    ours = order.modified_at.replace(microsecond=0)
    if trade.modified_at != ours:
        return trade.modified_at > ours
    theirs_stage, our_stage = STAGE.get(trade.status, 0), STAGE.get(order.status, 0)
    if theirs_stage > our_stage:
        return True
    if theirs_stage == our_stage and trade.platform_status != order.platform_status:
        # Same stage, in the marketplace's words a newer one (e.g. shipped here, now "shipped" there too).
        return True
    if trade.presale_balance_due_at and not order.presale_balance_due_at:
        return True
    return bool(trade.buyer_message) and not order.buyer_message


@dataclass
class UpsertCounts:
    created: int = 0
    updated: int = 0
    unchanged: int = 0

    def add(self, other: "UpsertCounts") -> None:
        self.created += other.created
        self.updated += other.updated
        self.unchanged += other.unchanged


def order_refund_status(states: list[str]) -> str:
    """The order's refund summary from its lines' states."""
    if RefundStatus.REQUESTED in states:
        return RefundStatus.REQUESTED
    refunded = states.count(RefundStatus.REFUNDED)
    if refunded and refunded == len(states):
        return RefundStatus.REFUNDED
    if refunded:
        return RefundStatus.PARTIAL
    if RefundStatus.REJECTED in states:
        return RefundStatus.REJECTED
    return RefundStatus.NONE


def _newest(trades) -> dict:
    newest = {}
    for trade in trades:
        kept = newest.get(trade.order_no)
        if kept is None or trade.modified_at > kept.modified_at or (
            trade.modified_at == kept.modified_at
            and (STAGE.get(trade.status, 0), trade.buyer_message is not None)
            > (STAGE.get(kept.status, 0), kept.buyer_message is not None)
        ):
            newest[trade.order_no] = trade
    return newest


def _lock_connection(connection) -> None:
    # The message consumer and the poller may upsert the same order at once; taking the connection's
    # row lock serializes them, so the modified-time guard below is never raced.
    type(connection).objects.select_for_update().filter(pk=connection.pk).values_list("pk", flat=True).first()


def _apply_trade(order: Order, trade, products: dict, now) -> None:
    for name in ORDER_FIELDS:
        setattr(order, name, getattr(trade, name))
    # List answers never carry the balance deadline (only trade.fullinfo.get does): one already known stays.
    if trade.presale_balance_due_at is not None:
        order.presale_balance_due_at = trade.presale_balance_due_at
    order.presale_frozen = presale_freezes(order, now)
    if trade.buyer_message is not None:
        order.buyer_message = trade.buyer_message
    order.has_unmapped_lines = any(line.erp_product_id not in products for line in trade.lines)
    order.refund_status = order_refund_status([line.refund_status for line in trade.lines])


def _set_line(item: OrderItem, line, products: dict, modified_at) -> None:
    item.product_id = products.get(line.erp_product_id)
    item.erp_product_id = line.erp_product_id
    item.item_name = line.item_name
    item.spec = line.spec
    item.quantity = line.quantity
    item.unit_price = line.unit_price
    item.amount = line.amount
    item.refund_status = line.refund_status
    item.refund_modified_at = modified_at


def orders_upsert_marketplace(*, connection, trades) -> UpsertCounts:
    """Store `trades` for `connection`'s merchant in one transaction; return created/updated/unchanged.
    Re-delivering the same trades changes nothing."""
    counts = UpsertCounts()
    newest = _newest(trades)
    if not newest:
        return counts
    merchant_id = connection.merchant_id
    with transaction.atomic():
        _lock_connection(connection)
        existing = {
            o.order_no: o for o in Order.objects.filter(
                merchant_id=merchant_id, source=OrderSource.MARKETPLACE, order_no__any=list(newest),
            )
        }
        keys = {line.erp_product_id for t in newest.values() for line in t.lines if line.erp_product_id}
        products = {key: product.pk for key, product in
                    products_by_key(merchant_id, keys, lock=False, fields=["erp_product_id"]).items()}
        created, changed, now = [], [], timezone.now()
        for order_no, trade in newest.items():
            order = existing.get(order_no)
            if order is None:
                order = Order(merchant_id=merchant_id, source=OrderSource.MARKETPLACE, order_no=order_no,
                              connection_id=connection.pk)
                _apply_trade(order, trade, products, now)
                created.append((order, trade))
            elif _is_newer(trade, order):
                _apply_trade(order, trade, products, now)
                changed.append((order, trade))
            else:
                counts.unchanged += 1
        Order.objects.bulk_create([o for o, _ in created], batch_size=BATCH)
        new_items = []
        for order, trade in created:
            for number, line in enumerate(trade.lines, start=1):
                item = OrderItem(order_id=order.pk, line_no=number, external_id=line.external_id)
                _set_line(item, line, products, trade.modified_at)
                new_items.append(item)
        if changed:
            Order.objects.bulk_update(
                [o for o, _ in changed], [*ORDER_FIELDS, "buyer_message", "has_unmapped_lines", "refund_status", "presale_balance_due_at",
                 "presale_frozen"],
                batch_size=BATCH,
            )
            new_items += _update_lines(changed, products)
        OrderItem.objects.bulk_create(new_items, batch_size=BATCH)
        # Orders the ERP has not taken hold stock (merchant.sellable): what the marketplaces may sell moved.
        products_changed(merchant_id=merchant_id, kinds=("stock",), product_ids={
            products[line.erp_product_id] for order, trade in created + changed if not order.taken_by_erp
            for line in trade.lines if line.erp_product_id in products})
    counts.created += len(created)
    counts.updated += len(changed)
    return counts


def _update_lines(changed, products) -> list[OrderItem]:
    """Update the lines of changed orders in place (shipments point at them); return lines to create."""
    by_order = {}
    for item in OrderItem.objects.filter(order_id__any=[o.pk for o, _ in changed]):
        by_order.setdefault(item.order_id, {})[item.external_id] = item
    updated, created = [], []
    for order, trade in changed:
        items = by_order.get(order.pk, {})
        next_no = max((i.line_no for i in items.values()), default=0)
        for line in trade.lines:
            item = items.get(line.external_id)
            if item is None:
                next_no += 1
                item = OrderItem(order_id=order.pk, line_no=next_no, external_id=line.external_id)
                created.append(item)
            else:
                updated.append(item)
            _set_line(item, line, products, trade.modified_at)
    OrderItem.objects.bulk_update(updated, [*ITEM_FIELDS, "refund_modified_at"], batch_size=BATCH)
    return created


def order_refunds_apply(*, connection, refunds) -> tuple[UpsertCounts, set[str]]:
    """Set line refund states from refund records, each only if newer than what the line has.
    Returns counts and the order numbers not stored here yet (the caller fetches those orders)."""
    counts = UpsertCounts()
    if not refunds:
        return counts, set()
    newest = {}
    for refund in refunds:
        key = (refund.order_no, refund.line_id)
        if key not in newest or refund.modified_at >= newest[key].modified_at:
            newest[key] = refund
    order_nos = {order_no for order_no, _ in newest}
    with transaction.atomic():
        _lock_connection(connection)
        orders = {
            o.order_no: o for o in Order.objects.filter(
                merchant_id=connection.merchant_id, source=OrderSource.MARKETPLACE, order_no__any=list(order_nos),
            ).only("id", "order_no", "refund_status")
        }
        items = {}
        for item in OrderItem.objects.filter(order_id__any=[o.pk for o in orders.values()]):
            items[(item.order_id, item.external_id)] = item
        missing, touched_orders, updated = set(), set(), []
        for (order_no, line_id), refund in newest.items():
            order = orders.get(order_no)
            item = items.get((order.pk, line_id)) if order else None
            if item is None:
                missing.add(order_no)
                continue
            if item.refund_modified_at and item.refund_modified_at >= refund.modified_at:
                counts.unchanged += 1
                continue
            item.refund_modified_at = refund.modified_at
            if item.refund_status == refund.status:
                counts.unchanged += 1
            else:
                item.refund_status = refund.status
                touched_orders.add(order.pk)
                counts.updated += 1
            updated.append(item)
        OrderItem.objects.bulk_update(updated, ["refund_status", "refund_modified_at"], batch_size=BATCH)
        states = {}
        for order_id, state in OrderItem.objects.filter(order_id__any=list(touched_orders)).values_list(
            "order_id", "refund_status"
        ):
            states.setdefault(order_id, []).append(state)
        for order in orders.values():
            if order.pk in states:
                order.refund_status = order_refund_status(states[order.pk])
        Order.objects.bulk_update([o for o in orders.values() if o.pk in states], ["refund_status"], batch_size=BATCH)
        products_changed(merchant_id=connection.merchant_id, kinds=("stock",),
                                product_ids={item.product_id for item in updated if item.order_id in touched_orders})
    return counts, missing
