"""The sandbox Douyin shop's own behaviour: buyers and sellers acting (activity ticks), the periodic job that
also delivers push messages, the demo shop and the management command."""
import json
import random
from datetime import timedelta
from decimal import Decimal
from io import StringIO

import pytest
from django.core.management import call_command
from django.utils import timezone

from sync.marketplaces.douyin.sandbox import demo, jobs, marketplace
from sync.marketplaces.douyin.sandbox.models import (
    DouyinCall, DouyinOrder, DouyinPushMessage, DouyinShop, DouyinSku, OrderStatus,
)
from tests.factories import ProductFactory

from .test_douyin_gateway import Receiver


@pytest.fixture
def shop(db):
    shop = marketplace.shop_create(app_key="dy-app", app_secret="dy-secret", shop_id=5001, shop_name="测试抖店")
    marketplace.products_from_codes(shop, [(f"ERP-{n}", f"商品{n}", 990, 30) for n in range(1, 6)])
    return shop


def test_activity_ticks_create_pay_cancel_ship_and_finish_orders_with_their_messages(shop):
    DouyinShop.objects.filter(pk=shop.pk).update(push_enabled=True)
    rng = random.Random(3)
    start = timezone.now() - timedelta(hours=1)
    totals = {}
    for n in range(120):
        counts = marketplace.activity_tick(shop, now=start + timedelta(seconds=15 * n), rng=rng)
        for kind, value in counts.items():
            totals[kind] = totals.get(kind, 0) + value

    assert all(totals[kind] > 0 for kind in ("created", "paid", "cancelled", "shipped", "finished"))
    assert totals["after_sales_opened"] > 0
    statuses = set(DouyinOrder.objects.values_list("status", flat=True))
    assert {OrderStatus.AWAITING_SHIPMENT, OrderStatus.SHIPPED, OrderStatus.FINISHED} <= statuses
    tags = set(DouyinPushMessage.objects.values_list("tag", flat=True))
    assert {"100", "101", "102", "103", "106", "200"} <= tags
    assert DouyinPushMessage.objects.filter(tag="100").count() == DouyinOrder.objects.count()


def test_generated_orders_span_the_period_in_a_mix_of_statuses_without_messages(shop):
    DouyinShop.objects.filter(pk=shop.pk).update(push_enabled=True)
    end = timezone.now().replace(microsecond=0)

    made = marketplace.orders_generate(shop, 60, start=end - timedelta(days=3), end=end, seed=1)

    assert made == DouyinOrder.objects.count() == 60
    assert len(set(DouyinOrder.objects.values_list("status", flat=True))) >= 4
    assert not DouyinOrder.objects.filter(update_time__gt=end).exists()
    assert not DouyinPushMessage.objects.exists()
    assert len(set(DouyinOrder.objects.values_list("shop_order_id", flat=True))) == 60


@pytest.mark.django_db(transaction=True)
def test_the_periodic_job_ticks_demo_shops_and_delivers_their_messages():
    shop = marketplace.shop_create(app_key="dy-app", app_secret="dy-secret", shop_id=5001)
    marketplace.products_from_codes(shop, [("ERP-1", "商品", 990, 30)])
    receiver = Receiver()
    try:
        DouyinShop.objects.filter(pk=shop.pk).update(push_enabled=True, callback_url=receiver.url)
        marketplace.order_create(shop, lines=[("ERP-1", 1)])
        DouyinCall.objects.create(shop=shop, method="order.searchList", at=timezone.now() - timedelta(days=2),
                                  outcome="ok")

        jobs.sandbox_douyin_activity()
    finally:
        receiver.close()

    assert [m["tag"] for m in receiver.messages()][:2] == ["100", "101"]
    assert not DouyinPushMessage.objects.filter(delivered_at__isnull=True, dropped=False).exists()
    assert not DouyinCall.objects.exists()


def test_the_demo_shop_sells_the_merchants_listed_products_with_past_orders(merchant_a):
    products = [ProductFactory(merchant=merchant_a, erp_product_id=f"P-{n}", default_price=Decimal("12.50"))
                for n in range(3)]

    base, app_key, secret, shop_id = demo.demo_douyin_shop(merchant=merchant_a,
                                                           base_url="http://127.0.0.1:8000/sandbox/douyin")
    again = demo.demo_douyin_shop(merchant=merchant_a, base_url="http://127.0.0.1:8000/sandbox/douyin")

    assert (base, app_key, secret, shop_id) == again == ("http://127.0.0.1:8000/sandbox/douyin", demo.APP_KEY,
                                                        demo.APP_SECRET, demo.SHOP_ID)
    shop = DouyinShop.objects.get(app_key=app_key)
    assert (shop.shop_id, shop.push_enabled, shop.demo_activity) == (shop_id, True, True)
    assert shop.callback_url == "http://127.0.0.1:8000/hooks/douyin/"
    assert set(DouyinSku.objects.values_list("code", "price")) == {(p.erp_product_id, 1250) for p in products}
    assert DouyinOrder.objects.filter(shop=shop).count() == demo.PAST_ORDERS


def test_the_command_creates_a_shop_from_a_merchants_catalog(merchant_a):
    ProductFactory(merchant=merchant_a, erp_product_id="C-1", default_price=Decimal("3.00"))
    out = StringIO()

    call_command("sandbox_douyin_shop", "--app-key", "cmd-app", "--app-secret", "s", "--shop-id", "42",
                 "--from-merchant", merchant_a.code, "--orders", "5", "--push", "--index-lag-seconds", "30",
                 stdout=out)

    answer = json.loads(out.getvalue())
    assert (answer["shop_id"], answer["skus"], answer["orders"], answer["push_enabled"]) == (42, 1, 5, True)
    assert DouyinShop.objects.get(app_key="cmd-app").index_lag_seconds == 30
