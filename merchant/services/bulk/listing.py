"""Listing by ERP product id (SPEC M8): list or delist, refused with the reason for products pending
review or, to list, without stock."""
from django.utils import timezone

from merchant.changes import products_changed
from merchant.models import ListingState, Product

from ..catalog import listing_refusal
from .copy import update_many
from .common import CHANGED, UNCHANGED, AuditBuffer, Item, Outcome, invalid
from .stock import product_of, products_by_key


class ListingPlan:
    dup_field = "erp_product_id"
    unique_fields = ()
    required = ("erp_product_id", "listed")

    def __init__(self, merchant):
        self.merchant = merchant

    def key_of(self, item: Item):
        return item.values.get("erp_product_id")

    def plan(self, items: list[Item], lock: bool = False) -> list[Outcome]:
        products = products_by_key(merchant=self.merchant, keys=[self.key_of(i) for i in items if self.key_of(i)],
                                   lock=lock, fields=("stock", "listing_state"))
        outcomes = []
        for item in items:
            key, errors, product = product_of(item, products, self.required)
            if not errors:
                refusal = listing_refusal(product, item.values["listed"])
                if refusal:
                    errors["listed"] = refusal
            if errors:
                outcomes.append(invalid(item, key, errors))
                continue
            target = ListingState.LISTED if item.values["listed"] else ListingState.DELISTED
            changes = {"listing_state": (product.listing_state, target)} if product.listing_state != target else {}
            outcomes.append(Outcome(item.ref, key, CHANGED if changes else UNCHANGED, changes=changes,
                                    product_id=product.pk, payload=(product, target)))
        return outcomes

    def apply(self, outcomes: list[Outcome], actor, reason: str = "") -> int:
        audit = AuditBuffer(self.merchant.pk, actor, reason)
        now = timezone.now()
        changed = []
        for outcome in outcomes:
            if outcome.action != CHANGED:
                continue
            product, target = outcome.payload
            product.listing_state, product.updated_at = target, now
            changed.append(product)
            audit.add("product", product.pk, outcome.changes)
        update_many(Product, changed, ["listing_state", "updated_at"])
        audit.flush()
        products_changed(merchant_id=self.merchant.pk, product_ids=[p.pk for p in changed], kinds=("listing",))
        return len(changed)
