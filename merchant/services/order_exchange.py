"""Orders handed to the merchant's ERP (SPEC A2, M10): the ERP's order query marks what it receives as taken.

Sellable stock (SPEC S4) subtracts the quantity of orders the ERP has not taken yet, because the ERP's stock
figure does not know them; once taken, the ERP's next stock figure includes them. Marking orders taken thus
changes sellable stock, and the marketplaces must hear about it.
"""
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from merchant.changes import products_changed
from merchant.models import AuditEntry, Module, Order, OrderItem
from merchant.permissions import Action, Actor

from .audit import audit_entries
from .order_attention import order_attention_touch
from .switches import module_pause


def orders_marking_paused_reason(merchant) -> str | None:
    """Why orders are not marked taken now (the merchant's "orders" auto-sync switch is off), else None."""
    switch = module_pause(merchant, Module.ORDERS)
    if switch is None:
        return None
    until = ""
    if switch.paused_until:
        until = _(" until %(time)s") % {
            "time": timezone.localtime(switch.paused_until).strftime("%Y-%m-%d %H:%M")}
    return _("auto sync of %(module)s is off%(until)s") % {"module": Module(Module.ORDERS).label, "until": until}


def orders_mark_taken(*, merchant, orders, actor: Actor, reason: str = "") -> int:
    """Mark the merchant's `orders` not yet taken by the ERP as taken now, with one audit entry each, and
    record their products' stock for the marketplace pushes. Orders of another merchant are ignored.
    The given instances that were marked get taken_by_erp and taken_at set. Returns how many were marked."""
    orders = list(orders)
    now = timezone.now()
    ids = _taken_set(merchant=merchant, orders=orders, taken=True, at=now, actor=actor, reason=reason)
    for order in orders:
        if order.pk in ids:
            order.taken_by_erp, order.taken_at = True, now
    return len(ids)


def orders_mark_not_taken(*, merchant, orders, actor: Actor, reason: str = "") -> int:
    """Hand orders the ERP had taken back to it: they are offered again on its next order query, and their
    quantities count against sellable stock again (the marketplaces hear of it). Returns how many changed."""
    return len(_taken_set(merchant=merchant, orders=list(orders), taken=False, at=None, actor=actor, reason=reason))


def _taken_set(*, merchant, orders, taken: bool, at, actor: Actor, reason: str) -> set[int]:
    """Set taken_by_erp on those of the merchant's orders not already so; returns the ids that changed."""
    actor.require(Action.EDIT)
    wanted = [order.pk for order in orders if order.merchant_id == merchant.pk]
    if not wanted:
        return set()
    with transaction.atomic():
        # Locking first and updating only the rows still in the other state: of two ERP calls that receive the
        # same order at once, only one marks (and audits) it.
        ids = list(Order.objects.select_for_update().filter(merchant=merchant, pk__in=wanted, taken_by_erp=not taken)
                   .order_by("pk").values_list("pk", flat=True))
        if not ids:
            return set()
        # modified_at stays: it is the order's own version (a marketplace update older than it would lose).
        Order.objects.filter(pk__in=ids).update(taken_by_erp=taken, taken_at=at)
        entries = []
        for pk in ids:
            entries += audit_entries(merchant_id=merchant.pk, entity="order", entity_id=pk,
                                     changes={"taken_by_erp": (not taken, taken)}, actor=actor, reason=reason)
        AuditEntry.objects.bulk_create(entries)
        product_ids = set(OrderItem.objects.filter(order_id__in=ids, product__isnull=False)
                          .values_list("product_id", flat=True))
        products_changed(merchant_id=merchant.pk, product_ids=product_ids, kinds=("stock",))
        order_attention_touch(merchant_id=merchant.pk, order_ids=ids)
    return set(ids)
