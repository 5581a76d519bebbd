"""Reads of the presale freeze (SPEC S10): what deposit-paid presale orders hold, per product and in all, and
which presale orders the ERP is not to be offered yet.

A frozen order is one with `presale_frozen` set (merchant.services.presale keeps it). Sellable stock
(merchant.sellable) counts a frozen order once, as the pending-payment order it also is; what is shown here as
"frozen for presale" is that part of the held quantity, not more of it. An order the ERP took already at
deposit (the merchant's choice) is still frozen here, but sellable stock no longer holds it: the ERP's
own stock figure has it out.
"""
from dataclasses import dataclass
from datetime import datetime

from django.db.models import Count, Min, Q, Sum

from merchant.models import Order, OrderItem, PresaleHandoff, PresaleStage, RefundStatus

# Stages in which a presale's balance is not paid: its order waits for the balance before the ERP sees it.
BALANCE_UNPAID = (PresaleStage.DEPOSIT_UNPAID, PresaleStage.DEPOSIT_PAID, PresaleStage.DEPOSIT_FORFEITED)


def presale_withheld(merchant) -> Q:
    """Orders of `merchant` not to be offered to the ERP (Open API and bridge): presales not taken yet whose
    balance is unpaid, except, when the merchant hands presales over at deposit, the frozen ones."""
    withheld = Q(is_presale=True, taken_by_erp=False, presale_status__in=BALANCE_UNPAID)
    if merchant.presale_handoff == PresaleHandoff.DEPOSIT:
        withheld &= ~Q(presale_frozen=True)
    return withheld


def presale_handed_at_deposit(merchant) -> Q:
    """Frozen presales the ERP gets before their balance, when the merchant chose so (else matches nothing)."""
    if merchant.presale_handoff != PresaleHandoff.DEPOSIT:
        return Q(pk__in=[])
    return Q(presale_frozen=True)


def _frozen_lines(merchant):
    return OrderItem.objects.filter(order__merchant_id=merchant.pk, order__presale_frozen=True,
                                    product__isnull=False).exclude(refund_status=RefundStatus.REFUNDED)


def presale_frozen_by_product(merchant, product_ids) -> dict[int, int]:
    """{product id: quantity frozen for presale} for those of `product_ids` with any (one query)."""
    return dict(_frozen_lines(merchant).filter(product_id__in=list(product_ids)).values_list("product_id")
                .annotate(total=Sum("quantity")).values_list("product_id", "total").order_by())


@dataclass
class FrozenLine:
    order: Order
    quantity: int


def presale_frozen_for_product(merchant, product) -> list[FrozenLine]:
    """The frozen presale orders holding `product`, soonest balance deadline first, each with its quantity."""
    rows = (_frozen_lines(merchant).filter(product_id=product.pk).values("order_id")
            .annotate(total=Sum("quantity")).order_by())
    totals = {row["order_id"]: row["total"] for row in rows}
    orders = Order.objects.filter(merchant_id=merchant.pk, pk__in=list(totals)).order_by(
        "presale_balance_due_at", "created_at", "pk")
    return [FrozenLine(order, totals[order.pk]) for order in orders]


@dataclass
class FrozenSummary:
    quantity: int
    orders: int
    products: int
    next_due: datetime | None
    top_products: list  # [(product, quantity)], the largest first


def presale_frozen_summary(merchant, *, top: int = 5) -> FrozenSummary:
    """The dashboard figure: quantity and orders frozen, products concerned, the nearest balance deadline."""
    from merchant.models import Product

    lines = _frozen_lines(merchant)
    totals = lines.aggregate(quantity=Sum("quantity"), orders=Count("order_id", distinct=True),
                             products=Count("product_id", distinct=True))
    next_due = (Order.objects.filter(merchant_id=merchant.pk, presale_frozen=True)
                .aggregate(due=Min("presale_balance_due_at"))["due"])
    per_product = list(lines.values_list("product_id").annotate(total=Sum("quantity"))
                       .order_by("-total", "product_id")[:top])
    products = Product.objects.in_bulk([pk for pk, _total in per_product])
    return FrozenSummary(
        quantity=totals["quantity"] or 0, orders=totals["orders"] or 0, products=totals["products"] or 0,
        next_due=next_due, top_products=[(products[pk], total) for pk, total in per_product if pk in products])
