"""TOP trades -> our records: every check before anything is written."""
from decimal import Decimal

import pytest

from merchant.models import OrderStatus, RefundStatus
from sync.marketplaces.top.mapping import refund_from_top, trade_from_top, trades_from_page
from sync.errors import MalformedAnswer


def trade(**overrides):
    record = {
        "tid": 3000000000000001, "status": "WAIT_SELLER_SEND_GOODS", "type": "fixed",
        "created": "2026-03-01 10:00:00", "modified": "2026-03-01 10:05:00", "pay_time": "2026-03-01 10:01:00",
        "payment": "30.00", "total_fee": "25.00", "post_fee": "5.00", "discount_fee": "0.00",
        "buyer_nick": "buyer", "has_buyer_message": False, "receiver_name": "张三", "receiver_state": "广东省",
        "receiver_city": "广州市", "receiver_district": "天河区", "receiver_address": "某路 1 号",
        "receiver_mobile": "13800000000",
        "orders": {"order": [{"oid": 1, "outer_sku_id": "ERP-1", "num": 2, "price": "12.50", "payment": "25.00",
                              "title": "阿莫西林", "refund_status": "NO_REFUND"}]},
    }
    record.update(overrides)
    return record


def test_a_trade_maps_to_our_terms_with_utc_times():
    t = trade_from_top(trade())
    assert t.order_no == "3000000000000001"
    assert t.status == OrderStatus.AWAITING_SHIPMENT
    assert t.created_at.isoformat() == "2026-03-01T02:00:00+00:00"
    assert t.total_amount == Decimal("30.00") and t.paid_amount == Decimal("30.00")
    assert t.buyer_message is None  # a list answer never carries it
    assert t.lines[0].erp_product_id == "ERP-1" and t.lines[0].quantity == 2
    assert t.lines[0].refund_status == RefundStatus.NONE


def test_presale_is_recognised():
    t = trade_from_top(trade(type="step", step_trade_status="FRONT_PAID_FINAL_NOPAID", step_paid_fee="10.00"))
    assert t.is_presale and t.presale_status == "FRONT_PAID_FINAL_NOPAID"


@pytest.mark.parametrize("overrides, field", [
    ({"status": "SOMETHING_NEW"}, "status"),
    ({"modified": None}, "modified"),
    ({"modified": "yesterday"}, "modified"),
    ({"tid": ""}, "tid"),
    ({"payment": "12,5"}, "payment"),
    ({"orders": {}}, "orders"),
    ({"orders": {"order": [{"oid": 1, "num": 0}]}}, "num"),
    ({"orders": {"order": [{"oid": 1, "num": 1, "refund_status": "ODD"}]}}, "refund_status"),
    ({"step_trade_status": "HALF_PAID"}, "step_trade_status"),
])
def test_bad_trades_are_refused_naming_the_field(overrides, field):
    with pytest.raises(MalformedAnswer) as error:
        trade_from_top(trade(**overrides))
    assert field in str(error.value)


def test_one_bad_trade_refuses_the_whole_page():
    body = {"trades": {"trade": [trade(), trade(tid=2, status="??")]}}
    with pytest.raises(MalformedAnswer, match=r"trades\[1\]\.status"):
        trades_from_page(body)
    assert trades_from_page({"trades": {}}) == []
    assert trades_from_page({}) == []
    with pytest.raises(MalformedAnswer):
        trades_from_page({"trades": {"trade": "nope"}})


def test_refund_mapping():
    refund = refund_from_top({"refund_id": 9, "tid": 1, "oid": 2, "status": "SUCCESS",
                              "modified": "2026-03-01 10:00:00"})
    assert refund.status == RefundStatus.REFUNDED and refund.line_id == "2"
    with pytest.raises(MalformedAnswer, match="status"):
        refund_from_top({"refund_id": 9, "tid": 1, "oid": 2, "status": "X", "modified": "2026-03-01 10:00:00"})
