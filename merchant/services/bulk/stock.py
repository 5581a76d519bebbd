"""Stock in force by ERP product id (SPEC M7): refused, with the reason, for batch-managed products."""
from django.utils import timezone
from django.utils.translation import gettext as _

from merchant.changes import products_changed
from merchant.models import Product

from .copy import update_many
from .common import CHANGED, UNCHANGED, AuditBuffer, Item, Outcome, invalid, require
from .products import listing_after


def products_by_key(merchant, keys, lock: bool, fields=None) -> dict:
    query = Product.objects.filter(merchant=merchant, erp_product_id__any=set(keys))
    if fields:
        query = query.only("pk", "merchant_id", "erp_product_id", *fields)
    if lock:
        query = query.select_for_update()
    return {product.erp_product_id: product for product in query}


UNKNOWN_PRODUCT = "no product with this ERP product id"


def product_of(item: Item, products: dict, required) -> tuple[str, dict, Product | None]:
    """For an item keyed by ERP product id: the key, its errors so far (cells that could not be read, required
    fields missing, an unknown product) and the product (None when unknown)."""
    key = item.values.get("erp_product_id", "")
    errors = dict(item.errors)
    require(item, errors, required, _("required"))
    product = products.get(key)
    if key and product is None:
        errors["erp_product_id"] = _(UNKNOWN_PRODUCT)
    return key, errors, product


class StockPlan:
    dup_field = "erp_product_id"
    unique_fields = ()
    required = ("erp_product_id", "stock")

    def __init__(self, merchant):
        self.merchant = merchant

    def key_of(self, item: Item):
        return item.values.get("erp_product_id")

    def plan(self, items: list[Item], lock: bool = False) -> list[Outcome]:
        existing = products_by_key(merchant=self.merchant, keys=[self.key_of(i) for i in items if self.key_of(i)],
                                   lock=lock, fields=("stock", "batch_managed", "listing_state", "base_product_id"))
        outcomes = []
        for item in items:
            key, errors, product = product_of(item, existing, self.required)
            if product is not None and product.batch_managed:
                errors["stock"] = _("this product is batch-managed: its stock is the sum of its on-sale batches "
                                    "(import batches instead)")
            if item.values.get("stock", 0) < 0:
                errors["stock"] = _("stock cannot be negative")
            if errors:
                outcomes.append(invalid(item, key, errors))
                continue
            stock = item.values["stock"]
            # The import listing rule, as for products and batches: without stock a listed product goes to ready,
            # and a ready one is listed again when stock comes back (else one stock-out would unlist it for good).
            state = listing_after(product.listing_state, product.base_product_id is not None, stock, False)
            changes = {name: change for name, change in
                       {"stock": (product.stock, stock), "listing_state": (product.listing_state, state)}.items()
                       if change[0] != change[1]}
            outcomes.append(Outcome(item.ref, key, CHANGED if changes else UNCHANGED, changes=changes,
                                    product_id=product.pk, payload=(product, stock, state)))
        return outcomes

    def apply(self, outcomes: list[Outcome], actor, reason: str = "") -> int:
        audit = AuditBuffer(self.merchant.pk, actor, reason)
        now = timezone.now()
        changed = []
        for outcome in outcomes:
            if outcome.action != CHANGED:
                continue
            product, stock, state = outcome.payload
            product.stock, product.listing_state, product.updated_at = stock, state, now
            changed.append(product)
            audit.add("product", product.pk, outcome.changes)
        update_many(Product, changed, ["stock", "listing_state", "updated_at"])
        audit.flush()
        for kind, field in (("stock", "stock"), ("listing", "listing_state")):
            products_changed(merchant_id=self.merchant.pk, kinds=(kind,), product_ids=[
                o.product_id for o in outcomes if o.action == CHANGED and field in o.changes])
        return len(changed)
