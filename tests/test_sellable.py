"""Sellable stock: the stock in force less orders the ERP has not taken and the safety stock, leaving out
batches near expiry, never below 0."""
from datetime import timedelta

import pytest
from django.utils import timezone

from merchant.models import Merchant, OrderStatus, Product, RefundStatus
from merchant.sellable import sellable_stock
from tests.factories import BatchFactory, OrderFactory, ProductFactory

pytestmark = pytest.mark.django_db

TODAY = timezone.localdate()


def sellable(product, merchant=None):
    product = Product.objects.get(pk=product.pk)
    merchant = Merchant.objects.get(pk=(merchant or product.merchant).pk)
    return sellable_stock([product], merchant, today=TODAY)[product.pk]


def order_of(product, quantity, **fields):
    return OrderFactory(merchant=product.merchant, items=[{"product": product, "quantity": quantity}], **fields)


def test_stock_in_force_is_sellable_without_orders_or_safety_stock(merchant_a):
    product = ProductFactory(merchant=merchant_a, stock=25)
    assert sellable(product) == 25


@pytest.mark.parametrize("status", [OrderStatus.PENDING_PAYMENT, OrderStatus.AWAITING_SHIPMENT,
                                    OrderStatus.PARTIALLY_SHIPPED])
def test_orders_not_taken_by_the_erp_hold_their_quantity(merchant_a, status):
    product = ProductFactory(merchant=merchant_a, stock=25)
    order_of(product, 4, status=status)
    order_of(product, 3, status=status)
    assert sellable(product) == 18


def test_orders_the_erp_took_are_not_subtracted_again(merchant_a):
    product = ProductFactory(merchant=merchant_a, stock=25)
    order_of(product, 4, taken_by_erp=True, taken_at=timezone.now())
    assert sellable(product) == 25


@pytest.mark.parametrize("status", [OrderStatus.CANCELLED, OrderStatus.SHIPPED, OrderStatus.COMPLETED])
def test_cancelled_shipped_and_completed_orders_hold_nothing(merchant_a, status):
    product = ProductFactory(merchant=merchant_a, stock=25)
    order_of(product, 4, status=status)
    assert sellable(product) == 25


def test_a_refunded_line_holds_nothing(merchant_a):
    product = ProductFactory(merchant=merchant_a, stock=25)
    order = order_of(product, 4)
    order.items.update(refund_status=RefundStatus.REFUNDED)
    assert sellable(product) == 25


def test_another_merchants_orders_do_not_count(merchant_a, merchant_b):
    product = ProductFactory(merchant=merchant_a, stock=25)
    OrderFactory(merchant=merchant_b, items=[{"product": product, "quantity": 5}])
    assert sellable(product) == 25


def test_safety_stock_is_kept_back(merchant_a):
    Merchant.objects.filter(pk=merchant_a.pk).update(safety_stock=5)
    product = ProductFactory(merchant=merchant_a, stock=25)
    order_of(product, 4)
    assert sellable(product) == 16


def test_never_below_zero(merchant_a):
    Merchant.objects.filter(pk=merchant_a.pk).update(safety_stock=3)
    short = ProductFactory(merchant=merchant_a, stock=5)
    order_of(short, 4)
    oversold = ProductFactory(merchant=merchant_a, stock=2)
    order_of(oversold, 9)
    assert sellable(short) == 0
    assert sellable(oversold) == 0


def test_batches_expiring_within_the_exclusion_days_are_left_out(merchant_a):
    Merchant.objects.filter(pk=merchant_a.pk).update(expiry_exclusion_days=30)
    product = ProductFactory(merchant=merchant_a, batch_managed=True, stock=0)
    BatchFactory(product=product, quantity=10, expiry_date=TODAY + timedelta(days=365))
    BatchFactory(product=product, quantity=7, expiry_date=TODAY + timedelta(days=31))
    BatchFactory(product=product, quantity=5, expiry_date=TODAY + timedelta(days=30))  # on the edge: out
    BatchFactory(product=product, quantity=3, expiry_date=TODAY + timedelta(days=2))
    assert sellable(product) == 17


def test_expired_and_empty_batches_never_count(merchant_a):
    product = ProductFactory(merchant=merchant_a, batch_managed=True, stock=0)
    BatchFactory(product=product, quantity=10, expiry_date=TODAY + timedelta(days=90))
    BatchFactory(product=product, quantity=0, expiry_date=TODAY + timedelta(days=90))
    BatchFactory(product=product, quantity=8, expiry_date=TODAY,
                 production_date=TODAY - timedelta(days=400))
    assert sellable(product) == 10


def test_batch_products_also_lose_orders_and_safety_stock(merchant_a):
    Merchant.objects.filter(pk=merchant_a.pk).update(safety_stock=1, expiry_exclusion_days=10)
    product = ProductFactory(merchant=merchant_a, batch_managed=True, stock=0)
    BatchFactory(product=product, quantity=10, expiry_date=TODAY + timedelta(days=90))
    BatchFactory(product=product, quantity=6, expiry_date=TODAY + timedelta(days=5))
    order_of(product, 3, status=OrderStatus.PENDING_PAYMENT)
    assert sellable(product) == 6


def test_many_products_in_a_fixed_number_of_queries(merchant_a, django_assert_max_num_queries):
    Merchant.objects.filter(pk=merchant_a.pk).update(safety_stock=1)
    plain = [ProductFactory(merchant=merchant_a, stock=10 + n) for n in range(10)]
    batched = [ProductFactory(merchant=merchant_a, batch_managed=True, stock=0) for _ in range(10)]
    for product in batched:
        BatchFactory(product=product, quantity=4)
    for product in plain[:5]:
        order_of(product, 2)
    products = list(Product.objects.filter(merchant=merchant_a))
    merchant = Merchant.objects.get(pk=merchant_a.pk)
    with django_assert_max_num_queries(2):
        result = sellable_stock(products, merchant, today=TODAY)
    assert [result[p.pk] for p in plain] == [7, 8, 9, 10, 11, 14, 15, 16, 17, 18]
    assert {result[p.pk] for p in batched} == {3}
