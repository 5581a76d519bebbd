from merchant.models import AuditEntry


def _text(value) -> str:
    return "" if value is None else str(value)


def audit_changes(*, merchant_id: int, entity: str, entity_id: int, changes: dict, actor, reason: str = "") -> list:
    """Write one audit entry per changed field; changes maps field -> (old, new). Returns the entries."""
    entries = [
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
    return AuditEntry.objects.bulk_create(entries)


def apply_changes(instance, values: dict) -> dict:
    """Set the given attributes on instance; return field -> (old, new) for those that changed."""
    changes = {}
    for field, new in values.items():
        old = getattr(instance, field)
        if old != new:
            changes[field] = (old, new)
            setattr(instance, field, new)
    return changes
