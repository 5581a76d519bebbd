"""Eight weeks of steady sales for a dozen of the demo merchant's products, so that the purchase suggestions
page has something to forecast: a chain pharmacy's daily standing order (busy on weekdays, quiet at the weekend,
some products growing, some shrinking), one product out of stock for a few days (recorded as the ERP's stock
changes), quantities already on order for a few, and a batch-managed product with a short shelf life.
"""
import random
from datetime import datetime, time, timedelta
from decimal import Decimal

from django.utils import timezone

from merchant.models import (
    AuditEntry, AuditSource, ListingState, Order, OrderItem, OrderSource, OrderStatus, ProductReplenishment,
)

from .fakes import money
from .orders import OrderPlan

HISTORY_DAYS = 56
PRODUCTS = 12
WEEKDAY = (1.2, 1.15, 1.1, 1.1, 1.05, 0.6, 0.45)  # pharmacies restock on weekdays
STOCK_OUT = (9, 5)  # days ago: out of stock from the first to the second


def _picks(catalog) -> list:
    """Listed products that are not batch-managed, spread from the lowest stock to the highest (some need
    ordering, some have plenty), and one batch-managed product with batches."""
    listed = [pp for pp in catalog if pp.product.listing_state == ListingState.LISTED]
    plain = sorted((pp for pp in listed if not pp.product.batch_managed), key=lambda pp: (pp.product.stock,
                                                                                        pp.product.erp_product_id))
    batch = [pp for pp in listed if pp.product.batch_managed and pp.batches]
    step = max(1, len(plain) // (PRODUCTS - 1))
    return plain[::step][: PRODUCTS - 1] + batch[:1]


def history_plans(builder, catalog, now) -> tuple[list[OrderPlan], list]:
    """(order plans, picked product plans): one completed order a day from a chain customer, over the last
    HISTORY_DAYS days, its lines following each product's demand curve."""
    rng = random.Random(f"{builder.seed}:purchasing")
    picks = _picks(catalog)
    curves = {pp.product.erp_product_id: (rng.uniform(3, 40), rng.uniform(-0.01, 0.02)) for pp in picks}
    out_product = picks[0].product.erp_product_id if picks else None
    chain = [c for c in builder.ref["customers"] if c["group"] == "chain"] or builder.ref["customers"]
    customer = chain[0]
    today = timezone.localdate(now)
    plans = []
    for back in range(HISTORY_DAYS, 0, -1):
        day = today - timedelta(days=back)
        created = datetime.combine(day, time(9, rng.randint(0, 59)), tzinfo=builder.tz)
        order = Order(merchant=builder.merchant, source=OrderSource.STOREFRONT, status=OrderStatus.COMPLETED,
                      created_at=created, order_no=f"{builder.plan.storefront_prefix}{day:%Y%m%d}9{1:03d}")
        plan = OrderPlan(order=order)
        line_no = 0
        for pp in picks:
            base, growth = curves[pp.product.erp_product_id]
            if pp.product.erp_product_id == out_product and STOCK_OUT[1] <= back <= STOCK_OUT[0]:
                continue  # nothing to sell
            mean = base * (1 + growth) ** (HISTORY_DAYS - back) * WEEKDAY[day.weekday()]
            quantity = max(0, round(rng.gauss(mean, mean ** 0.5)))
            if not quantity:
                continue
            line_no += 1
            plan.items.append((pp, OrderItem(
                line_no=line_no, product=pp.product, erp_product_id=pp.product.erp_product_id,
                item_name=pp.product.name, spec=pp.product.spec, quantity=quantity,
                unit_price=pp.product.default_price, amount=money(pp.product.default_price * quantity))))
        if not plan.items:
            continue
        goods = sum(item.amount for _pp, item in plan.items)
        order.goods_amount = order.total_amount = money(goods)
        order.shipping_fee = order.discount_amount = Decimal("0.00")
        order.customer = customer["object"]
        order.receiver_name, order.receiver_phone = customer["contact"], customer["phone"]
        order.receiver_province, order.receiver_city = customer["province"], customer["city"]
        order.receiver_district, order.receiver_address = customer["district"], customer["address"]
        builder.rng = random.Random(f"{builder.seed}:purchasing:{back}")
        builder._timeline(plan, OrderStatus.COMPLETED, False)
        plans.append(plan)
    return plans, picks


def save_purchasing(merchant, picks, now) -> None:
    """The stock-out of the first pick as the ERP's stock changes (to 0, then back), and quantities on order."""
    if not picks:
        return
    product = picks[0].product
    entries = AuditEntry.objects.bulk_create([
        AuditEntry(merchant=merchant, source=AuditSource.ERP, entity="product", entity_id=product.pk, field="stock",
                   old_value="35", new_value="0"),
        AuditEntry(merchant=merchant, source=AuditSource.ERP, entity="product", entity_id=product.pk, field="stock",
                   old_value="0", new_value=str(product.stock)),
    ])
    for entry, back in zip(entries, (STOCK_OUT[0], STOCK_OUT[1] - 1)):
        AuditEntry.objects.filter(pk=entry.pk).update(at=now - timedelta(days=back, hours=1))
    ProductReplenishment.objects.bulk_create([
        ProductReplenishment(product=pp.product, merchant=merchant, on_order=quantity)
        for pp, quantity in zip(picks[1:4], (120, 60, 200))
    ])
