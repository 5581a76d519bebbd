from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from merchant.changes import expiring_batches_recheck, products_changed
from merchant.models import Product
from merchant.permissions import Action, Actor

from .audit import audit_changes


def _locked(product: Product) -> Product:
    return Product.objects.select_for_update().get(pk=product.pk)


def stock_set(*, product: Product, quantity: int, actor: Actor, reason: str = "") -> Product:
    """Set a product's stock in force. Raises ValidationError (negative, batch-managed) or PermissionDenied."""
    actor.require(Action.EDIT)
    if quantity is None or quantity < 0:
        raise ValidationError({"stock": _("Stock cannot be negative.")})
    with transaction.atomic():
        locked = _locked(product)
        if locked.batch_managed:
            raise ValidationError(
                {"stock": _("This product is batch-managed: its stock is the sum of its on-sale batches.")}
            )
        _write_stock(locked, quantity, actor, reason)
    product.stock = locked.stock
    return locked


def stock_recompute_from_batches(*, product: Product, actor: Actor, reason: str = "", today=None) -> Product:
    """For a batch-managed product, set stock to the sum of its on-sale batches (SPEC M6)."""
    with transaction.atomic():
        locked = _locked(product)
        if not locked.batch_managed:
            return locked
        today = today or timezone.localdate()
        total = sum(b.quantity for b in locked.batches.all() if b.is_on_sale(today))
        _write_stock(locked, total, actor, reason)
    product.stock = locked.stock
    return locked


def _write_stock(locked: Product, quantity: int, actor: Actor, reason: str) -> None:
    if locked.stock == quantity:
        return
    old = locked.stock
    locked.stock = quantity
    locked.save(update_fields=["stock", "updated_at"])
    audit_changes(
        merchant_id=locked.merchant_id, entity="product", entity_id=locked.pk,
        changes={"stock": (old, quantity)}, actor=actor, reason=reason,
    )
    products_changed(merchant_id=locked.merchant_id, product_ids=[locked.pk], kinds=("stock",))


def stock_set_by_hand(
    *, product: Product, quantity: int, actor: Actor, reason: str = "", pause_sync: bool = False, until=None
) -> Product:
    """A manual stock edit, optionally pausing this SKU's auto stock sync in the same transaction (SPEC M7)."""
    from .switches import sku_switch_set

    with transaction.atomic():
        result = stock_set(product=product, quantity=quantity, actor=actor, reason=reason)
        if pause_sync:
            sku_switch_set(products=[product], kind="stock", enabled=False, until=until, actor=actor, reason=reason)
    return result


def stock_edit_undo(*, product: Product, previous: int, set_to: int, resume: bool, actor: Actor) -> Product:
    """Take back a stock edit that set set_to: previous stock again, and auto stock sync on again when the edit
    paused it. Refused when the stock changed since (someone or the ERP set another value)."""
    from .switches import sku_switch_set

    with transaction.atomic():
        locked = _locked(product)
        if locked.stock != set_to:
            raise ValidationError(_("Not undone: the stock has changed since (it is %(now)s now).") % {
                "now": locked.stock})
        result = stock_set(product=locked, quantity=previous, actor=actor, reason=_("undo"))
        if resume:
            sku_switch_set(products=[locked], kind="stock", enabled=True, actor=actor, reason=_("undo"))
    product.stock = result.stock
    return result


def stock_recompute_expired_batches(*, today=None) -> int:
    """Batches stop being on sale when they expire, without anyone editing them: recompute the stock of
    batch-managed products that hold an expired batch with quantity. Returns how many products changed."""
    from merchant.models import Batch

    today = today or timezone.localdate()
    product_ids = (
        Batch.objects.filter(product__batch_managed=True, quantity__gt=0, expiry_date__lte=today)
        .values_list("product_id", flat=True).distinct()
    )
    changed = 0
    actor = Actor.system()
    for product in Product.objects.filter(pk__in=list(product_ids)):
        before = product.stock
        if stock_recompute_from_batches(product=product, actor=actor, reason=_("batch expired"), today=today).stock != before:
            changed += 1
    # Sellable stock also drops as batches enter the merchant's expiry exclusion window.
    expiring_batches_recheck(today=today)
    return changed
