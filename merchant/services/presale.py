"""Presale freeze (SPEC S10).

A presale (TOP type=step) whose deposit is paid and balance not (step_trade_status FRONT_PAID_FINAL_NOPAID)
freezes its quantity: the marketplaces must not sell it again while the buyer may still pay the balance.
It is released when the trade closes, when the balance is paid (the order then holds its stock as any paid
order does, until the ERP takes it), or when the balance deadline passes: the marketplace closes such a
trade itself, but its close may reach us late, so a periodic pass (presale_freezes_expire) releases it on
time rather than keeping stock off sale.

When the ERP gets such an order is the merchant's choice (Merchant.presale_handoff): once the balance is paid
(default), or already at deposit, marked presale (merchant.selectors.presale.presale_withheld).
"""
from datetime import datetime

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from merchant.changes import products_changed
from merchant.models import AuditEntry, AuditSource, Merchant, Order, OrderItem, OrderStatus, PresaleHandoff, PresaleStage
from merchant.permissions import Action, Actor

from .audit import audit_entries, merchant_settings_write

EXPIRE_BATCH = 500


def presale_freezes(order: Order, now: datetime) -> bool:
    """Whether `order` (its fields as they are about to be stored) freezes its quantity at `now`."""
    return (order.is_presale and order.presale_status == PresaleStage.DEPOSIT_PAID
            and order.status == OrderStatus.PENDING_PAYMENT
            and (order.presale_balance_due_at is None or order.presale_balance_due_at > now))


def presale_freezes_expire(*, now: datetime | None = None) -> int:
    """Release every frozen presale whose balance deadline is past (`now`, default the current time), with an
    audit entry each, and ask for a stock push of the products they held. Returns how many were released."""
    now = now or timezone.now()
    actor = Actor.system(source=AuditSource.SYSTEM)
    reason = _("the balance was not paid by its deadline")
    released = 0
    while True:
        with transaction.atomic():
            # Locked as they are read, skipping rows an order upsert holds: that one decides itself.
            rows = list(Order.objects.select_for_update(skip_locked=True)
                        .filter(presale_frozen=True, presale_balance_due_at__lte=now)
                        .order_by("presale_balance_due_at", "pk").values_list("pk", "merchant_id")[:EXPIRE_BATCH])
            claimed = {pk for pk, _merchant in rows}
            Order.objects.filter(pk__in=claimed).update(presale_frozen=False)
            entries, by_merchant = [], {}
            for pk, merchant_id in rows:
                if pk in claimed:
                    entries += audit_entries(merchant_id=merchant_id, entity="order", entity_id=pk,
                                             changes={"presale_frozen": (True, False)}, actor=actor, reason=reason)
                    by_merchant.setdefault(merchant_id, []).append(pk)
            AuditEntry.objects.bulk_create(entries)
            for merchant_id, order_ids in by_merchant.items():
                # Orders the ERP has taken hold nothing in sellable stock, so releasing them moves nothing.
                products = OrderItem.objects.filter(order_id__in=order_ids, order__taken_by_erp=False,
                                                    product__isnull=False).values_list("product_id", flat=True)
                products_changed(merchant_id=merchant_id, kinds=("stock",), product_ids=set(products))
        released += len(claimed)
        if len(rows) < EXPIRE_BATCH:
            return released


def merchant_presale_handoff_set(*, merchant: Merchant, handoff: str, actor: Actor) -> Merchant:
    """When presale orders go to the ERP: once the balance is paid, or already at deposit (owner only)."""
    actor.require(Action.SETTINGS)
    if handoff not in PresaleHandoff.values:
        raise ValidationError({"handoff": _("Choose when presale orders go to the ERP.")})
    with transaction.atomic():
        locked, changes = merchant_settings_write(merchant=merchant, values={"presale_handoff": handoff}, actor=actor)
    return locked
