"""Price resolution (M5), one region group per province, expired batches leaving stock (M6),
signed only after shipping, stalled logistics alert (S10), whole-second export times."""
from datetime import timedelta
from decimal import Decimal

import pytest
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.utils import timezone

from merchant.models import Batch, OrderStatus, RegionGroupProvince, TrackingEntry
from merchant.selectors import dashboard_stats, price_for_customer
from merchant.services.orders import order_erp_status_add
from merchant.services.stock import stock_recompute_expired_batches
from merchant.spreadsheets.orders_export import csv_chunks
from merchant.validators import normalise_uscc, uscc_check_char, validate_uscc

from .factories import (
    BatchFactory, CustomerFactory, CustomerGroupFactory, GroupPriceFactory, OrderFactory, ProductFactory,
    RegionGroupFactory,
)


@pytest.fixture
def priced(merchant_a):
    product = ProductFactory(merchant=merchant_a, default_price=Decimal("20.00"))
    south = RegionGroupFactory(code="south", provinces=["广东", "广西"])
    chains = CustomerGroupFactory(code="chains")
    GroupPriceFactory(product=product, region_group=south, customer_group=None, price=Decimal("18.00"))
    GroupPriceFactory(product=product, region_group=None, customer_group=chains, price=Decimal("15.00"))
    return product, chains


def test_customer_group_price_wins_over_region_price(priced):
    product, chains = priced
    customer = CustomerFactory(province="广东", customer_group=chains)
    assert price_for_customer(product, customer) == Decimal("15.00")


def test_region_price_applies_when_customer_group_has_none(priced):
    product, _chains = priced
    customer = CustomerFactory(province="广西", customer_group=CustomerGroupFactory(code="single"))
    assert price_for_customer(product, customer) == Decimal("18.00")


def test_default_price_applies_outside_every_group(priced):
    product, _chains = priced
    assert price_for_customer(product, CustomerFactory(province="北京", customer_group=None)) == Decimal("20.00")
    assert price_for_customer(product, None) == Decimal("20.00")


@pytest.mark.django_db
def test_a_province_belongs_to_one_region_group_only():
    RegionGroupFactory(code="south", provinces=["广东"])
    other = RegionGroupFactory(code="east")
    with pytest.raises(IntegrityError), transaction.atomic():
        RegionGroupProvince.objects.create(region_group=other, province="广东")


def test_expired_batch_leaves_batch_managed_stock(merchant_a):
    product = ProductFactory(merchant=merchant_a, batch_managed=True, stock=30)
    today = timezone.localdate()
    BatchFactory(product=product, quantity=10)
    BatchFactory(product=product, quantity=20, production_date=today - timedelta(days=400),
                 expiry_date=today + timedelta(days=1))
    assert stock_recompute_expired_batches(today=today) == 0  # nothing expired yet
    assert stock_recompute_expired_batches(today=today + timedelta(days=1)) == 1
    product.refresh_from_db()
    assert product.stock == 10
    assert Batch.objects.filter(product=product).count() == 2  # batches stay, only stock changes


def test_signed_is_refused_before_the_order_ships(merchant_a, owner_actor):
    order = OrderFactory(merchant=merchant_a, status=OrderStatus.AWAITING_SHIPMENT)
    with pytest.raises(ValidationError) as err:
        order_erp_status_add(order=order, erp_status="signed", actor=owner_actor)
    assert "erp_status" in err.value.message_dict
    order.refresh_from_db()
    assert order.status == OrderStatus.AWAITING_SHIPMENT and order.erp_status == ""


def test_stalled_alert_lists_shipments_without_recent_tracking(merchant_a):
    now = timezone.now()
    stalled = OrderFactory(merchant=merchant_a, status=OrderStatus.SHIPPED, shipped_at=now - timedelta(days=5),
                           erp_status="delivering")
    TrackingEntry.objects.create(order=stalled, at=now - timedelta(days=4), erp_status="delivering", message="x")
    moving = OrderFactory(merchant=merchant_a, status=OrderStatus.SHIPPED, shipped_at=now - timedelta(days=5))
    TrackingEntry.objects.create(order=moving, at=now - timedelta(hours=3), erp_status="delivering", message="y")
    OrderFactory(merchant=merchant_a, status=OrderStatus.SHIPPED, shipped_at=now - timedelta(hours=5))
    assert list(dashboard_stats(merchant_a)["stalled_shipments"]) == [stalled]


def test_csv_export_times_are_whole_seconds_in_shanghai(merchant_a):
    created = timezone.now().replace(microsecond=123456)
    OrderFactory(merchant=merchant_a, created_at=created, items=1)
    from merchant.models import Order

    text = "".join(csv_chunks(Order.objects.filter(merchant=merchant_a)))
    row = text.splitlines()[1].split(",")
    assert row[4].endswith("+08:00") and "." not in row[4]


def test_uscc_is_normalised_before_validation():
    code = "91350100M000100Y4" + uscc_check_char("91350100M000100Y4")
    assert normalise_uscc(f"  {code.lower()} ") == code
    validate_uscc(code)
    with pytest.raises(ValidationError):
        validate_uscc(code.lower())
