"""The Douyin adapter against the sandbox Douyin shop over HTTP (a live server): a token obtained, orders by
update-time pages, detail, after-sales, stock by code (a repeated idempotent_id recognised), logistics with the
carrier code mapped, and an expired token refreshed mid-run."""
from datetime import timedelta
from decimal import Decimal
from functools import partial

import pytest
from django.utils import timezone

from merchant.models import OrderStatus, RefundStatus
from sync import http
from sync.marketplaces.douyin.adapter import DouyinMarketplace
from sync.marketplaces.douyin.client import DouyinClient
from sync.marketplaces.douyin.sandbox import gateway, marketplace
from sync.marketplaces.douyin.tokens import token_obtain
from sync.models import Connection, ConnectionKind, Outbox
from tests.factories import CarrierFactory, OrderFactory, ProductFactory

from .conftest import short_sleep

APP_KEY, SECRET, SHOP_ID = "7000000000000000009", "douyin-sandbox-secret", 88_000_009


class Work:
    """The part of sync.outbound.Pass an adapter's push uses (base.Marketplace.push): calls and settlements."""

    def __init__(self, client, merchant):
        self.client, self.merchant, self.now = client, merchant, timezone.now()
        self.acked, self.failed, self.skipped, self.deferred = {}, {}, [], []

    def call(self, method, params, read=None):
        return self.client.call_with_retry(method, params, read=read)

    def ack(self, row, value):
        self.acked[row.pk] = value

    def fail(self, row, error, *, permanent):
        self.failed[row.pk] = (error, permanent)

    def skip(self, row):
        self.skipped.append(row.pk)

    def defer(self, row):
        self.deferred.append(row.pk)


@pytest.fixture
def shop(transactional_db):
    shop = marketplace.shop_create(app_key=APP_KEY, app_secret=SECRET, shop_id=SHOP_ID)
    marketplace.products_from_codes(shop, [("ERP-1", "阿莫西林胶囊", 1250, 100), ("ERP-2", "布洛芬缓释胶囊", 2300, 50)])
    return shop


@pytest.fixture
def market(live_server, shop, merchant_a):
    connection = Connection(merchant=merchant_a, kind=ConnectionKind.DOUYIN, name="抖店", app_key=APP_KEY,
                            gateway_url=f"{live_server.url}/sandbox/douyin", sign_method="hmac-sha256",
                            shop_id=str(SHOP_ID), calls_per_minute=100_000)
    connection.app_secret = SECRET
    connection.save()
    client = DouyinClient(connection, sleep=short_sleep)
    token_obtain(client)
    yield DouyinMarketplace(connection, client=client)
    assert gateway.wait_until_idle()
    # Close the pooled keep-alive connections while the live server still runs, so none of its request threads
    # is left holding one at exit.
    http.session().close()


def window():
    now = timezone.now()
    return {"by": "modified", "start": now - timedelta(hours=1), "end": now + timedelta(minutes=1)}


def test_the_token_is_obtained_and_stored(market):
    stored = Connection.objects.get(pk=market.connection.pk)
    assert stored.session and stored.refresh_token and stored.token_expires_at > timezone.now() + timedelta(days=6)


def test_orders_arrive_by_update_time_pages_with_money_in_yuan(market, shop):
    order = marketplace.order_create(shop, lines=[("ERP-1", 2), ("ERP-2", 1)], post_amount=800)
    page = market.orders_page(**window(), page=1)
    assert page.total == 1 and not page.has_next
    [trade] = page.trades
    assert trade.order_no == order.shop_order_id and trade.status == OrderStatus.AWAITING_SHIPMENT
    assert [line.erp_product_id for line in trade.lines] == ["ERP-1", "ERP-2"]
    assert trade.shipping_fee == Decimal("8.00")
    assert trade.total_amount == trade.goods_amount + trade.shipping_fee
    stamps = market.order_stamps(**window(), page=1)
    assert stamps.stamps == {trade.order_no: trade.modified_at}
    assert market.order_detail(trade.order_no).order_no == trade.order_no


def test_after_sales_arrive_as_refunds(market, shop):
    order = marketplace.order_create(shop, lines=[("ERP-1", 1)])
    marketplace.after_sale_create(order)
    now = timezone.now()
    page = market.refunds_page(start=now - timedelta(hours=1), end=now + timedelta(minutes=1), page=1)
    [refund] = page.refunds
    assert refund.order_no == order.shop_order_id and refund.status == RefundStatus.REQUESTED


