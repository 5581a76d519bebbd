"""The marketplace order upsert: idempotent, and an older `modified` never overwrites a newer one."""
from datetime import timedelta
from decimal import Decimal

import pytest
from django.utils import timezone

from merchant.models import Order, OrderItem, RefundStatus
from merchant.services.marketplace_orders import order_refunds_apply, orders_upsert_marketplace
from sync.marketplaces.top.mapping import Refund, trade_from_top
from sync.marketplaces.top.times import to_top
from sync.models import Connection
from tests.factories import ProductFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def connection(merchant_a):
    ProductFactory(merchant=merchant_a, erp_product_id="ERP-1")
    return Connection.objects.create(merchant=merchant_a, name="shop", gateway_url="http://x/router/rest", app_key="k")


def record(tid=1, status="WAIT_SELLER_SEND_GOODS", modified=None, refund="NO_REFUND", **extra):
    modified = modified or timezone.now()
    return trade_from_top({
        "tid": tid, "status": status, "created": to_top(modified - timedelta(hours=1)), "modified": to_top(modified),
        "payment": "25.00", "total_fee": "25.00",
        "orders": {"order": [
            {"oid": tid * 10 + 1, "outer_sku_id": "ERP-1", "num": 2, "price": "12.50", "refund_status": refund},
            {"oid": tid * 10 + 2, "outer_sku_id": "ERP-9", "num": 1, "price": "0.00"},
        ]}, **extra,
    })


def test_the_same_delivery_twice_changes_nothing(connection):
    # One modified time for both deliveries: two calls of now() may fall in different seconds of TOP's times.
    modified = timezone.now()
    first = orders_upsert_marketplace(connection=connection, trades=[record(1, modified=modified),
                                                                     record(2, modified=modified)])
    assert (first.created, first.updated, first.unchanged) == (2, 0, 0)
    again = orders_upsert_marketplace(connection=connection, trades=[record(1, modified=modified),
                                                                     record(2, modified=modified)])
    assert (again.created, again.updated, again.unchanged) == (0, 0, 2)
    assert Order.objects.count() == 2 and OrderItem.objects.count() == 4


def test_an_older_modified_never_overwrites_a_newer_one(connection):
    now = timezone.now()
    orders_upsert_marketplace(connection=connection, trades=[record(1, "WAIT_BUYER_CONFIRM_GOODS", now)])
    late = orders_upsert_marketplace(connection=connection,
                                     trades=[record(1, "WAIT_SELLER_SEND_GOODS", now - timedelta(minutes=3))])
    assert late.unchanged == 1
    assert Order.objects.get().platform_status == "WAIT_BUYER_CONFIRM_GOODS"
    newer = orders_upsert_marketplace(connection=connection, trades=[record(1, "TRADE_FINISHED", now + timedelta(minutes=1))])
    assert newer.updated == 1 and Order.objects.get().platform_status == "TRADE_FINISHED"


def test_out_of_order_copies_in_one_batch_keep_the_newest(connection):
    now = timezone.now()
    batch = [record(1, "TRADE_FINISHED", now), record(1, "WAIT_SELLER_SEND_GOODS", now - timedelta(minutes=9))]
    counts = orders_upsert_marketplace(connection=connection, trades=batch)
    assert counts.created == 1 and Order.objects.get().platform_status == "TRADE_FINISHED"


def test_lines_are_updated_in_place_and_unmapped_lines_flagged(connection):
    now = timezone.now()
    orders_upsert_marketplace(connection=connection, trades=[record(1, modified=now)])
    order = Order.objects.get()
    assert order.has_unmapped_lines
    ids = sorted(order.items.values_list("id", flat=True))
    orders_upsert_marketplace(connection=connection, trades=[record(1, modified=now + timedelta(minutes=1),
                                                                    refund="WAIT_SELLER_AGREE")])
    assert sorted(order.items.values_list("id", flat=True)) == ids  # shipments keep pointing at them
    order.refresh_from_db()
    assert order.refund_status == RefundStatus.REQUESTED
    mapped = order.items.get(erp_product_id="ERP-1")
    assert mapped.product_id and mapped.amount == Decimal("25.00")


def test_refund_records_set_line_states_only_when_newer(connection):
    now = timezone.now()
    orders_upsert_marketplace(connection=connection, trades=[record(1, modified=now - timedelta(hours=1))])
    refund = Refund(refund_id="7", order_no="1", line_id="11", status=RefundStatus.REFUNDED, platform_status="SUCCESS",
                    modified_at=now)
    counts, missing = order_refunds_apply(connection=connection, refunds=[refund])
    assert counts.updated == 1 and not missing
    assert Order.objects.get().refund_status == RefundStatus.PARTIAL
    older = Refund(refund_id="7", order_no="1", line_id="11", status=RefundStatus.REQUESTED,
                   platform_status="WAIT_SELLER_AGREE", modified_at=now - timedelta(minutes=5))
    counts, _ = order_refunds_apply(connection=connection, refunds=[older])
    assert counts.unchanged == 1
    assert OrderItem.objects.get(external_id="11").refund_status == RefundStatus.REFUNDED
    _, missing = order_refunds_apply(connection=connection, refunds=[Refund("8", "404", "1", "refunded", "SUCCESS", now)])
    assert missing == {"404"}


def test_orders_of_another_merchant_are_never_touched(connection, merchant_b):
    other = Connection.objects.create(merchant=merchant_b, name="b", gateway_url="http://x/router/rest", app_key="k")
    orders_upsert_marketplace(connection=other, trades=[record(1, "TRADE_FINISHED")])
    counts = orders_upsert_marketplace(connection=connection, trades=[record(1, "WAIT_SELLER_SEND_GOODS")])
    assert counts.created == 1
    assert Order.objects.get(merchant=merchant_b).platform_status == "TRADE_FINISHED"


def test_two_changes_in_one_second_keep_the_later_stage(connection):
    now = timezone.now()
    orders_upsert_marketplace(connection=connection, trades=[record(1, "WAIT_BUYER_CONFIRM_GOODS", now)])
    same_second = orders_upsert_marketplace(connection=connection, trades=[record(1, "WAIT_SELLER_SEND_GOODS", now)])
    assert same_second.unchanged == 1
    orders_upsert_marketplace(connection=connection, trades=[record(1, "TRADE_FINISHED", now)])
    assert Order.objects.get().platform_status == "TRADE_FINISHED"
