"""The platform-neutral pipelines (sync.pipelines) running a Douyin connection against the sandbox shop over HTTP:
a full pull, an incremental pull with an order changed in between, after-sales onto lines, stock, logistics and
a reconciled day."""
from datetime import timedelta
from functools import partial
from zoneinfo import ZoneInfo

import pytest
from django.utils import timezone

from merchant.models import Order, OrderStatus, RefundStatus
from sync import http
from sync.marketplaces.douyin.client import DouyinClient
from sync.marketplaces.douyin.sandbox import gateway, marketplace
from sync.marketplaces.douyin.tokens import token_obtain
from sync.models import Connection, ConnectionKind, SyncModule
from sync.pipelines import orders_sync, push_sync, refunds_sync
from tests.factories import ProductFactory

from .conftest import short_sleep

APP_KEY, SECRET, SHOP_ID = "7000000000000000011", "douyin-pipeline-secret", 88_000_011
fast = partial(DouyinClient, sleep=short_sleep)


@pytest.fixture
def shop(transactional_db):
    shop = marketplace.shop_create(app_key=APP_KEY, app_secret=SECRET, shop_id=SHOP_ID)
    marketplace.products_from_codes(shop, [("ERP-1", "阿莫西林胶囊", 1250, 100), ("ERP-2", "布洛芬缓释胶囊", 2300, 50)])
    return shop


@pytest.fixture
def douyin(live_server, shop, merchant_a):
    connection = Connection(merchant=merchant_a, kind=ConnectionKind.DOUYIN, name="抖店", app_key=APP_KEY,
                            gateway_url=f"{live_server.url}/sandbox/douyin", sign_method="hmac-sha256",
                            shop_id=str(SHOP_ID), calls_per_minute=100_000)
    connection.app_secret = SECRET
    connection.save()
    token_obtain(fast(connection))
    yield connection
    assert gateway.wait_until_idle()
    http.session().close()


def test_a_full_pull_then_an_incremental_one_bring_every_order_once(douyin, shop):
    now = timezone.now()
    first = marketplace.order_create(shop, lines=[("ERP-1", 2)], created=now - timedelta(days=3))
    second = marketplace.order_create(shop, lines=[("ERP-2", 1)], created=now - timedelta(hours=2))
    summary = orders_sync(douyin, full=True, client_factory=fast)
    assert summary["created"] == 2
    stored = Order.objects.get(order_no=first.shop_order_id)
    assert stored.status == OrderStatus.AWAITING_SHIPMENT and stored.connection_id == douyin.pk
    # Paid, then cancelled on the platform: the incremental pull brings the change.
    marketplace.order_cancel(second, at=timezone.now() - timedelta(seconds=30))
    orders_sync(douyin, client_factory=fast)
    assert Order.objects.get(order_no=second.shop_order_id).status == OrderStatus.CANCELLED
    assert Order.objects.filter(connection=douyin).count() == 2


def test_after_sales_reach_the_order_lines(douyin, shop):
    now = timezone.now()
    order = marketplace.order_create(shop, lines=[("ERP-1", 1)], created=now - timedelta(hours=3))
    orders_sync(douyin, full=True, client_factory=fast)
    marketplace.after_sale_create(order, at=timezone.now() - timedelta(minutes=1))
    refunds_sync(douyin, client_factory=fast)
    line = Order.objects.get(order_no=order.shop_order_id).items.get()
    assert line.refund_status == RefundStatus.REQUESTED


def test_stock_goes_out_through_the_push_pipeline(douyin, shop, merchant_a):
    from sync.outbox import outbox_products_changed

    product = ProductFactory(merchant=merchant_a, erp_product_id="ERP-1", stock=7)
    outbox_products_changed(merchant_id=merchant_a.pk, product_ids=[product.pk], kinds=("stock",),
                            connection_ids=[douyin.pk])
    summary = push_sync(douyin, module=SyncModule.STOCK, client_factory=fast)
    assert summary["pushed"] == 1
    assert marketplace.sku_find(shop, code="ERP-1").stock_num == 7


