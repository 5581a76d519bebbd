"""One merchant's orders: when and by whom they were placed, their items, amounts, addresses and invoices."""
import random
from dataclasses import dataclass, field
from datetime import datetime, time, timedelta
from decimal import Decimal

from django.utils import timezone

from merchant.models import (
    ListingState, Order, OrderItem, OrderSource, OrderStatus, Shipment, ShipmentItem, TrackingEntry,
)

from .catalog import ProductPlan
from .fakes import BRANDS, SURNAMES, money, person_name, phone, random_place, street_address
from .fulfilment import CARRIER_WEIGHTS, FulfilmentMixin

S = OrderStatus
# Order status weights by order age: (max age in hours, {status: weight}).
STATUS_BY_AGE = [
    (6, {S.PENDING_PAYMENT: 35, S.AWAITING_SHIPMENT: 55, S.CANCELLED: 10}),
    (24, {S.PENDING_PAYMENT: 20, S.AWAITING_SHIPMENT: 45, S.PARTIALLY_SHIPPED: 5, S.SHIPPED: 20, S.CANCELLED: 10}),
    (72, {S.PENDING_PAYMENT: 4, S.AWAITING_SHIPMENT: 28, S.PARTIALLY_SHIPPED: 8, S.SHIPPED: 40, S.COMPLETED: 10,
          S.CANCELLED: 10}),
    (168, {S.AWAITING_SHIPMENT: 10, S.PARTIALLY_SHIPPED: 5, S.SHIPPED: 25, S.COMPLETED: 50, S.CANCELLED: 10}),
    (None, {S.SHIPPED: 3, S.COMPLETED: 85, S.CANCELLED: 12}),
]
BUYER_MESSAGES = ["请尽快发货", "发票随货寄出", "请随货附药检报告", "效期要一年以上", "周末不收货，请工作日送达",
                  "外箱请加固"]


@dataclass
class OrderPlan:
    order: Order
    items: list = field(default_factory=list)  # (ProductPlan, OrderItem)
    shipments: list = field(default_factory=list)  # (Shipment, [(item index, quantity, batch tuple or None)])
    tracking: list = field(default_factory=list)


