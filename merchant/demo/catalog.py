"""One merchant's catalog: products (matched and pending review), prices, batches, switches and held values."""
import random
from dataclasses import dataclass, field
from datetime import timedelta
from decimal import Decimal

from django.utils import timezone

from merchant.models import (
    AuditEntry, AuditSource, Batch, GroupPrice, HeldValue, ListingState, Merchant, Module, ModuleSwitch, Product,
    SkuSwitch, SwitchKind,
)
from merchant.pinyin import with_name_pinyin

from .accounts import MerchantPlan
from .drugs import DRUGS, UNLISTED_MANUFACTURERS, approval_number
from .fakes import Q2, cents, ean13, money


@dataclass
class ProductPlan:
    product: Product
    price_range: tuple
    batches: list = field(default_factory=list)
    group_prices: list = field(default_factory=list)


def _batches(rng: random.Random, today) -> list[Batch]:
    batches = []
    for j in range(rng.choices([1, 2, 3, 4], [25, 35, 25, 15])[0]):
        kind = rng.choices(["normal", "expiring", "expired", "empty"], [60, 15, 12, 13])[0]
        if kind == "expiring":
            expiry = today + timedelta(days=rng.randint(10, 89))
        elif kind == "expired":
            expiry = today - timedelta(days=rng.randint(5, 200))
        else:
            expiry = today + timedelta(days=rng.randint(120, 900))
        shelf_life = rng.choice([730, 1095])
        production = expiry - timedelta(days=shelf_life)
        if production > today:
            production = expiry - timedelta(days=1095)
        quantity = 0 if kind == "empty" else rng.randint(20, 800)
        batches.append(Batch(batch_no=f"{production:%y%m%d}{j + 1:02d}", production_date=production,
                             expiry_date=expiry, quantity=quantity))
    return batches


def build_catalog(rng: random.Random, merchant: Merchant, plan: MerchantPlan, ref: dict, today) -> list[ProductPlan]:
    """Products matched to base products (fields copied, so the exact match holds) and unmatched ones."""
    plans = []
    bases = rng.sample(ref["base_products"], plan.matched_products)
    for base in bases:
        bp = base["object"]
        plans.append(ProductPlan(
            product=Product(
                merchant=merchant, name=bp.name, barcode=bp.barcode, approval_number=bp.approval_number, spec=bp.spec,
                manufacturer=bp.manufacturer, unit=base["unit"], base_product=bp,
            ),
            price_range=base["price_range"],
        ))
    used_barcodes = {b["barcode"] for b in ref["base_products"]}
    for i in range(plan.pending_products):
        if i % 2 == 0:
            # Same drug as a catalog entry, but the ERP writes the spec differently: no exact match.
            base = rng.choice(ref["base_products"])
            name, barcode, approval = base["name"], base["barcode"], base["approval_number"]
            unit, price_range, maker = base["unit"], base["price_range"], base["manufacturer"]
            spec = base["spec"].replace("*", "×") if "*" in base["spec"] else f"{base['spec']}/{unit}"
        else:
            name, letter, unit, specs, price_range = rng.choice(DRUGS)
            spec, maker = rng.choice(specs), rng.choice(UNLISTED_MANUFACTURERS)
            barcode = ean13(rng, used_barcodes)
            approval = approval_number(rng, letter)
        plans.append(ProductPlan(
            product=Product(merchant=merchant, name=name, barcode=barcode, approval_number=approval, spec=spec,
                            manufacturer=maker, unit=unit, base_product=None),
            price_range=price_range,
        ))
    rng.shuffle(plans)

    region_groups, customer_groups = list(ref["region_groups"].values()), ref["customer_groups"]
    for n, pp in enumerate(plans, start=1):
        p = pp.product
        p.erp_product_id = plan.product_id_format.format(n if plan.code != "demo" else 10000 + n)
        p.default_price = cents(rng.randint(*pp.price_range))
        if rng.random() < 0.85:
            p.suggested_retail_price = money(p.default_price * Decimal(str(round(rng.uniform(1.2, 1.6), 2))))
        if p.base_product is None:
            p.stock = rng.choice([0, rng.randint(1, 500)])
            p.listing_state = ListingState.PENDING_REVIEW
            continue
        p.batch_managed = rng.random() < 0.25
        if p.batch_managed:
            pp.batches = _batches(rng, today)
            p.stock = sum(b.quantity for b in pp.batches if b.is_on_sale(today))
        else:
            r = rng.random()
            p.stock = 0 if r < 0.12 else rng.randint(1, 9) if r < 0.2 else rng.randint(10, 3000)
        if p.stock > 0:
            p.listing_state = rng.choices(
                [ListingState.LISTED, ListingState.DELISTED, ListingState.READY], [85, 10, 5]
            )[0]
        else:
            p.listing_state = rng.choices([ListingState.READY, ListingState.DELISTED], [70, 30])[0]
        if plan.extras and rng.random() < 0.3:
            for group in rng.sample(region_groups, rng.randint(1, 2)):
                pp.group_prices.append(GroupPrice(
                    region_group=group, price=money(p.default_price * Decimal(str(round(rng.uniform(0.93, 0.99), 2)))),
                ))
            if rng.random() < 0.6:
                pp.group_prices.append(GroupPrice(customer_group=customer_groups["chain"],
                                                  price=money(p.default_price * Decimal("0.92"))))
            if rng.random() < 0.3:
                pp.group_prices.append(GroupPrice(customer_group=customer_groups["clinic"],
                                                  price=money(p.default_price * Decimal("0.96"))))
        for gp in pp.group_prices:
            gp.price = max(gp.price, Q2)
    return plans


