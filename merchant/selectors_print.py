"""Reads for printing a selection of orders: delivery notes and the pick list.

Everything is loaded in a constant number of queries whatever the number of orders (orders, their items with
products, the items' shipments, the products' batches), then put together by merchant/picking.py.
"""
from dataclasses import dataclass, field
from datetime import date
from functools import cached_property

from django.db.models import QuerySet

from merchant.models import Batch, Order, OrderItem, OrderStatus, RefundStatus, ShipmentItem
from merchant.picking import Allocation, BatchStock, LineNeed, PickList, allocate, pick_list

# Orders whose lines are still to be picked; the others (unpaid, shipped, cancelled...) are printed as they are.
PICKABLE = {OrderStatus.AWAITING_SHIPMENT, OrderStatus.PARTIALLY_SHIPPED}


@dataclass
class NoteLine:
    """An order line on its delivery note: what was shipped of it (ShipmentItem rows, with their batches) and,
    for what is left, the batches suggested first-expiry-first-out."""

    item: OrderItem
    shipped: list[ShipmentItem] = field(default_factory=list)
    suggested: list[Allocation] = field(default_factory=list)

    @property
    def refunded(self) -> bool:
        return self.item.refund_status == RefundStatus.REFUNDED

    @property
    def suggested_batches(self) -> list[Allocation]:
        """The suggestions worth printing: batches and shortages. A product without batch records has no batch
        to suggest, so its part from stock is printed only beside a shortage, to show how much there is."""
        if any(a.shortage for a in self.suggested):
            return self.suggested
        return [a for a in self.suggested if a.batch_no]

    @property
    def shipped_quantity(self) -> int:
        return sum(s.quantity for s in self.shipped)


@dataclass
class DeliveryNote:
    order: Order
    lines: list[NoteLine]

    @property
    def quantity(self) -> int:
        return sum(line.item.quantity for line in self.lines)


@dataclass
class PrintSelection:
    """The selected orders (in the order selected) with their lines, ready for both print pages."""

    orders: list[Order]
    notes: list[DeliveryNote]
    needs: list[LineNeed]
    allocations: dict[int, list[Allocation]]

    @property
    def unpicked_orders(self) -> list[Order]:
        """Selected orders that are not awaiting shipment, so nothing of them is picked."""
        return [o for o in self.orders if o.status not in PICKABLE]

    @cached_property
    def pick_list(self) -> PickList:
        """The selection's unshipped lines summed by product and batch (merchant/picking.py)."""
        return pick_list(self.needs, self.allocations)


def _pick_sequence(order: Order) -> tuple:
    # First paid, first served: when a batch runs out, the orders that waited longest get it.
    return (order.paid_at is None, order.paid_at or order.created_at, order.created_at, order.pk)


def print_selection(merchant, orders: QuerySet, *, today: date, position: list[int] | None = None
                    ) -> PrintSelection:
    """The merchant's orders among `orders` with their lines, shipments and FEFO batch suggestions as of
    today; shown in the order of the ids in `position` (the selection's order), else newest first.

    Lines are picked (and get suggestions) only on orders awaiting shipment, for what is not yet in a
    shipment, and not when the line is refunded. Four queries, whatever the number of orders.
    """
    rank = {pk: i for i, pk in enumerate(position or [])}
    found = list(orders.filter(merchant=merchant).select_related("customer", "carrier"))
    found.sort(key=lambda o: (rank.get(o.pk, len(rank)), -o.created_at.timestamp(), -o.pk))
    by_id = {o.pk: o for o in found}
    items = list(OrderItem.objects.filter(order__in=list(by_id)).select_related("product").order_by("order", "line_no"))
    shipped: dict[int, list[ShipmentItem]] = {}
    for row in (ShipmentItem.objects.filter(order_item__order__in=list(by_id))
                .order_by("shipment__shipped_at", "shipment_id", "pk")):
        shipped.setdefault(row.order_item_id, []).append(row)
    lines_by_order: dict[int, list[NoteLine]] = {}
    for item in items:
        lines_by_order.setdefault(item.order_id, []).append(NoteLine(item=item, shipped=shipped.get(item.pk, [])))

    needs = []
    for order in sorted(found, key=_pick_sequence):
        if order.status not in PICKABLE:
            continue
        for line in lines_by_order.get(order.pk, []):
            left = line.item.quantity - line.shipped_quantity
            if left <= 0 or line.refunded:
                continue
            product = line.item.product
            needs.append(LineNeed(
                item_id=line.item.pk, order_no=order.order_no, product_id=product.pk if product else None,
                erp_product_id=product.erp_product_id if product else line.item.erp_product_id,
                name=product.name if product else line.item.item_name,
                spec=product.spec if product else line.item.spec, unit=product.unit if product else "",
                quantity=left))
    allocations = allocate(needs, _stock_by_product(merchant, items), today)
    for order_lines in lines_by_order.values():
        for line in order_lines:
            line.suggested = allocations.get(line.item.pk, [])
    notes = [DeliveryNote(order=o, lines=lines_by_order.get(o.pk, [])) for o in found]
    return PrintSelection(orders=found, notes=notes, needs=needs, allocations=allocations)


def _stock_by_product(merchant, items: list[OrderItem]) -> dict[int, list[BatchStock]]:
    """Product id -> its batches; a product with no batch records has its stock as one batch without a number."""
    products = {i.product_id: i.product for i in items if i.product_id}
    stock: dict[int, list[BatchStock]] = {pid: [] for pid in products}
    for pid, batch_no, expiry, quantity in (Batch.objects.filter(product__merchant=merchant, product__in=list(products))
                                            .values_list("product_id", "batch_no", "expiry_date", "quantity")):
        stock[pid].append(BatchStock(batch_no=batch_no, expiry_date=expiry, quantity=quantity))
    for pid, batches in stock.items():
        if not batches:
            batches.append(BatchStock(batch_no="", expiry_date=None, quantity=products[pid].stock))
    return stock
