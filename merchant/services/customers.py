from collections.abc import Iterable

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from merchant.models import ErpCustomerCode, UnmatchedErpCustomer
from merchant.permissions import Action, Actor
from merchant.validators import normalise_uscc

from .audit import audit_changes


def erp_code_set(*, merchant, customer, code: str, actor: Actor) -> ErpCustomerCode | None:
    """Set (or with a blank code, remove) this merchant's ERP code for a customer. Returns the code row."""
    actor.require(Action.EDIT)
    code = (code or "").strip()
    with transaction.atomic():
        existing = ErpCustomerCode.objects.select_for_update().filter(merchant=merchant, customer=customer).first()
        old = existing.code if existing else None
        if code:
            clash = ErpCustomerCode.objects.filter(merchant=merchant, code=code).exclude(customer=customer)
            other = clash.select_related("customer").first()
            if other:
                raise ValidationError(
                    {"code": _("ERP code %(code)s is already used for %(customer)s.")
                     % {"code": code, "customer": other.customer.name}}
                )
        if old == (code or None):
            return existing
        if not code:
            existing.delete()
            result = None
        elif existing:
            existing.code = code
            existing.save(update_fields=["code", "updated_at"])
            result = existing
        else:
            result = ErpCustomerCode.objects.create(merchant=merchant, customer=customer, code=code)
        audit_changes(
            merchant_id=merchant.pk, entity="customer", entity_id=customer.pk,
            changes={"erp_code": (old, code or None)}, actor=actor,
        )
    return result


def unmatched_erp_customers_record(
    *, merchant, unmatched: list[dict], matched_usccs: Iterable[str], source: str
) -> int:
    """Remember the customers an ERP sent whose USCC matches no platform customer (SPEC M9), the latest per
    USCC, and forget those whose USCC this push matched. `unmatched` holds the objects as sent (uscc,
    erp_customer_code, customer_name). Returns how many this push left listed.

    Not audited: the list records what arrived, it changes none of the merchant's data."""
    now = timezone.now()
    rows = {}
    for item in unmatched:
        uscc = normalise_uscc(_text(item.get("uscc")))
        if uscc and len(uscc) <= 18:  # the push validated its format; a bad one never gets here
            rows[uscc] = UnmatchedErpCustomer(
                merchant=merchant, uscc=uscc, erp_customer_code=_text(item.get("erp_customer_code"))[:64],
                customer_name=_text(item.get("customer_name"))[:200], source=source, received_at=now)
    matched = {normalise_uscc(uscc) for uscc in matched_usccs if isinstance(uscc, str)} - set(rows)
    with transaction.atomic():
        if matched:
            UnmatchedErpCustomer.objects.filter(merchant=merchant, uscc__in=matched).delete()
        UnmatchedErpCustomer.objects.bulk_create(
            rows.values(), update_conflicts=True, unique_fields=["merchant", "uscc"],
            update_fields=["erp_customer_code", "customer_name", "source", "received_at"])
    return len(rows)


def _text(value) -> str:
    return value.strip() if isinstance(value, str) else ""