def save_catalog(plans: list[ProductPlan]) -> None:
    Product.objects.bulk_create(with_name_pinyin(pp.product for pp in plans))
    batches, prices = [], []
    for pp in plans:
        for b in pp.batches:
            b.product = pp.product
            batches.append(b)
        for gp in pp.group_prices:
            gp.product = pp.product
            prices.append(gp)
    Batch.objects.bulk_create(batches)
    GroupPrice.objects.bulk_create(prices)


def save_switches(rng: random.Random, merchant: Merchant, plans: list[ProductPlan], users: dict, now) -> None:
    """A few SKUs paused (some until a time, with an ERP value held meanwhile) and the price module off."""
    owner, operator = users["demo_owner"], users["demo_operator"]
    candidates = [pp.product for pp in plans
                  if pp.product.listing_state == ListingState.LISTED and not pp.product.batch_managed]
    chosen = rng.sample(candidates, 8)
    switches, held, audit = [], [], []
    for i, product in enumerate(chosen):
        kind = SwitchKind.STOCK if i < 6 else SwitchKind.PRICE
        until = now + timedelta(hours=rng.choice([1, 4, 24])) if i % 2 == 0 else None
        changed_at = now - timedelta(minutes=rng.randint(5, 600))
        reason = "手动加库存，允许超卖几小时" if kind == SwitchKind.STOCK else "促销期间手动定价"
        switches.append(SkuSwitch(product=product, kind=kind, enabled=False, paused_until=until, changed_by=operator,
                                  changed_at=changed_at, reason=reason))
        label = f"off until {timezone.localtime(until):%Y-%m-%d %H:%M}" if until else "off"
        audit.append(AuditEntry(merchant=merchant, source=AuditSource.USER, actor=operator, entity="product",
                                entity_id=product.pk, field=f"switch[{kind}]", old_value="on", new_value=label,
                                reason=reason))
        if i < 3:  # the ERP kept sending stock while paused: held, not lost (SPEC M11)
            held.append(HeldValue(merchant=merchant, product=product, field="stock", source=AuditSource.ERP,
                                  value=max(product.stock - rng.randint(1, product.stock), 0),
                                  received_at=changed_at + timedelta(minutes=rng.randint(1, 4))))
    SkuSwitch.objects.bulk_create(switches)

    off_at = now - timedelta(hours=6)
    ModuleSwitch.objects.bulk_create(
        [ModuleSwitch(merchant=merchant, module=m) for m in Module.values if m != Module.PRICES]
        + [ModuleSwitch(merchant=merchant, module=Module.PRICES, enabled=False, changed_by=owner, changed_at=off_at,
                        reason="调价期间暂停ERP价格同步")],
        ignore_conflicts=True,
    )
    prices_switch = ModuleSwitch.objects.get(merchant=merchant, module=Module.PRICES)
    audit.append(AuditEntry(merchant=merchant, source=AuditSource.USER, actor=owner, entity="module_switch",
                            entity_id=prices_switch.pk, field="enabled", old_value="on", new_value="off",
                            reason=prices_switch.reason))
    for product in rng.sample([p for p in candidates if p not in chosen], 4):
        held.append(HeldValue(merchant=merchant, product=product, field="default_price", source=AuditSource.ERP,
                              value=str(money(product.default_price * Decimal("1.05"))),
                              received_at=off_at + timedelta(minutes=rng.randint(5, 300))))
    HeldValue.objects.bulk_create(held)
    AuditEntry.objects.bulk_create(audit)
