from datetime import datetime

from merchant.models import AuditEntry


def _text(value) -> str:
    """A value as stored text: datetimes in ISO form to the second (pages show them in local time)."""
    if value is None:
        return ""
    if isinstance(value, datetime):
        return value.isoformat(timespec="seconds")
    return str(value)


def audit_changes(*, merchant_id: int, entity: str, entity_id: int, changes: dict, actor, reason: str = "") -> list:
    """Write one audit entry per changed field; changes maps field -> (old, new). Returns the entries."""
    return AuditEntry.objects.bulk_create(
        audit_entries(merchant_id=merchant_id, entity=entity, entity_id=entity_id, changes=changes, actor=actor,
                      reason=reason)
    )


def audit_entries(*, merchant_id: int, entity: str, entity_id: int, changes: dict, actor, reason: str = "") -> list:
    """Unsaved audit entries, one per changed field, for bulk paths that write many objects' entries at once."""
    return [
        AuditEntry(
            merchant_id=merchant_id,
            source=actor.source,
            actor=actor.user if getattr(actor.user, "pk", None) else None,
            entity=entity,
            entity_id=entity_id,
            field=field,
            old_value=_text(old)[:2000],
            new_value=_text(new)[:2000],
            reason=reason[:300],
        )
        for field, (old, new) in changes.items()
        if old != new
    ]


def apply_changes(instance, values: dict) -> dict:
    """Set the given attributes on instance; return field -> (old, new) for those that changed."""
    changes = {}
    for field, new in values.items():
        old = getattr(instance, field)
        if old != new:
            changes[field] = (old, new)
            setattr(instance, field, new)
    return changes


def merchant_settings_write(*, merchant, values: dict, actor) -> tuple:
    """Write merchant settings under a row lock, audited field by field; returns (the locked merchant, the
    changes field -> (old, new)). Call it inside the caller's transaction."""
    from merchant.models import Merchant

    locked = Merchant.objects.select_for_update().get(pk=merchant.pk)
    changes = apply_changes(locked, values)
    if changes:
        locked.save(update_fields=list(changes))
        audit_changes(merchant_id=locked.pk, entity="merchant", entity_id=locked.pk, changes=changes, actor=actor)
    return locked, changes
