from datetime import date
from decimal import Decimal, InvalidOperation

from django.core.exceptions import ValidationError
from django.core.validators import DecimalValidator
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from merchant.changes import kinds_of, products_changed
from merchant.models import Batch, GroupPrice, ListingState, Product, ShipmentItem
from merchant.models.catalog import MONEY
from merchant.permissions import Action, Actor

from .audit import apply_changes, audit_changes
from .stock import stock_recompute_from_batches

EDITABLE_FIELDS = (
    "name", "barcode", "approval_number", "spec", "manufacturer", "unit",
    "default_price", "suggested_retail_price", "batch_managed",
)


_MONEY_LIMIT = Decimal(10) ** (MONEY["max_digits"] - MONEY["decimal_places"])


def _check_price(field: str, value) -> None:
    if value is None:
        return
    # Imports and the Open API pass what they received: anything that is not a finite number, or does not
    # fit the column (PostgreSQL would refuse it mid-transaction), is a field error, not a crash.
    try:
        value = Decimal(value)
    except (InvalidOperation, TypeError, ValueError):
        value = Decimal("NaN")
    if not value.is_finite():
        raise ValidationError({field: DecimalValidator.messages["invalid"]})
    if value <= 0:
        raise ValidationError({field: _("A price must be greater than 0.")})
    if value.as_tuple().exponent < -2:
        raise ValidationError({field: _("A price has at most 2 decimal places.")})
    if value < _MONEY_LIMIT:
        return  # fits the column: the common case, checked without building a validator (bulk imports)
    try:
        DecimalValidator(**MONEY)(value)
    except ValidationError as exc:
        raise ValidationError({field: exc.messages}) from None


def product_update(*, product: Product, actor: Actor, reason: str = "", **values) -> Product:
    """Change a product's descriptive fields and prices; audits each changed field."""
    actor.require(Action.EDIT)
    unknown = set(values) - set(EDITABLE_FIELDS)
    if unknown:
        raise ValueError(f"Not editable here: {sorted(unknown)}")
    if "default_price" in values and values["default_price"] is None:
        raise ValidationError({"default_price": _("The default price is required.")})
    for field in ("default_price", "suggested_retail_price"):
        if field in values:
            _check_price(field, values[field])
    with transaction.atomic():
        locked = Product.objects.select_for_update().get(pk=product.pk)
        changes = apply_changes(locked, values)
        if not changes:
            return locked
        locked.save(update_fields=[*changes, "updated_at"])
        audit_changes(
            merchant_id=locked.merchant_id, entity="product", entity_id=locked.pk,
            changes=changes, actor=actor, reason=reason,
        )
        if "batch_managed" in changes and locked.batch_managed:
            stock_recompute_from_batches(product=locked, actor=actor, reason=reason)
        products_changed(merchant_id=locked.merchant_id, product_ids=[locked.pk], kinds=kinds_of(changes))
    return locked


def group_price_set(*, product: Product, price, actor: Actor, region_group=None, customer_group=None) -> GroupPrice:
    """Create or change the price of one region group or one customer group."""
    actor.require(Action.EDIT)
    if (region_group is None) == (customer_group is None):
        raise ValidationError(_("Choose either a region group or a customer group."))
    _check_price("price", price)
    group = region_group or customer_group
    lookup = {"region_group": region_group} if region_group else {"customer_group": customer_group}
    with transaction.atomic():
        existing = GroupPrice.objects.select_for_update().filter(product=product, **lookup).first()
        old = existing.price if existing else None
        if existing:
            existing.price = price
            existing.save(update_fields=["price"])
            gp = existing
        else:
            gp = GroupPrice.objects.create(product=product, price=price, **lookup)
        audit_changes(
            merchant_id=product.merchant_id, entity="product", entity_id=product.pk,
            changes={f"price[{group}]": (old, Decimal(price))}, actor=actor,
        )
    return gp


def group_price_delete(*, group_price: GroupPrice, actor: Actor) -> None:
    actor.require(Action.EDIT)
    product = group_price.product
    with transaction.atomic():
        label = str(group_price.region_group or group_price.customer_group)
        audit_changes(
            merchant_id=product.merchant_id, entity="product", entity_id=product.pk,
            changes={f"price[{label}]": (group_price.price, None)}, actor=actor,
        )
        group_price.delete()


def listing_refusal(product: Product, listed: bool) -> str | None:
    """Why a product cannot be listed (or delisted), or None when it can (SPEC M8)."""
    if product.listing_state == ListingState.PENDING_REVIEW:
        return _("pending review: it matches no base product yet")
    if listed and product.stock <= 0:
        return _("no stock")
    return None


