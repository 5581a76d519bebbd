"""Shop orders and after-sales -> records (sync/marketplaces/douyin/mapping.py)."""
from datetime import UTC, datetime
from decimal import Decimal

import pytest

from merchant.models import OrderStatus, RefundStatus
from sync.errors import MalformedAnswer
from sync.marketplaces.douyin import mapping

from .orders import aftersale, shop_order


def test_money_in_fen_becomes_yuan_with_two_places():
    trade = mapping.trade_from_douyin(shop_order())
    assert trade.total_amount == Decimal("123.45")
    assert trade.shipping_fee == Decimal("10.00")
    assert trade.goods_amount == Decimal("113.45")
    assert trade.discount_amount == Decimal("10.00")
    assert trade.paid_amount == Decimal("113.45")
    line = trade.lines[0]
    assert (line.unit_price, line.amount, line.quantity) == (Decimal("56.73"), Decimal("113.45"), 2)


def test_ids_stay_text_and_the_line_carries_the_sku_code():
    trade = mapping.trade_from_douyin(shop_order())
    assert trade.order_no == "4923812345678901234"
    assert trade.lines[0].external_id == "4923812345678901235"
    assert trade.lines[0].erp_product_id == "ERP-1"
    assert trade.lines[0].spec == "重量:250g"


def test_a_float_id_is_refused_rather_than_rounded():
    with pytest.raises(MalformedAnswer, match="shop_order.order_id"):
        mapping.trade_from_douyin(shop_order(order_id=4.923812345678901e18))


def test_times_are_epoch_seconds_as_aware_utc():
    trade = mapping.trade_from_douyin(shop_order())
    assert trade.modified_at == datetime(2025, 12, 4, 0, 0, tzinfo=UTC)
    assert trade.shipped_at is None and trade.completed_at is None


@pytest.mark.parametrize("code,ours", [(1, OrderStatus.PENDING_PAYMENT), (105, OrderStatus.AWAITING_SHIPMENT),
                                       (2, OrderStatus.AWAITING_SHIPMENT), (101, OrderStatus.PARTIALLY_SHIPPED),
                                       (3, OrderStatus.SHIPPED), (4, OrderStatus.CANCELLED),
                                       (5, OrderStatus.COMPLETED)])
def test_order_status_maps_to_ours(code, ours):
    trade = mapping.trade_from_douyin(shop_order(status=code, finish_time=1764807000))
    assert trade.status == ours and trade.platform_status == str(code)
    assert (trade.completed_at is not None) == (ours == OrderStatus.COMPLETED)


def test_an_unpaid_order_has_paid_nothing():
    assert mapping.trade_from_douyin(shop_order(status=1)).paid_amount == Decimal("0.00")


def test_an_unknown_status_is_refused_naming_the_field():
    with pytest.raises(MalformedAnswer, match="shop_order.order_status has an unknown value 77"):
        mapping.trade_from_douyin(shop_order(status=77))


def test_receivers_keep_only_the_masked_copies():
    trade = mapping.trade_from_douyin(shop_order())
    assert (trade.receiver_name, trade.receiver_phone) == ("张**", "138****0000")
    assert (trade.receiver_province, trade.receiver_city, trade.receiver_district) == ("浙江省", "杭州市", "西湖区")
    assert trade.receiver_address == "文三路 1**号"
    assert "#ENC#" not in repr(trade) and "$ENC$" not in repr(trade)


def test_buyer_words_are_the_buyer_message():
    trade = mapping.trade_from_douyin(shop_order())
    assert trade.has_buyer_message and trade.buyer_message == "请尽快发货"


def test_a_page_with_one_bad_line_is_refused_whole():
    bad = shop_order(order_id="4923812345678901299")
    bad["sku_order_list"][0]["item_num"] = 0
    with pytest.raises(MalformedAnswer, match=r"shop_order_list\[1\].sku_order_list\[0\].item_num"):
        mapping.trades_from_page({"shop_order_list": [shop_order(), bad], "total": 2})


def test_a_negative_amount_is_refused():
    with pytest.raises(MalformedAnswer, match="shop_order.pay_amount"):
        mapping.trade_from_douyin(shop_order(pay_amount=-1))


@pytest.mark.parametrize("status,refund,ours", [(6, 1, RefundStatus.REQUESTED), (12, 3, RefundStatus.REFUNDED),
                                                (27, 1, RefundStatus.REJECTED), (28, 1, RefundStatus.NONE),
                                                (0, 3, RefundStatus.REFUNDED)])
def test_after_sales_map_to_refund_statuses(status, refund, ours):
    record = mapping.refund_from_douyin(aftersale(status=status, refund_status=refund))
    assert record.status == ours
    assert (record.refund_id, record.order_no, record.line_id) == (
        "7100000000000000001", "4923812345678901234", "4923812345678901235")


def test_a_line_under_after_sale_carries_its_refund_status():
    order = shop_order()
    order["sku_order_list"][0]["after_sale_info"] = {"after_sale_status": 12, "refund_status": 3}
    assert mapping.trade_from_douyin(order).lines[0].refund_status == RefundStatus.REFUNDED


def test_an_after_sale_without_its_order_is_refused():
    item = aftersale()
    del item["order_info"]
    with pytest.raises(MalformedAnswer, match=r"items\[0\].order_info"):
        mapping.refunds_from_page({"items": [item]})
