"""Prices by ERP product id (SPEC M5): default, suggested retail, and region- or customer-group prices
with the group found by its code."""

from django.core.exceptions import ValidationError
from django.utils import timezone
from django.utils.translation import gettext as _

from merchant.changes import products_changed
from merchant.models import CustomerGroup, GroupPrice, Product, RegionGroup
from merchant.spreadsheets.imports.cells import normalise_text

from ..catalog import _check_price
from .copy import update_many
from .common import CHANGED, NEW, UNCHANGED, WRITE_BATCH, AuditBuffer, Item, Outcome, field_error, invalid, money
from .stock import product_of, products_by_key

PRODUCT_FIELD = {"default": "default_price", "suggested_retail": "suggested_retail_price"}
GROUP_FIELD = {"region_group": "region_group", "customer_group": "customer_group"}


class PricesPlan:
    dup_field = "price_type"
    unique_fields = ()
    required = ("erp_product_id", "price_type", "price")

    def __init__(self, merchant):
        self.merchant = merchant
        # A group is named by its code or, as the template's dropdown offers it, by its name (a code wins).
        self.groups = {
            kind: {**{normalise_text(g.name): g for g in model.objects.all()}, **{g.code: g for g in model.objects.all()}}
            for kind, model in (("region_group", RegionGroup), ("customer_group", CustomerGroup))
        }

    def key_of(self, item: Item):
        values = item.values
        if "erp_product_id" not in values or "price_type" not in values:
            return None
        group = values.get("group_code", "") if values["price_type"] in GROUP_FIELD else ""
        return (values["erp_product_id"], values["price_type"], group)

    def plan(self, items: list[Item], lock: bool = False) -> list[Outcome]:
        keys = [item.values["erp_product_id"] for item in items if "erp_product_id" in item.values]
        products = products_by_key(merchant=self.merchant, keys=keys, lock=lock,
                                   fields=("default_price", "suggested_retail_price"))
        prices = {}
        query = GroupPrice.objects.filter(product__in=[p.pk for p in products.values()])
        if lock:
            query = query.select_for_update()
        for price in query:
            prices[(price.product_id, "region_group", price.region_group_id)] = price
            prices[(price.product_id, "customer_group", price.customer_group_id)] = price
        return [self._plan_one(item, products, prices) for item in items]

    def _plan_one(self, item: Item, products: dict, prices: dict) -> Outcome:
        values = item.values
        key, errors, product = product_of(item, products, self.required)
        price_type = values.get("price_type")
        group = None
        if price_type in GROUP_FIELD:
            code = values.get("group_code")
            group = self.groups[price_type].get(code) if code else None
            if not code:
                errors.setdefault("group_code", _("required for a group price"))
            elif group is None:
                errors.setdefault("group_code", _("no group with this code"))
        if "price" in values:
            try:
                _check_price("price", values["price"])
            except ValidationError as error:
                errors["price"] = field_error(error, "price")
        if errors:
            return invalid(item, key, errors)
        price = money(values["price"])
        if price_type in PRODUCT_FIELD:
            name = PRODUCT_FIELD[price_type]
            old = getattr(product, name)
            changes = {name: (money(old), price)} if old != price else {}
            return Outcome(item.ref, key, CHANGED if changes else UNCHANGED, changes=changes,
                           product_id=product.pk, payload=(product, name, None, price))
        existing = prices.get((product.pk, price_type, group.pk))
        label = f"price[{group.code}]"
        if existing is None:
            return Outcome(item.ref, key, NEW, changes={label: (None, price)}, product_id=product.pk,
                           payload=(product, price_type, group, price))
        changes = {label: (money(existing.price), price)} if existing.price != price else {}
        return Outcome(item.ref, key, CHANGED if changes else UNCHANGED, changes=changes, product_id=product.pk,
                       payload=(product, price_type, existing, price))

    def apply(self, outcomes: list[Outcome], actor, reason: str = "") -> int:
        audit = AuditBuffer(self.merchant.pk, actor, reason)
        now = timezone.now()
        touched_products, new_prices, changed_prices = {}, [], []
        for outcome in outcomes:
            if outcome.action not in (NEW, CHANGED):
                continue
            product, kind, target, price = outcome.payload
            if kind in PRODUCT_FIELD.values():
                setattr(product, kind, price)
                product.updated_at = now
                touched_products[product.pk] = product
            elif isinstance(target, GroupPrice):
                target.price = price
                changed_prices.append(target)
            else:
                new_prices.append(GroupPrice(product=product, price=price, **{GROUP_FIELD[kind]: target}))
            audit.add("product", product.pk, outcome.changes)
        update_many(Product, touched_products.values(), ["default_price", "suggested_retail_price", "updated_at"])
        update_many(GroupPrice, changed_prices, ["price"])
        GroupPrice.objects.bulk_create(new_prices, batch_size=WRITE_BATCH)
        audit.flush()
        products_changed(merchant_id=self.merchant.pk, kinds=("price",), product_ids=[
            o.product_id for o in outcomes if o.action == CHANGED and "default_price" in o.changes])
        return len(touched_products) + len(changed_prices) + len(new_prices)