def listing_set(*, products, listed: bool, actor: Actor) -> tuple[list[Product], list[tuple[Product, str]]]:
    """List or delist products. Returns (changed, refused) where refused pairs a product with its reason."""
    actor.require(Action.EDIT)
    target = ListingState.LISTED if listed else ListingState.DELISTED
    changed, refused = [], []
    with transaction.atomic():
        ids = [p.pk for p in products]
        for product in Product.objects.select_for_update().filter(pk__in=ids).order_by("pk"):
            reason = listing_refusal(product, listed)
            if reason:
                refused.append((product, reason))
                continue
            if product.listing_state == target:
                continue
            old = product.listing_state
            product.listing_state = target
            product.save(update_fields=["listing_state", "updated_at"])
            audit_changes(
                merchant_id=product.merchant_id, entity="product", entity_id=product.pk,
                changes={"listing_state": (old, target)}, actor=actor,
            )
            changed.append(product)
        if changed:
            products_changed(merchant_id=changed[0].merchant_id, product_ids=[p.pk for p in changed],
                                    kinds=("listing",))
    return changed, refused


def product_approve(*, product: Product, base_product, actor: Actor) -> Product:
    """Platform review: link to a base product; listed when it has stock, else ready (SPEC M4 listing rule).

    Raises ValidationError without a base product: listing needs a match (SPEC M8).
    """
    if base_product is None:
        raise ValidationError({"base_product": _("Choose the base product this product matches.")})
    with transaction.atomic():
        locked = Product.objects.select_for_update().get(pk=product.pk)
        state = ListingState.LISTED if locked.stock > 0 else ListingState.READY
        changes = apply_changes(locked, {"base_product": base_product, "listing_state": state})
        locked.save(update_fields=["base_product", "listing_state", "updated_at"])
        audit_changes(
            merchant_id=locked.merchant_id, entity="product", entity_id=locked.pk, changes=changes, actor=actor,
            reason="platform review",
        )
        products_changed(merchant_id=locked.merchant_id, product_ids=[locked.pk], kinds=kinds_of(changes))
    return locked


def _check_batch_dates(production_date: date, expiry_date: date) -> None:
    if expiry_date <= production_date:
        raise ValidationError({"expiry_date": _("The expiry date must be after the production date.")})


def batch_save(
    *, product: Product, actor: Actor, batch_no: str, production_date: date, expiry_date: date, quantity: int,
    batch: Batch | None = None,
) -> Batch:
    """Add a batch, or change one; a batch-managed product's stock follows its on-sale batches."""
    actor.require(Action.EDIT)
    _check_batch_dates(production_date, expiry_date)
    if quantity is None or quantity < 0:
        raise ValidationError({"quantity": _("Quantity cannot be negative.")})
    today = timezone.localdate()
    if quantity and expiry_date <= today:
        # Stock of an expired batch would be sold as if it were good: it is only kept as a record, at 0.
        raise ValidationError({"expiry_date": _(
            "This batch expired on %(date)s and cannot be on sale: enter quantity 0 to keep it as a record."
        ) % {"date": expiry_date.isoformat()}})
    clash = product.batches.filter(batch_no=batch_no)
    if batch is not None:
        clash = clash.exclude(pk=batch.pk)
    if clash.exists():
        raise ValidationError({"batch_no": _("This product already has a batch with this number.")})
    if batch is not None and batch_no != batch.batch_no and batch_shipped(batch):
        raise ValidationError({"batch_no": _(
            "Shipments name batch %(batch)s: its number cannot change (the buyer's records show it).")
            % {"batch": batch.batch_no}})
    values = {
        "batch_no": batch_no, "production_date": production_date, "expiry_date": expiry_date, "quantity": quantity,
    }
    with transaction.atomic():
        if batch is None:
            batch = Batch.objects.create(product=product, **values)
            changes = {f"batch[{batch_no}]": (None, f"{quantity} ({production_date} ~ {expiry_date})")}
        else:
            changes = {f"batch[{batch_no}].{k}": v for k, v in apply_changes(batch, values).items()}
            batch.save()
        audit_changes(
            merchant_id=product.merchant_id, entity="product", entity_id=product.pk, changes=changes, actor=actor
        )
        stock_recompute_from_batches(product=product, actor=actor, reason=_("batches changed"))
        # Sellable stock leaves out batches near expiry: it can move while the stock in force does not.
        products_changed(merchant_id=product.merchant_id, product_ids=[product.pk], kinds=("stock",))
    return batch


def batch_shipped(batch: Batch) -> bool:
    """Whether a shipment of this product names the batch (shipments keep the number as text)."""
    return ShipmentItem.objects.filter(order_item__product_id=batch.product_id, batch_no=batch.batch_no).exists()


def batch_delete(*, batch: Batch, actor: Actor) -> None:
    """Remove a batch no shipment names. One that was shipped stays as the record of what buyers received:
    set its quantity to 0 instead (it then leaves the stock)."""
    actor.require(Action.EDIT)
    if batch_shipped(batch):
        raise ValidationError(_(
            "Batch %(batch)s cannot be removed: shipments name it, and it stays as their record. Set its quantity "
            "to 0 to take it out of stock.") % {"batch": batch.batch_no})
    product = batch.product
    with transaction.atomic():
        audit_changes(
            merchant_id=product.merchant_id, entity="product", entity_id=product.pk,
            changes={f"batch[{batch.batch_no}]": (batch.quantity, None)}, actor=actor,
        )
        batch.delete()
        stock_recompute_from_batches(product=product, actor=actor, reason=_("batches changed"))
        products_changed(merchant_id=product.merchant_id, product_ids=[product.pk], kinds=("stock",))
