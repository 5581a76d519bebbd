"""Writes of the purchase suggestions' settings: the merchant's defaults and one product's own values."""
from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils.translation import gettext as _

from merchant.models import Merchant, Product, ProductReplenishment
from merchant.permissions import Action, Actor

from .audit import apply_changes, audit_changes, merchant_settings_write

MAX_DAYS = 365
MAX_ON_ORDER = 10_000_000


def _check_days(field: str, value, *, allow_none: bool) -> None:
    if value is None and allow_none:
        return
    if value is None or not 0 <= value <= MAX_DAYS:
        raise ValidationError({field: _("Enter a number of days from 0 to 365.")})


def replenishment_defaults_set(*, merchant: Merchant, lead_days: int, review_days: int, safety_days: int,
                               actor: Actor) -> Merchant:
    """The merchant's purchase lead time, days between purchase orders and safety days (owner only). Returns
    the merchant; raises ValidationError (out of range) or PermissionDenied."""
    actor.require(Action.SETTINGS)
    values = {"replenish_lead_days": lead_days, "replenish_review_days": review_days,
              "replenish_safety_days": safety_days}
    for field, value in values.items():
        _check_days(field, value, allow_none=False)
    if lead_days + review_days == 0:
        raise ValidationError({"replenish_review_days": _("Lead time and days between orders cannot both be 0.")})
    with transaction.atomic():
        locked, changes = merchant_settings_write(merchant=merchant, values=values, actor=actor)
    for field in values:
        setattr(merchant, field, getattr(locked, field))
    return locked


def replenishment_product_set(*, product: Product, lead_days: int | None, review_days: int | None,
                              safety_days: int | None, on_order: int, actor: Actor) -> ProductReplenishment:
    """One product's own purchase settings (None = the merchant's) and its quantity on order. Audited on the
    product (entity "replenishment", keyed by the product id). Raises ValidationError (out of range) or PermissionDenied."""
    actor.require(Action.EDIT)
    for field, value in (("lead_days", lead_days), ("review_days", review_days), ("safety_days", safety_days)):
        _check_days(field, value, allow_none=True)
    if on_order is None or not 0 <= on_order <= MAX_ON_ORDER:
        raise ValidationError({"on_order": _("Enter a quantity from 0 to 10,000,000.")})
    with transaction.atomic():
        row, _created = ProductReplenishment.objects.select_for_update().get_or_create(
            product=product, defaults={"merchant_id": product.merchant_id})
        changes = apply_changes(row, {"lead_days": lead_days, "review_days": review_days,
                                      "safety_days": safety_days, "on_order": on_order})
        if changes:
            row.save()
            # Keyed by the product, so that its purchase settings' history reads as one list.
            audit_changes(merchant_id=product.merchant_id, entity="replenishment", entity_id=product.pk,
                          changes=changes, actor=actor)
    return row
