"""State changes of the sandbox ERP: the bridge itself and the changes it logs for the hub to pull.

Items are stored exactly as the bridge serves them (docs/erp-bridge.md), money as numbers with 2 decimals.
Every write locks the bridge's row first, so change ids commit in id order and a reader holding cursor
N never later finds an id below N appear (which it would then skip for good).
"""
import random
from datetime import datetime
from decimal import Decimal

from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from .models import ChangeKind, SandboxErp, SandboxErpChange

CENT = Decimal("0.01")


def erp_create(*, app_key: str, app_secret: str, name: str = "sandbox-erp") -> SandboxErp:
    """The bridge with this key (created, or its secret and name updated)."""
    erp, _created = SandboxErp.objects.update_or_create(app_key=app_key,
                                                        defaults={"app_secret": app_secret, "name": name})
    return erp


def _money(value) -> float:
    # Served as a JSON number, as the contract's schema types it; a float with 2 decimals prints exactly
    # (JSON takes the shortest repr), and the hub reads numbers as Decimal.
    return float(Decimal(str(value)).quantize(CENT))


def erp_changes_add(erp: SandboxErp, kind: str, items: list[dict], *, together: bool = False,
                    at: datetime | None = None) -> list[SandboxErpChange]:
    """Log `items` of one kind, in order; `together` keeps them in one page (a product's batches)."""
    if kind not in ChangeKind.values:
        raise ValueError(f"unknown kind {kind!r}")
    at = at or timezone.now()
    with transaction.atomic():
        SandboxErp.objects.select_for_update().filter(pk=erp.pk).first()
        rows = []
        for item in items:
            row = SandboxErpChange.objects.create(erp=erp, kind=kind, item=item, at=at)
            rows.append(row)
        if together and rows:
            SandboxErpChange.objects.filter(pk__in=[r.pk for r in rows]).update(group=rows[0].pk)
            for row in rows:
                row.group = rows[0].pk
    return rows


def erp_change(erp: SandboxErp, kind: str, item: dict) -> SandboxErpChange:
    """Log one item as given (tests use it for items the hub must refuse)."""
    return erp_changes_add(erp, kind, [item])[0]


def erp_product_change(erp: SandboxErp, erp_product_id: str, **fields) -> SandboxErpChange:
    """A product created or changed in the ERP: any of the products fields (name, default_price, stock, ...)."""
    item = {"erp_product_id": erp_product_id}
    for name, value in fields.items():
        item[name] = _money(value) if name in ("default_price", "suggested_retail_price") and value is not None \
            else value
    return erp_change(erp, ChangeKind.PRODUCTS, item)


def erp_price_change(erp: SandboxErp, erp_product_id: str, price, *, price_type: str = "default",
                     group_code: str | None = None) -> SandboxErpChange:
    item = {"erp_product_id": erp_product_id, "price_type": price_type, "price": _money(price)}
    if group_code:
        item["group_code"] = group_code
    return erp_change(erp, ChangeKind.PRICES, item)


def erp_stock_change(erp: SandboxErp, erp_product_id: str, stock: int) -> SandboxErpChange:
    return erp_change(erp, ChangeKind.STOCK, {"erp_product_id": erp_product_id, "stock": stock})


def erp_batches_change(erp: SandboxErp, erp_product_id: str, batches: list[dict]) -> list[SandboxErpChange]:
    """The product's complete set of batches now (each: batch_no, production_date, expiry_date, quantity;
    dates as date or text). The hub replaces the product's batches with it."""
    items = [{"erp_product_id": erp_product_id, "batch_no": b["batch_no"],
              "production_date": str(b["production_date"]), "expiry_date": str(b["expiry_date"]),
              "quantity": b["quantity"]} for b in batches]
    return erp_changes_add(erp, ChangeKind.BATCHES, items, together=True)


def erp_customer_change(erp: SandboxErp, erp_customer_code: str, *, uscc: str | None = None,
                        platform_customer_id: int | None = None, customer_name: str | None = None) -> SandboxErpChange:
    item = {"erp_customer_code": erp_customer_code, "uscc": uscc, "platform_customer_id": platform_customer_id,
            "customer_name": customer_name}
    return erp_change(erp, ChangeKind.CUSTOMERS, {k: v for k, v in item.items() if v is not None})


def erp_log_truncate(erp: SandboxErp) -> int:
    """Forget the log up to now, as a bridge that keeps changes for a limited time does: cursors from
    before answer 410 cursor_expired. Returns the new oldest cursor."""
    with transaction.atomic():
        locked = SandboxErp.objects.select_for_update().get(pk=erp.pk)
        last = SandboxErpChange.objects.filter(erp=locked).order_by("-id").values_list("id", flat=True).first() or 0
        SandboxErpChange.objects.filter(erp=locked).delete()
        SandboxErp.objects.filter(pk=erp.pk).update(oldest_cursor=last)
    erp.oldest_cursor = last
    return last


def erp_products_known(erp: SandboxErp) -> list[str]:
    """ERP product ids the bridge has logged a product or stock change for, sorted."""
    ids = SandboxErpChange.objects.filter(erp=erp).filter(Q(kind=ChangeKind.PRODUCTS) | Q(kind=ChangeKind.STOCK)) \
        .values_list("item__erp_product_id", flat=True).distinct()
    return sorted({value for value in ids if value})


def _last_stock(erp: SandboxErp, erp_product_id: str) -> int:
    change = SandboxErpChange.objects.filter(erp=erp, kind=ChangeKind.STOCK, item__erp_product_id=erp_product_id) \
        .order_by("-id").first()
    return int(change.item["stock"]) if change else 0


def _last_price(erp: SandboxErp, erp_product_id: str) -> Decimal | None:
    change = SandboxErpChange.objects.filter(erp=erp, kind=ChangeKind.PRICES, item__erp_product_id=erp_product_id,
                                             item__price_type="default").order_by("-id").first()
    return Decimal(str(change.item["price"])) if change else None


def activity_tick(erp: SandboxErp, *, rng: random.Random | None = None) -> int:
    """What the ERP's warehouse and buyers do meanwhile: a few stock moves, now and then a price change.
    Returns how many changes were logged."""
    rng = rng or random.Random()
    known = erp_products_known(erp)
    if not known:
        return 0
    made = 0
    for erp_product_id in rng.sample(known, k=min(len(known), rng.randint(0, 3))):
        erp_stock_change(erp, erp_product_id, max(0, _last_stock(erp, erp_product_id) + rng.randint(-15, 20)))
        made += 1
    if rng.random() < 0.2:
        erp_product_id = rng.choice(known)
        price = _last_price(erp, erp_product_id)
        if price is not None:  # only products whose price the ERP manages
            erp_price_change(erp, erp_product_id, max(Decimal("0.50"), price * Decimal(str(rng.uniform(0.95, 1.05)))))
            made += 1
    return made
