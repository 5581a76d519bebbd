from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils.translation import gettext as _

from merchant.models import ErpCustomerCode
from merchant.permissions import Action, Actor

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