class OrderBuilder(FulfilmentMixin):
    """Builds orders whose amounts, shipments and ERP timelines agree with their status."""

    def __init__(self, seed: str, *, merchant, plan, catalog, ref, users, now):
        self.seed, self.merchant, self.plan, self.ref, self.now = seed, merchant, plan, ref, now
        self.rng = random.Random(seed)
        self.tz = timezone.get_current_timezone()
        self.operator = users.get("demo_operator") if plan.code == "demo" else users.get(plan.users[0][0])
        self.sellable = [pp for pp in catalog if pp.product.listing_state != ListingState.PENDING_REVIEW]
        self.listed = [pp for pp in self.sellable if pp.product.listing_state == ListingState.LISTED] or self.sellable
        self.carrier_codes = [c for c in CARRIER_WEIGHTS if c in ref["carriers"]]
        self.used_numbers = set()

    def _created_at(self) -> datetime:
        rng = self.rng
        # More orders on recent days (a growing shop), during business hours.
        days_ago = int(40 * (1 - rng.random() ** 0.5))
        day = timezone.localdate(self.now) - timedelta(days=days_ago)
        hour = rng.choices(range(24), [1, 1, 1, 1, 1, 1, 2, 4, 8, 10, 10, 9, 6, 7, 9, 10, 9, 8, 6, 6, 6, 5, 3, 2])[0]
        created = datetime.combine(day, time(hour, rng.randint(0, 59), rng.randint(0, 59)), tzinfo=self.tz)
        latest = self.now - timedelta(minutes=10)
        if created > latest:
            created = (latest - timedelta(minutes=rng.randint(0, 600))).replace(microsecond=0)
        return created

    def _status(self, created: datetime) -> str:
        age_hours = (self.now - created).total_seconds() / 3600
        for limit, weights in STATUS_BY_AGE:
            if limit is None or age_hours < limit:
                return self.rng.choices(list(weights), list(weights.values()))[0]

    def _order_no(self, source: str) -> str:
        if source == OrderSource.MARKETPLACE:
            while True:  # Taobao trade ids are 18-19 digit numbers
                number = str(self.rng.randint(10**18, 10**19 - 1))
                if number not in self.used_numbers:
                    self.used_numbers.add(number)
                    return number
        return ""  # numbered by day once all orders are built, so numbers follow creation time

    def _price_for(self, pp: ProductPlan, customer_spec: dict | None) -> Decimal:
        """Customer-group price, else region-group price, else default price (SPEC M5)."""
        if customer_spec is None:
            return pp.product.suggested_retail_price or money(pp.product.default_price * Decimal("1.3"))
        region = self.ref["province_regions"].get(customer_spec["province"])
        customer_price = region_price = None
        for gp in pp.group_prices:
            if gp.customer_group_id is not None and gp.customer_group.code == customer_spec["group"]:
                customer_price = gp.price
            if gp.region_group_id is not None and gp.region_group.code == region:
                region_price = gp.price
        return customer_price or region_price or pp.product.default_price

    def build(self, count: int) -> list[OrderPlan]:
        """count orders (plus one per status the dice missed, when count >= 50), oldest first."""
        plans = [self.build_one(n) for n in range(count)]
        # Make sure every status shows up in the demo, whatever the dice said.
        present = {p.order.status for p in plans}
        if count >= 50:
            for status in OrderStatus.values:
                if status not in present:
                    plans.append(self.build_one(len(plans), status=status))
            # Presales whose deposit is paid, so the demo shows stock frozen for presale (SPEC S10).
            for _ in range(3):
                plans.append(self.build_one(len(plans), status=S.PENDING_PAYMENT, presale=True))
        plans.sort(key=lambda p: p.order.created_at)
        serials = {}
        for p in plans:
            if p.order.source == OrderSource.STOREFRONT:
                day = timezone.localtime(p.order.created_at, self.tz).date()
                serials[day] = serials.get(day, 0) + 1
                p.order.order_no = f"{self.plan.storefront_prefix}{day:%Y%m%d}{serials[day]:04d}"
        return plans

    def build_one(self, n: int, status: str | None = None, presale: bool = False) -> OrderPlan:
        # One generator per order: an order that falls into another status bucket as time passes
        # does not reshuffle all the orders after it.
        self.rng = random.Random(f"{self.seed}:{n}")
        rng, now = self.rng, self.now
        source = rng.choices([OrderSource.STOREFRONT, OrderSource.MARKETPLACE], [60, 40])[0]
        if presale:
            source = OrderSource.MARKETPLACE
        created = self._created_at()
        if status is not None:
            created = min(created, now - timedelta(days=5)) if status in (S.COMPLETED,) else created
        status = status or self._status(created)
        marketplace = source == OrderSource.MARKETPLACE
        customer = None if marketplace else rng.choice(self.ref["customers"])
        order = Order(merchant=self.merchant, source=source, status=status, created_at=created,
                      order_no=self._order_no(source))
        plan = OrderPlan(order=order)

        # Items
        pool = self.listed if marketplace else self.sellable
        k = min(len(pool), rng.choices([1, 2, 3, 4], [70, 20, 7, 3] if marketplace else [35, 30, 20, 15])[0])
        for line_no, pp in enumerate(rng.sample(pool, k), start=1):
            if marketplace:
                qty = rng.choices([1, 2, 3], [70, 20, 10])[0]
            else:
                qty = rng.choice([1, 2, 3, 5, 6, 10, 12, 20, 30, 50])
            plan.items.append((pp, OrderItem(
                line_no=line_no, product=pp.product, erp_product_id=pp.product.erp_product_id,
                item_name=pp.product.name, spec=pp.product.spec, quantity=qty, unit_price=self._price_for(pp, customer),
            )))
        if status == S.PARTIALLY_SHIPPED and len(plan.items) == 1 and plan.items[0][1].quantity < 2:
            plan.items[0][1].quantity = 2
        for _pp, item in plan.items:
            item.amount = money(item.unit_price * item.quantity)

        # Amounts
        goods = sum(item.amount for _pp, item in plan.items)
        if marketplace:
            shipping = Decimal("0.00") if goods >= 49 or rng.random() < 0.6 else Decimal("6.00")
            discount = Decimal(rng.choice([5, 10, 20])) if rng.random() < 0.3 and goods > 30 else Decimal("0.00")
        else:
            shipping = Decimal("0.00") if goods >= 800 else Decimal("15.00")
            discount = money(goods * Decimal("0.02")) if rng.random() < 0.15 else Decimal("0.00")
        order.goods_amount, order.shipping_fee, order.discount_amount = money(goods), shipping, money(discount)
        order.total_amount = order.goods_amount + order.shipping_fee - order.discount_amount

        # Shipping address
        if customer:
            order.customer = customer["object"]
            order.receiver_name, order.receiver_phone = customer["contact"], customer["phone"]
            order.receiver_province, order.receiver_city = customer["province"], customer["city"]
            order.receiver_district, order.receiver_address = customer["district"], customer["address"]
        else:
            order.buyer_nick = rng.choice([
                f"tb{rng.randint(10**8, 10**9 - 1)}", f"{rng.choice(BRANDS)}小{rng.choice(SURNAMES)}",
                f"健康生活{rng.randint(100, 9999)}",
            ])
            province, city, district, _division = random_place(rng)
            order.receiver_name, order.receiver_phone = person_name(rng), phone(rng)
            order.receiver_province, order.receiver_city, order.receiver_district = province, city, district
            order.receiver_address = street_address(rng)
        if rng.random() < 0.12:
            order.buyer_message = rng.choice(BUYER_MESSAGES)

        # Invoice
        if customer and rng.random() < 0.4:
            order.invoice_type = "增值税专用发票" if customer["group"] == "chain" else rng.choice(["增值税普通发票", "增值税电子普通发票"])
            order.invoice_title, order.invoice_tax_no = customer["name"], customer["uscc"]
            order.invoice_email = f"fp{rng.randint(100, 999)}@example.com"
        elif marketplace and rng.random() < 0.1:
            order.invoice_type, order.invoice_title = "增值税电子普通发票", "个人"
            order.invoice_email = f"{order.buyer_nick}@example.com"

        self._timeline(plan, status, marketplace)
        if presale and not order.is_presale:
            self._presale(order, status)
        return plan


def save_orders(plans: list[OrderPlan]) -> None:
    """Insert the planned orders with their items, shipments (and shipped lines) and tracking entries."""
    Order.objects.bulk_create([p.order for p in plans], batch_size=500)
    items, shipments, tracking = [], [], []
    for p in plans:
        for _pp, item in p.items:
            item.order = p.order
            items.append(item)
        for shipment, _lines in p.shipments:
            shipment.order = p.order
            shipments.append(shipment)
        for entry in p.tracking:
            entry.order = p.order
            tracking.append(entry)
    OrderItem.objects.bulk_create(items, batch_size=1000)
    Shipment.objects.bulk_create(shipments, batch_size=1000)
    TrackingEntry.objects.bulk_create(tracking, batch_size=1000)
    shipment_items = []
    for p in plans:
        for shipment, lines in p.shipments:
            for i, qty, batch in lines:
                batch_no, production, expiry = batch or ("", None, None)
                shipment_items.append(ShipmentItem(shipment=shipment, order_item=p.items[i][1], quantity=qty,
                                                   batch_no=batch_no, production_date=production, expiry_date=expiry))
    ShipmentItem.objects.bulk_create(shipment_items, batch_size=1000)
