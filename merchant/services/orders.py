"""Order operations a merchant does by hand (SPEC M10); the Open API reuses them later."""
from dataclasses import dataclass
from datetime import datetime

from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import Sum
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from merchant.changes import order_changed
from merchant.models import ErpStatus, Order, OrderFlag, OrderStatus, Shipment, ShipmentItem, TrackingEntry
from merchant.permissions import Action, Actor

from .audit import apply_changes, audit_changes
from .order_attention import order_attention_touch
# SHIPPABLE and ShipmentLine too: the order page and the Open API take them from here.
from .shipping import SHIPPABLE, ShipmentLine, ShipmentRequest, orders_ship  # noqa: F401

S = OrderStatus
# Manual status changes. Shipping goes through logistics or shipment entry, completion through "signed" too.
MANUAL_TRANSITIONS = {
    S.PENDING_PAYMENT: {S.AWAITING_SHIPMENT, S.CANCELLED},
    S.AWAITING_SHIPMENT: {S.CANCELLED},
    S.PARTIALLY_SHIPPED: set(),
    S.SHIPPED: {S.COMPLETED},
    S.COMPLETED: set(),
    S.CANCELLED: set(),
}
ERP_FLOW = [ErpStatus.SUBMITTED, ErpStatus.PICKING, ErpStatus.OUT_OF_WAREHOUSE, ErpStatus.DELIVERING, ErpStatus.SIGNED]
ERP_MESSAGES = {
    ErpStatus.SUBMITTED: gettext_lazy("Order submitted to the merchant's warehouse"),
    ErpStatus.PICKING: gettext_lazy("Order processed, merchant picking"),
    ErpStatus.OUT_OF_WAREHOUSE: gettext_lazy("Goods out of the warehouse"),
    ErpStatus.DELIVERING: gettext_lazy("Goods on the way to the buyer"),
    ErpStatus.SIGNED: gettext_lazy("Signed for by the buyer"),
}


def _locked(order: Order) -> Order:
    return Order.objects.select_for_update().get(pk=order.pk)


def _save(order: Order, changes: dict, actor: Actor, reason: str = "") -> None:
    order.modified_at = timezone.now()
    order.save(update_fields=[*changes, "modified_at"])
    order_attention_touch(merchant_id=order.merchant_id, order_ids=[order.pk])
    audit_changes(
        merchant_id=order.merchant_id, entity="order", entity_id=order.pk, changes=changes, actor=actor, reason=reason
    )


def allowed_transitions(order: Order) -> list[str]:
    return [s for s in OrderStatus.values if s in MANUAL_TRANSITIONS.get(order.status, set())]


def order_status_change(*, order: Order, status: str, reason: str, actor: Actor) -> Order:
    """Move an order along an allowed manual transition. Raises ValidationError naming the problem."""
    actor.require(Action.EDIT)
    if not (reason or "").strip():
        raise ValidationError({"reason": _("Give a reason for the status change.")})
    with transaction.atomic():
        locked = _locked(order)
        if status not in MANUAL_TRANSITIONS.get(locked.status, set()):
            raise ValidationError({"status": _("An order that is %(old)s cannot be changed to %(new)s by hand.") % {
                "old": OrderStatus(locked.status).label, "new": OrderStatus(status).label
                if status in OrderStatus.values else status,
            }})
        values = {"status": status}
        if status == S.COMPLETED:
            values["completed_at"] = timezone.now()
        _save(locked, apply_changes(locked, values), actor, reason.strip())
        order_changed(order=locked)
    return locked


def remaining_quantities(order: Order) -> dict[int, int]:
    """Order item id -> quantity not yet in any shipment."""
    shipped = dict(
        ShipmentItem.objects.filter(order_item__order=order)
        .values_list("order_item").annotate(total=Sum("quantity")).values_list("order_item", "total")
    )
    return {item.pk: item.quantity - shipped.get(item.pk, 0) for item in order.items.all()}


def order_shipment_add(
    *, order: Order, carrier, tracking_no: str, lines: list[ShipmentLine], actor: Actor,
    shipped_at: datetime | None = None,
) -> Shipment:
    """Record a (possibly partial) shipment; the order becomes partially shipped or shipped. Raises
    ValidationError naming the problem (see shipping.ShippingLedger for the rules)."""
    request = ShipmentRequest(order=order, carrier=carrier, tracking_no=tracking_no, lines=list(lines),
                              shipped_at=shipped_at)
    return orders_ship(shipments=[request], actor=actor)[0]


def order_logistics_enter(*, order: Order, carrier, tracking_no: str, actor: Actor) -> Shipment:
    """Carrier + tracking number for everything not yet shipped: the order becomes shipped. Raises
    ValidationError naming the problem."""
    request = ShipmentRequest(order=order, carrier=carrier, tracking_no=tracking_no, lines=None)
    return orders_ship(shipments=[request], actor=actor)[0]


