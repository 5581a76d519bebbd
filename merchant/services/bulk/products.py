"""Products upsert by ERP product id (SPEC M4): base-product matching and the listing rule."""
from django.core.exceptions import ValidationError
from django.utils import timezone
from django.utils.translation import gettext as _

from merchant.changes import kinds_of, products_changed
from merchant.models import BaseProduct, ListingState, Product
from merchant.pinyin import name_pinyin

from ..catalog import _check_price
from .copy import insert_rows
from .common import CHANGED, NEW, UNCHANGED, WRITE_BATCH, AuditBuffer, Item, Outcome, field_error, invalid, money

TEXT_FIELDS = ("name", "barcode", "approval_number", "spec", "manufacturer", "unit")
PRICE_FIELDS = ("default_price", "suggested_retail_price")
MATCH_FIELDS = ("barcode", "approval_number", "spec", "manufacturer")
WRITE_FIELDS = (*TEXT_FIELDS, *PRICE_FIELDS, "stock", "base_product_id", "listing_state")
CREATE_FIELDS = ["merchant_id", "erp_product_id", *WRITE_FIELDS, "name_pinyin", "created_at", "updated_at"]


def listing_after(state: str, matched: bool, stock: int, is_new: bool) -> str:
    """The import listing rule: a matched product with stock is listed, without stock it is ready (not
    listed); an unmatched one waits for review. A product the merchant delisted stays delisted."""
    if not matched:
        return ListingState.PENDING_REVIEW
    if state == ListingState.DELISTED and not is_new:
        return state
    return ListingState.LISTED if stock > 0 else ListingState.READY


