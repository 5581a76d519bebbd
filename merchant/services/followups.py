"""Follow-ups (merchant.models.followups): opened and updated by sync's trace reader, assigned, noted and
resolved by the merchant's members. Every change is audited (entity "followup")."""
from datetime import datetime

from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from merchant.models import AuditSource, FollowUp, FollowUpKind, FollowUpStatus, Membership, Order
from merchant.permissions import Action, Actor

from .audit import apply_changes, audit_changes
from .order_attention import order_attention_touch

NOTE_MAX = 2000
TRACE_ACTOR = Actor.system(AuditSource.MARKETPLACE)


def _audit(followup: FollowUp, changes: dict, actor: Actor, reason: str = "") -> None:
    audit_changes(merchant_id=followup.merchant_id, entity="followup", entity_id=followup.pk, changes=changes,
                  actor=actor, reason=reason)


def followup_stalled_open(*, order: Order, since: datetime, last_node_at: datetime | None, last_node_text: str,
                          carrier_name: str, tracking_no: str, now: datetime | None = None) -> FollowUp | None:
    """Open the follow-up of a parcel whose trace has not moved since `since` (the caller judged it stalled).
    One stall opens one follow-up: returns None when a follow-up is already open for the order, or when this
    same stall (same `since`) was already followed up and resolved."""
    now = now or timezone.now()
    kind = FollowUpKind.LOGISTICS_STALLED
    if FollowUp.objects.filter(order=order, kind=kind).filter(status=FollowUpStatus.OPEN).exists() or \
            FollowUp.objects.filter(order=order, kind=kind, since=since).exists():
        return None
    try:
        with transaction.atomic():
            followup = FollowUp.objects.create(
                merchant_id=order.merchant_id, order=order, kind=kind, carrier_name=carrier_name[:100],
                tracking_no=tracking_no[:64], since=since, last_node_at=last_node_at,
                last_node_text=last_node_text[:300], stall_hours=order.merchant.logistics_stall_hours, opened_at=now)
            _audit(followup, {"status": ("", FollowUpStatus.OPEN)}, TRACE_ACTOR, reason=followup.reason())
    except IntegrityError:
        # Another pass opened it between the check and the insert (the constraints hold the "exactly one").
        return None
    order_attention_touch(merchant_id=order.merchant_id, order_ids=[order.pk])
    return followup


def followup_trace_moved(*, order: Order, last_node_at: datetime | None, last_node_text: str, delivered: bool,
                         now: datetime | None = None) -> FollowUp | None:
    """The order's trace has a node newer than its open follow-up knew (or was signed for): record that it
    moved, without closing the merchant's work item. Returns the follow-up changed, or None."""
    now = now or timezone.now()
    followup = FollowUp.objects.filter(order=order, kind=FollowUpKind.LOGISTICS_STALLED,
                                       status=FollowUpStatus.OPEN).first()
    if followup is None or last_node_at is None or last_node_at <= followup.since:
        return None
    known = followup.last_node_at
    if known is not None and last_node_at <= known and followup.delivered == delivered:
        return None
    with transaction.atomic():
        changes = apply_changes(followup, {"last_node_at": last_node_at, "last_node_text": last_node_text[:300],
                                           "delivered": delivered, "moved_at": followup.moved_at or now})
        followup.save(update_fields=list(changes))
        _audit(followup, changes, TRACE_ACTOR)
    return followup


def _editable(followup: FollowUp, actor: Actor) -> None:
    actor.require(Action.EDIT)
    if not followup.is_open:
        raise ValidationError(_("This follow-up is already resolved."))


def followup_assign(*, followup: FollowUp, assignee, actor: Actor) -> FollowUp:
    """Give the follow-up to a member of its merchant (None: nobody). Raises ValidationError, PermissionDenied."""
    _editable(followup, actor)
    if assignee is not None and not Membership.objects.filter(user=assignee, merchant_id=followup.merchant_id,
                                                              user__is_active=True).exists():
        raise ValidationError(_("Choose a member of your team."))
    with transaction.atomic():
        changes = apply_changes(followup, {"assignee": assignee})
        if changes:
            followup.save(update_fields=["assignee"])
            old, new = changes.pop("assignee")
            _audit(followup, {"assignee": (getattr(old, "username", ""), getattr(new, "username", ""))}, actor)
    return followup


def followup_note(*, followup: FollowUp, text: str, actor: Actor) -> FollowUp:
    """Replace the follow-up's note (the audit keeps the earlier ones). Raises ValidationError."""
    _editable(followup, actor)
    text = text.strip()
    if len(text) > NOTE_MAX:
        raise ValidationError(_("The note is too long (at most %(max)d characters).") % {"max": NOTE_MAX})
    with transaction.atomic():
        changes = apply_changes(followup, {"note": text})
        if changes:
            followup.save(update_fields=["note"])
            _audit(followup, changes, actor)
    return followup


def followup_resolve(*, followup: FollowUp, note: str, actor: Actor, now: datetime | None = None) -> FollowUp:
    """Close the follow-up, with an optional last note. Raises ValidationError when it is already resolved."""
    _editable(followup, actor)
    now = now or timezone.now()
    note = note.strip()
    if len(note) > NOTE_MAX:
        raise ValidationError(_("The note is too long (at most %(max)d characters).") % {"max": NOTE_MAX})
    with transaction.atomic():
        values = {"status": FollowUpStatus.RESOLVED, "resolved_at": now,
                  "resolved_by": actor.user if getattr(actor.user, "pk", None) else None}
        if note:
            values["note"] = note
        claimed = FollowUp.objects.filter(pk=followup.pk, status=FollowUpStatus.OPEN).update(**values)
        if not claimed:
            raise ValidationError(_("This follow-up is already resolved."))
        changes = apply_changes(followup, values)
        changes.pop("resolved_by", None)
        _audit(followup, changes, actor)
    order_attention_touch(merchant_id=followup.merchant_id, order_ids=[followup.order_id])
    return followup
