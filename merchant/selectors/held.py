"""What automatic channels sent while auto sync was off, as rows a merchant reads (SPEC M11): for each held
value or held record, the product, what it is, the value in force, the held value, where it came from and when."""
from dataclasses import dataclass
from datetime import datetime

from django.utils.translation import get_language
from django.utils.translation import gettext as _

from merchant.field_labels import field_label, money_or_text
from merchant.models import (
    ErpCustomerCode, GroupPrice, HeldItem, HeldValue, ListingState, Module, Product, SkuSwitch, SwitchKind,
)

PRICE_FIELD = {"default": "default_price", "suggested_retail": "suggested_retail_price"}
# The switch kind each held product field belongs to (every other held field is a price).
FIELD_KIND = {"stock": SwitchKind.STOCK}


@dataclass
class HeldRow:
    token: str  # "value:ID" or "record:ID", what the apply / discard forms name
    product: Product | None
    what: str
    in_force: str
    held: str
    source: str
    since: datetime

    @property
    def same(self) -> bool:
        """The ERP sent what is already in force: applying or discarding it changes nothing."""
        return self.in_force == self.held


def field_kind(field: str) -> str:
    return FIELD_KIND.get(field, SwitchKind.PRICE)


def _group_price_now(product, field: str) -> str:
    price_type, code = field[len("price["):-1].split(":", 1)
    price = GroupPrice.objects.filter(product=product, **{f"{price_type}__code": code}).first()
    return money_or_text(price.price) if price else "—"


def _product_value_now(product, field: str) -> str:
    if product is None:
        return "—"
    if field.startswith("price["):
        return _group_price_now(product, field)
    if field == "listing_state":
        return str(ListingState(product.listing_state).label)
    return money_or_text(getattr(product, field))


def value_row(held: HeldValue) -> HeldRow:
    return HeldRow(
        token=f"value:{held.pk}", product=held.product, what=field_label("product", held.field),
        in_force=_product_value_now(held.product, held.field), held=money_or_text(held.value),
        source=held.source_label, since=held.received_at,
    )


def _column_labels(kind: str) -> dict:
    from merchant.spreadsheets.imports.columns import KIND_COLUMNS

    chinese = (get_language() or "").startswith("zh")
    return {c.key: (c.zh if chinese else c.en) for c in KIND_COLUMNS.get(kind, ())}


def _record_parts(kind: str, values: dict, product) -> tuple[str, str, str]:
    """(what, value in force, held value) of one held record."""
    if kind == "prices":
        price_type = values.get("price_type", "")
        field = PRICE_FIELD.get(price_type) or f"price[{price_type}:{values.get('group_code', '')}]"
        return field_label("product", field), _product_value_now(product, field), money_or_text(values.get("price"))
    if kind == "stock":
        return field_label("product", "stock"), _product_value_now(product, "stock"), money_or_text(values.get("stock"))
    if kind == "listing":
        held = ListingState.LISTED if values.get("listed") else ListingState.DELISTED
        return (field_label("product", "listing_state"), _product_value_now(product, "listing_state"),
                str(held.label))
    if kind == "batches":
        batches = ", ".join(_("%(no)s: %(qty)s (until %(expiry)s)") % {
            "no": b.get("batch_no"), "qty": b.get("quantity"), "expiry": b.get("expiry_date")} for b in values)
        now = ", ".join(_("%(no)s: %(qty)s (until %(expiry)s)") % {
            "no": b.batch_no, "qty": b.quantity, "expiry": b.expiry_date} for b in product.batches.all()) if product else ""
        return _("Batches"), now or "—", batches
    labels = _column_labels(kind)
    if kind == "customer_codes":
        code = ErpCustomerCode.objects.filter(erp_code=values.get("erp_customer_code")).first()
        held = values.get("erp_customer_code", "")
        who = values.get("customer_name") or values.get("uscc") or values.get("platform_customer_id") or ""
        return (_("ERP customer code of %(customer)s") % {"customer": who},
                code.erp_code if code else "—", held)
    shown = {k: v for k, v in values.items() if k != "erp_product_id"}
    held = "; ".join(f"{labels.get(k, k)}: {money_or_text(v) if v is not None else '—'}" for k, v in shown.items())
    now = "; ".join(f"{labels.get(k, k)}: {_product_value_now(product, k) if hasattr(product, k) else '—'}"
                    for k in shown) if product else "—"
    return _("Product details"), now, held


def record_row(item: HeldItem, products: dict) -> HeldRow:
    values = item.values
    erp_id = values.get("erp_product_id") if isinstance(values, dict) else (values[0].get("erp_product_id")
                                                                            if values else None)
    product = products.get(erp_id)
    what, in_force, held = _record_parts(item.kind, values, product)
    return HeldRow(token=f"record:{item.pk}", product=product, what=what, in_force=in_force, held=held,
                   source=item.source_label, since=item.received_at)


def held_rows(merchant, *, limit: int = 500) -> list[HeldRow]:
    """Every held value and held record of the merchant as rows, the newest first (at most limit of each)."""
    values = list(HeldValue.objects.filter(merchant=merchant).select_related("product").order_by("-received_at")[:limit])
    items = list(HeldItem.objects.filter(merchant=merchant).order_by("-received_at")[:limit])
    return _rows(merchant, values, items)


def _rows(merchant, values, items) -> list[HeldRow]:
    erp_ids = set()
    for item in items:
        for values_ in (item.values if isinstance(item.values, list) else [item.values]):
            if isinstance(values_, dict) and values_.get("erp_product_id"):
                erp_ids.add(values_["erp_product_id"])
    products = {p.erp_product_id: p for p in Product.objects.filter(merchant=merchant, erp_product_id__in=erp_ids)}
    rows = [value_row(v) for v in values] + [record_row(i, products) for i in items]
    return sorted(rows, key=lambda r: r.since, reverse=True)


def held_to_apply(merchant, *, module: str | None = None, products=None, kind: str | None = None) -> list[HeldRow]:
    """What turning a switch on would apply: for a module, its held records and the held values of SKUs whose
    own switch is on; for SKUs (products and kind), their held values, unless the module stays off."""
    from merchant.services.inbound import KINDS_OF_MODULE
    from merchant.services.switches import KIND_FIELDS, KIND_MODULE, MODULE_FIELDS, module_pause

    if module is not None:
        values = HeldValue.objects.filter(merchant=merchant)
        if module == Module.PRICES:  # the product prices and every group price (price[...])
            values = values.exclude(field="stock")
        else:
            values = values.filter(field__in=MODULE_FIELDS.get(module, ()))
        paused = set(SkuSwitch.objects.filter(product__merchant=merchant, enabled=False).values_list("product_id", "kind"))
        values = [v for v in values.select_related("product") if (v.product_id, field_kind(v.field)) not in paused]
        record_kind = KINDS_OF_MODULE.get(module)
        items = list(HeldItem.objects.filter(merchant=merchant, kind=record_kind)) if record_kind else []
        return _rows(merchant, values, items)
    if module_pause(merchant, KIND_MODULE[kind]) is not None:
        return []
    fields = KIND_FIELDS[kind]
    held = HeldValue.objects.filter(merchant=merchant, product__in=list(products)).select_related("product")
    if kind == SwitchKind.PRICE:
        held = held.exclude(field="stock")
    else:
        held = held.filter(field__in=fields)
    return _rows(merchant, list(held), [])