class ProductsPlan:
    dup_field = "erp_product_id"
    unique_fields = ()
    required = ("erp_product_id",)

    def __init__(self, merchant):
        self.merchant = merchant

    def key_of(self, item: Item):
        return item.values.get("erp_product_id")

    def plan(self, items: list[Item], lock: bool = False) -> list[Outcome]:
        keys = {item.values["erp_product_id"] for item in items if "erp_product_id" in item.values}
        query = Product.objects.filter(merchant=self.merchant, erp_product_id__any=keys)
        if lock:
            query = query.select_for_update()
        existing = {product.erp_product_id: product for product in query}
        explicit = {item.values["base_product_id"] for item in items if "base_product_id" in item.values}
        known_bases = set(BaseProduct.objects.filter(pk__any=explicit).values_list("pk", flat=True))
        merged = {item.ref: self._merged(item, existing.get(item.values.get("erp_product_id"))) for item in items}
        matches = self._matches([values for values in merged.values() if values.get("base_product_id") is None])
        # Applying needs no display of a new product's fields (its audit entry is a summary).
        self._describe_new = not lock
        return [self._plan_one(item, existing, known_bases, merged[item.ref], matches) for item in items]

    @staticmethod
    def _merged(item: Item, product: Product | None) -> dict:
        """The values the product would have: the item's over the current ones (blank means unchanged)."""
        if product is None:
            values = {name: "" for name in TEXT_FIELDS}
            values.update(suggested_retail_price=None, stock=0, base_product_id=None)
        else:
            values = {name: getattr(product, name) for name in (*TEXT_FIELDS, *PRICE_FIELDS, "stock",
                                                                  "base_product_id")}
        values.update(item.values)
        values.pop("erp_product_id", None)
        return values

    @staticmethod
    def _matches(candidates: list[dict]) -> dict:
        """Base products found by the exact barcode + approval number + spec + manufacturer match; a match
        needs a barcode and an approval number, and must be unique."""
        barcodes = {values["barcode"] for values in candidates if values.get("barcode") and values.get("approval_number")}
        found = {}
        if barcodes:
            for row in BaseProduct.objects.filter(barcode__any=barcodes).values_list("pk", *MATCH_FIELDS):
                found.setdefault(tuple(row[1:]), []).append(row[0])
        return {match: ids[0] for match, ids in found.items() if len(ids) == 1}

    def _plan_one(self, item, existing, known_bases, values, matches) -> Outcome:
        key = item.values.get("erp_product_id", "")
        errors = dict(item.errors)
        product = existing.get(key)
        if not key and "erp_product_id" not in errors:
            errors["erp_product_id"] = _("required")
        for name in PRICE_FIELDS:
            if name in item.values:
                try:
                    _check_price(name, item.values[name])
                except ValidationError as error:
                    errors[name] = field_error(error, name)
        if item.values.get("stock", 0) < 0:
            errors["stock"] = _("stock cannot be negative")
        base_id = item.values.get("base_product_id")
        if base_id is not None and base_id not in known_bases:
            errors["base_product_id"] = _("no base product with this id")
        if product is None:
            for name in ("name", "default_price"):
                if name not in item.values and name not in errors:
                    errors[name] = _("required for a new product")
        elif product.batch_managed and "stock" in item.values:
            errors["stock"] = _("this product is batch-managed: its stock is the sum of its on-sale batches "
                                "(import batches instead)")
        if errors:
            return invalid(item, key, errors)
        if values["base_product_id"] is None:
            values["base_product_id"] = matches.get(tuple(values[name] for name in MATCH_FIELDS))
        state = product.listing_state if product else ListingState.PENDING_REVIEW
        values["listing_state"] = listing_after(state, values["base_product_id"] is not None, values["stock"],
                                                product is None)
        if product is None:
            changes = {name: (None, _display(name, values[name])) for name in WRITE_FIELDS
                       if values[name] not in (None, "")} if self._describe_new else {}
            return Outcome(item.ref, key, NEW, changes=changes, payload=values)
        changes = {
            name: (_display(name, getattr(product, name)), _display(name, values[name]))
            for name in WRITE_FIELDS if getattr(product, name) != values[name]
        }
        action = CHANGED if changes else UNCHANGED
        return Outcome(item.ref, key, action, changes=changes, product_id=product.pk, payload=(product, values))

    def apply(self, outcomes: list[Outcome], actor, reason: str = "") -> int:
        """Write the valid outcomes of one plan(lock=True). Returns how many products were written."""
        audit = AuditBuffer(self.merchant.pk, actor, reason)
        now = timezone.now()
        new = [o for o in outcomes if o.action == NEW]
        merchant_id = self.merchant.pk
        # Plain rows, not Product instances: with_name_pinyin's work, done here (name_pinyin remembers names).
        ids = insert_rows(Product, CREATE_FIELDS, (
            (merchant_id, o.key, *(o.payload[name] for name in WRITE_FIELDS), name_pinyin(o.payload["name"]), now,
             now) for o in new), with_ids=True)
        for pk, outcome in zip(ids, new):
            outcome.product_id = pk
            audit.add("product", pk, {"created": (None, _summary(outcome.payload))})
        changed = []
        for outcome in outcomes:
            if outcome.action != CHANGED:
                continue
            product, values = outcome.payload
            for name in WRITE_FIELDS:
                setattr(product, name, values[name])
            if "name" in outcome.changes:
                product.name_pinyin = name_pinyin(product.name)
            product.updated_at = now
            changed.append(product)
            audit.add("product", product.pk, {name: change for name, change in outcome.changes.items()})
        # An upsert on the primary key writes many rows in one statement, where bulk_update would build a
        # CASE expression per field and row.
        Product.objects.bulk_create(
            changed, batch_size=WRITE_BATCH, update_conflicts=True, unique_fields=["id"],
            update_fields=[*WRITE_FIELDS, "name_pinyin", "updated_at"],
        )
        audit.flush()
        products_changed(merchant_id=self.merchant.pk, product_ids=ids,
                                kinds=("stock", "price", "listing"))
        for kind in ("stock", "price", "listing"):
            products_changed(merchant_id=self.merchant.pk, kinds=(kind,), product_ids=[
                o.product_id for o in outcomes if o.action == CHANGED and kind in kinds_of(o.changes)])
        return len(new) + len(changed)


def _display(name: str, value):
    if name in PRICE_FIELDS:
        return money(value)
    return value


def _summary(values: dict) -> str:
    """A new product's audit entry: its values as written."""
    return f"{values['name']} / {values['default_price']} / stock {values['stock']} / {values['listing_state']}"