def order_erp_status_add(
    *, order: Order, erp_status: str, actor: Actor, at: datetime | None = None, message: str = ""
) -> TrackingEntry:
    """Record the ERP's progress: adds a tracking entry; "signed" completes the order."""
    actor.require(Action.EDIT)
    if erp_status not in ERP_FLOW:
        raise ValidationError({"erp_status": _("Unknown ERP status.")})
    with transaction.atomic():
        locked = _locked(order)
        if locked.status == S.CANCELLED:
            raise ValidationError(_("This order is cancelled."))
        if erp_status == ErpStatus.SIGNED and locked.status not in (S.SHIPPED, S.PARTIALLY_SHIPPED):
            raise ValidationError({"erp_status": _("An order can only be signed for after it has shipped.")})
        current = ERP_FLOW.index(locked.erp_status) if locked.erp_status in ERP_FLOW else -1
        if ERP_FLOW.index(erp_status) <= current:
            raise ValidationError({"erp_status": _("The ERP status can only move forward (now: %(status)s).")
                                   % {"status": ErpStatus(locked.erp_status).label}})
        at = at or timezone.now()
        entry = TrackingEntry.objects.create(
            order=locked, at=at, erp_status=erp_status, message=(message or str(ERP_MESSAGES[erp_status]))[:300]
        )
        values = {"erp_status": erp_status}
        if erp_status == ErpStatus.SIGNED:
            values.update(status=S.COMPLETED, completed_at=at)
        changes = apply_changes(locked, values)
        _save(locked, changes, actor)
        if "status" in changes:
            order_changed(order=locked)
    return entry


def order_memo_set(*, order: Order, memo: str, flag: str, actor: Actor) -> Order:
    """The seller's own memo and flag colour on an order (never sent to the buyer or the marketplace)."""
    actor.require(Action.EDIT)
    memo = (memo or "").strip()
    if len(memo) > 500:
        raise ValidationError({"seller_memo": _("Keep the memo to 500 characters.")})
    if flag not in OrderFlag.values:
        raise ValidationError({"flag": _("Choose a flag colour from the list.")})
    with transaction.atomic():
        locked = _locked(order)
        changes = apply_changes(locked, {"seller_memo": memo, "flag": flag})
        if changes:
            # The memo is the merchant's note, not a change of the order: modified_at (the version marketplace
            # updates are compared with) stays.
            locked.save(update_fields=list(changes))
            audit_changes(merchant_id=locked.merchant_id, entity="order", entity_id=locked.pk, changes=changes,
                          actor=actor)
    return locked


@dataclass
class BulkOutcome:
    """What a bulk action did: how many orders changed, and per reason how many were left as they were."""

    changed: int = 0
    skipped: dict = None

    def __post_init__(self):
        self.skipped = self.skipped or {}

    def skip(self, reason: str) -> None:
        self.skipped[reason] = self.skipped.get(reason, 0) + 1


def orders_flag_set(*, orders, flag: str, actor: Actor) -> BulkOutcome:
    """Set one flag colour on many orders, in one transaction."""
    actor.require(Action.EDIT)
    if flag not in OrderFlag.values:
        raise ValidationError({"flag": _("Choose a flag colour from the list.")})
    return _notes_set(orders, {"flag": flag}, actor, _("already had this flag"))


def orders_memo_set(*, orders, memo: str, actor: Actor) -> BulkOutcome:
    """Set one seller memo on many orders (blank clears it), in one transaction."""
    actor.require(Action.EDIT)
    memo = (memo or "").strip()
    if len(memo) > 500:
        raise ValidationError({"seller_memo": _("Keep the memo to 500 characters.")})
    return _notes_set(orders, {"seller_memo": memo}, actor, _("already had this memo"))


def _notes_set(orders, values: dict, actor: Actor, unchanged: str) -> BulkOutcome:
    """The merchant's own notes on many orders: audited, the orders' version (modified_at) left alone."""
    outcome = BulkOutcome()
    with transaction.atomic():
        for order in orders.select_for_update().order_by("pk"):
            changes = apply_changes(order, values)
            if not changes:
                outcome.skip(unchanged)
                continue
            order.save(update_fields=list(changes))
            audit_changes(merchant_id=order.merchant_id, entity="order", entity_id=order.pk, changes=changes,
                          actor=actor)
            outcome.changed += 1
    return outcome


def orders_status_change_plan(*, orders, status: str) -> BulkOutcome:
    """What orders_status_change_many would do, without doing it: for the confirmation before a bulk change."""
    outcome = BulkOutcome()
    for current in orders.order_by().values_list("status", flat=True).iterator(chunk_size=2000):
        if status in MANUAL_TRANSITIONS.get(current, set()):
            outcome.changed += 1
        else:
            outcome.skip(_not_allowed(current, status))
    return outcome


def _not_allowed(current: str, status: str) -> str:
    return _("%(old)s orders cannot be changed to %(new)s") % {
        "old": OrderStatus(current).label, "new": OrderStatus(status).label}


def orders_status_change_many(*, orders, status: str, reason: str, actor: Actor) -> BulkOutcome:
    """Change many orders' status with one reason, in one transaction: each through order_status_change (its
    rules, audit and marketplace record); orders the transition does not allow are left and counted."""
    actor.require(Action.EDIT)
    if status not in OrderStatus.values:
        raise ValidationError({"status": _("Choose a status from the list.")})
    if not (reason or "").strip():
        raise ValidationError({"reason": _("Give a reason for the status change.")})
    outcome = BulkOutcome()
    with transaction.atomic():
        for order in orders.select_for_update().order_by("pk"):
            if status not in MANUAL_TRANSITIONS.get(order.status, set()):
                outcome.skip(_not_allowed(order.status, status))
                continue
            order_status_change(order=order, status=status, reason=reason, actor=actor)
            outcome.changed += 1
    return outcome