def test_stock_is_set_by_code_and_a_repeated_call_is_recognised(market, shop, merchant_a):
    product = ProductFactory(merchant=merchant_a, erp_product_id="ERP-1", stock=7)
    row = Outbox.objects.create(connection=market.connection, kind="stock", product=product, generation=1,
                                claimed_generation=1, pending=True, due_at=timezone.now())
    work = Work(market.client, merchant_a)
    market.push(work, "stock", [row])
    assert work.acked == {row.pk: 7}
    sku = marketplace.sku_find(shop, code="ERP-1")
    assert sku.stock_num == 7
    # The same row and attempt again (the answer was lost): the platform refuses the idempotent_id, and the
    # read-back shows the value landed, so the row is acknowledged, not failed.
    work = Work(market.client, merchant_a)
    market.push(work, "stock", [row])
    assert work.acked == {row.pk: 7} and work.failed == {}


def test_a_code_the_shop_does_not_have_is_skipped_not_failed(market, merchant_a):
    product = ProductFactory(merchant=merchant_a, erp_product_id="NOT-IN-SHOP", stock=3)
    row = Outbox.objects.create(connection=market.connection, kind="stock", product=product, generation=1,
                                pending=True, due_at=timezone.now())
    work = Work(market.client, merchant_a)
    market.push(work, "stock", [row])
    assert work.skipped == [row.pk] and work.failed == {}


def test_logistics_go_out_with_the_carrier_code_mapped(market, shop, merchant_a):
    order = marketplace.order_create(shop, lines=[("ERP-1", 1)])
    ours = OrderFactory(merchant=merchant_a, order_no=order.shop_order_id, tracking_no="SF1234567890",
                        carrier=CarrierFactory(code="SF", name="顺丰速运"))
    row = Outbox.objects.create(connection=market.connection, kind="logistics", order=ours, generation=1,
                                pending=True, due_at=timezone.now())
    work = Work(market.client, merchant_a)
    market.push(work, "logistics", [row])
    assert work.acked == {row.pk: "SF SF1234567890"}
    order.refresh_from_db()
    assert (order.company_code, order.logistics_code) == ("shunfeng", "SF1234567890")
    # Sent again (a run died before recording it): the order is shipped there, so it is acknowledged.
    work = Work(market.client, merchant_a)
    market.push(work, "logistics", [row])
    assert work.acked == {row.pk: "SF SF1234567890"}


def test_a_token_expired_mid_run_is_refreshed_and_the_pull_goes_on(market, shop):
    marketplace.order_create(shop, lines=[("ERP-1", 1)])
    old = Connection.objects.get(pk=market.connection.pk).session
    shop.refresh_from_db()
    marketplace.token_expire(shop, now=timezone.now())
    page = market.orders_page(**window(), page=1)
    assert len(page.trades) == 1
    assert Connection.objects.get(pk=market.connection.pk).session != old


def test_testing_the_connection_says_connected_with_the_log_id(market):
    from merchant.models import AuditSource
    from merchant.permissions import Actor
    from sync.services import connection_test

    assert market.test_call() == market.connection.calls.latest("at").request_id != ""
    result = connection_test(connection=market.connection, actor=Actor.system(AuditSource.SYSTEM),
                             client_factory=partial(DouyinClient, sleep=short_sleep))
    assert result.ok and market.connection.calls.latest("at").request_id in result.message