def test_a_shipped_order_goes_back_with_its_tracking_number(douyin, shop):
    from merchant.models import OrderStatus as Ours
    from sync.outbox import outbox_logistics_changed
    from tests.factories import CarrierFactory

    order = marketplace.order_create(shop, lines=[("ERP-1", 1)], created=timezone.now() - timedelta(hours=1))
    orders_sync(douyin, full=True, client_factory=fast)
    ours = Order.objects.get(order_no=order.shop_order_id)
    Order.objects.filter(pk=ours.pk).update(status=Ours.SHIPPED, tracking_no="YT7000000000001",
                                            carrier=CarrierFactory(code="YTO", name="圆通速递"))
    ours.refresh_from_db()
    assert outbox_logistics_changed(orders=[ours]) == 1
    summary = push_sync(douyin, module=SyncModule.LOGISTICS, client_factory=fast)
    assert summary["pushed"] == 1
    order.refresh_from_db()
    assert (order.company_code, order.logistics_code, order.status) == ("yuantong", "YT7000000000001", 3)


def test_reconciling_a_day_finds_an_order_the_pulls_missed(douyin, shop):
    from sync.pipelines import reconcile_sync

    yesterday = (timezone.now().astimezone(ZoneInfo("Asia/Shanghai")) - timedelta(days=1)).replace(
        hour=12, minute=0, second=0, microsecond=0)
    order = marketplace.order_create(shop, lines=[("ERP-2", 1)], created=yesterday)
    summary = reconcile_sync(douyin, client_factory=fast)
    [day] = summary["days"]
    assert (day["theirs"], day["missing"], day["refetched"]) == (1, 1, 1)
    assert Order.objects.filter(order_no=order.shop_order_id, connection=douyin).exists()


def test_orders_changed_while_the_pages_are_read_skip_no_other_order(douyin, shop):
    """The sandbox changes 3 orders of the window at every page read after the first (their update_time becomes
    now, so they leave the window): every order still in the window must be stored."""
    from sync.marketplaces.douyin.sandbox.models import DouyinOrder, DouyinShop

    now = timezone.now()
    marketplace.orders_generate(shop, 350, start=now - timedelta(minutes=50), end=now - timedelta(minutes=20))
    until = now - timedelta(minutes=5)
    DouyinShop.objects.filter(pk=shop.pk).update(move_on_page_rate=1.0, move_count=3)
    orders_sync(douyin, since=now - timedelta(hours=1), until=until, client_factory=fast)
    still_in_window = set(DouyinOrder.objects.filter(shop=shop, update_time__lte=until)
                          .values_list("shop_order_id", flat=True))
    moved = DouyinOrder.objects.filter(shop=shop, update_time__gt=until).count()
    assert moved >= 9  # at least three of the four pages moved orders
    stored = set(Order.objects.filter(connection=douyin).values_list("order_no", flat=True))
    assert still_in_window <= stored
    # The moved ones arrive with the next window.
    DouyinShop.objects.filter(pk=shop.pk).update(move_on_page_rate=0.0)
    orders_sync(douyin, since=until, until=timezone.now(), client_factory=fast)
    assert Order.objects.filter(connection=douyin).count() == 350


def test_the_items_refresh_links_our_products_and_the_stock_check_repairs_a_drifted_quantity(douyin, shop, merchant_a):
    from sync.marketplaces.douyin.sandbox.models import DouyinSku
    from sync.models import MarketplaceSku
    from sync.pipelines import items_sync, stock_check_sync

    first = ProductFactory(merchant=merchant_a, erp_product_id="ERP-1", stock=7)
    ProductFactory(merchant=merchant_a, erp_product_id="ERP-2", stock=4)
    ProductFactory(merchant=merchant_a, erp_product_id="ONLY-ON-TMALL")
    summary = items_sync(douyin, client_factory=fast)
    assert (summary["matched"], summary["not_on_marketplace"]) == (2, 1)
    link = MarketplaceSku.objects.get(connection=douyin, product=first)
    sku = DouyinSku.objects.get(product__shop=shop, code="ERP-1")
    assert (link.num_iid, link.sku_id) == (sku.product.product_id, sku.sku_id)
    # Newly found products are due for a push there.
    assert push_sync(douyin, module=SyncModule.STOCK, client_factory=fast)["pushed"] == 2
    # The seller typed another quantity in the Douyin back office.
    DouyinSku.objects.filter(pk=sku.pk).update(stock_num=99)
    summary = stock_check_sync(douyin, client_factory=fast)
    assert (summary["compared"], summary["drifted"], summary["repaired"]) == (2, 1, 1)
    assert DouyinSku.objects.get(pk=sku.pk).stock_num == 7
