from dataclasses import dataclass, field
from decimal import Decimal

from django.core.exceptions import ValidationError
from django.utils import timezone

from merchant.models import AuditEntry, RowAction

from ..audit import _text
from .copy import insert_rows

NEW, CHANGED, UNCHANGED, INVALID = RowAction.NEW, RowAction.CHANGED, RowAction.UNCHANGED, RowAction.INVALID
WRITE_BATCH = 1000


@dataclass
class Item:
    """One incoming record: typed values of the fields it sets (blank ones left out) and the fields that
    could not be read, with the reason."""

    ref: int
    values: dict
    errors: dict = field(default_factory=dict)


@dataclass
class Outcome:
    ref: int
    key: str
    action: str
    changes: dict = field(default_factory=dict)  # field -> (old, new)
    errors: dict = field(default_factory=dict)  # field -> reason; "" for the record as a whole
    product_id: int | None = None
    payload: object = None  # what apply needs, kind-specific

    @property
    def valid(self) -> bool:
        return self.action != INVALID


def invalid(item: Item, key: str, errors: dict) -> Outcome:
    return Outcome(item.ref, key, INVALID, errors=errors)


def field_error(error: ValidationError, field_name: str) -> str:
    """The first message of a service ValidationError, for one field."""
    if hasattr(error, "error_dict"):
        return "; ".join(message for messages in error.message_dict.values() for message in messages)
    return "; ".join(error.messages) or field_name


def money(value) -> Decimal | None:
    return None if value is None else Decimal(value).quantize(Decimal("0.01"))


def require(item: Item, errors: dict, fields, message) -> None:
    for name in fields:
        if name not in item.values and name not in errors:
            errors[name] = message


class AuditBuffer:
    """Collects audit entries of a bulk apply and writes them in large inserts, as plain rows (what
    audit_entries() would build, without a model instance per entry)."""

    FIELDS = ["merchant_id", "source", "actor_id", "entity", "entity_id", "field", "old_value", "new_value",
              "reason", "at"]

    def __init__(self, merchant_id: int, actor, reason: str = ""):
        self.merchant_id, self.actor, self.reason = merchant_id, actor, reason
        user = getattr(actor, "user", None)
        self.head = (merchant_id, actor.source, user.pk if getattr(user, "pk", None) else None)
        self.entries = []

    def add(self, entity: str, entity_id: int, changes: dict) -> None:
        merchant_id, source, actor_id = self.head
        reason = self.reason[:300]
        self.entries.extend(
            (merchant_id, source, actor_id, entity, entity_id, field, _text(old)[:2000], _text(new)[:2000], reason)
            for field, (old, new) in changes.items() if old != new
        )
        if len(self.entries) >= 5 * WRITE_BATCH:
            self.flush()

    def flush(self) -> None:
        now = timezone.now()  # auto_now_add is not applied to plain rows
        insert_rows(AuditEntry, self.FIELDS, [(*entry, now) for entry in self.entries])
        self.entries.clear()