def test_push_messages_from_the_shop_reach_our_callback_and_bring_the_order(market, shop, live_server):
    import django_rq

    from merchant.models import Order
    from sync import jobs
    from sync.marketplaces.douyin.sandbox import push
    from sync.marketplaces.douyin.sandbox.models import DouyinShop
    from sync.models import PushedMessage
    from sync.pushed_messages import pushed_messages_handle

    DouyinShop.objects.filter(pk=shop.pk).update(callback_url=f"{live_server.url}/hooks/douyin/", push_enabled=True)
    shop.refresh_from_db()
    queue = django_rq.get_queue("sync")
    queue.empty()
    order = marketplace.order_create(shop, lines=[("ERP-1", 1)])
    counts = push.messages_deliver(shop, timezone.now())
    assert counts["delivered"] == 2 and counts["failed"] == 0  # created + paid, answered {"code": 0}
    assert sorted(PushedMessage.objects.values_list("tag", flat=True)) == ["100", "101"]
    assert set(PushedMessage.objects.values_list("order_no", flat=True)) == {order.shop_order_id}
    # Stored, then one job queued after commit to fetch what they name.
    assert [job.func for job in queue.jobs] == [jobs.sync_pushed_messages]
    summary = pushed_messages_handle(market.connection, marketplace=market)
    assert summary["orders"] == 1 and summary["created"] == 1
    assert Order.objects.get(order_no=order.shop_order_id).connection_id == market.connection.pk
    # Delivered again (the platform did not see our answer): answered, nothing new.
    from sync.marketplaces.douyin.sandbox.models import DouyinPushMessage

    DouyinPushMessage.objects.filter(shop=shop).update(delivered_at=None)
    assert push.messages_deliver(shop, timezone.now())["delivered"] == 2
    assert PushedMessage.objects.count() == 2 and not PushedMessage.objects.filter(handled_at=None).exists()
    queue.empty()


def test_a_ban_is_waited_out_and_the_call_goes_on(market, shop):
    from sync.marketplaces.douyin.sandbox.models import DouyinShop

    marketplace.order_create(shop, lines=[("ERP-1", 1)])
    DouyinShop.objects.filter(pk=shop.pk).update(banned_until=timezone.now() + timedelta(seconds=1), ban_seconds=1)
    page = market.orders_page(**window(), page=1)
    assert len(page.trades) == 1
    assert market.connection.calls.filter(outcome="rate_limited").exists()


def test_listing_puts_the_shops_product_online_or_offline_after_finding_it_by_code(market, shop, merchant_a):
    from merchant.models import ListingState
    from sync.marketplaces.douyin.sandbox.models import DouyinProduct
    from sync.models import MarketplaceSku

    listed = ProductFactory(merchant=merchant_a, erp_product_id="ERP-1", listing_state=ListingState.LISTED)
    delisted = ProductFactory(merchant=merchant_a, erp_product_id="ERP-2", listing_state=ListingState.READY)
    elsewhere = ProductFactory(merchant=merchant_a, erp_product_id="ONLY-ON-TMALL")
    DouyinProduct.objects.filter(shop=shop).update(online=False)
    DouyinProduct.objects.filter(shop=shop, skus__code="ERP-2").update(online=True)
    rows = [Outbox.objects.create(connection=market.connection, kind="listing", product=p, generation=1,
                                  pending=True, due_at=timezone.now()) for p in (listed, delisted, elsewhere)]
    work = Work(market.client, merchant_a)
    market.push(work, "listing", rows)
    assert work.acked == {rows[0].pk: "onsale", rows[1].pk: "instock"} and work.skipped == [rows[2].pk]
    assert DouyinProduct.objects.get(shop=shop, skus__code="ERP-1").online
    assert not DouyinProduct.objects.get(shop=shop, skus__code="ERP-2").online
    link = MarketplaceSku.objects.get(connection=market.connection, product=listed)
    assert link.found and link.num_iid == DouyinProduct.objects.get(skus__code="ERP-1").product_id
    assert not MarketplaceSku.objects.get(connection=market.connection, product=elsewhere).found
    # The shop is not read again for the next push.
    calls = market.connection.calls.filter(method="product.listV2").count()
    market.push(Work(market.client, merchant_a), "listing", rows[:1])
    assert market.connection.calls.filter(method="product.listV2").count() == calls


def test_platform_errors_are_retried_until_the_page_arrives(market, shop):
    from sync.marketplaces.douyin.sandbox.models import DouyinShop

    marketplace.order_create(shop, lines=[("ERP-1", 1)])
    DouyinShop.objects.filter(pk=shop.pk).update(fail_next=2)
    page = market.orders_page(**window(), page=1)
    assert len(page.trades) == 1
    assert market.connection.calls.filter(method="order.searchList").exclude(outcome="ok").count() == 2


def test_an_md5_signing_connection_is_accepted_as_the_official_java_sdk_signs(market, shop):
    market.connection.sign_method = "md5"
    md5 = DouyinMarketplace(market.connection, client=DouyinClient(market.connection, sleep=short_sleep))
    marketplace.order_create(shop, lines=[("ERP-1", 1)])
    assert len(md5.orders_page(**window(), page=1).trades) == 1
