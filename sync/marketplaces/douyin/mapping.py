"""Douyin shop orders and after-sales -> plain records in our terms. Every check happens here, before anything is
written, so a malformed answer is refused whole (MalformedAnswer names the field), as TOP's mapping does.

Field names and meanings: zsmhub/doudian-sdk api/order_searchList/response/order_searchList_response.go (money in
fen: order_amount = goods + post_amount = pay_amount + promotion_amount; times epoch seconds; ids strings) and
api/afterSale_List/response/afterSale_List_response.go.

Receivers: the platform sends name, phone and street encrypted (encrypt_post_receiver, ...) with masked copies
(mask_post_receiver, 张**, 138****0000). We keep the masked copies for display and never decrypt
(/order/batchDecrypt is rate-limited and audited by the platform; the ERP prints waybills through the platform's
own e-waybill service, which takes the ciphertext). See docs/douyin.md.
"""
from datetime import UTC, datetime
from decimal import Decimal

from merchant.models import OrderStatus, RefundStatus
from sync.errors import MalformedAnswer
from sync.marketplaces.records import Line, Refund, Trade

STATUS = {
    1: OrderStatus.PENDING_PAYMENT,  # 待确认/待支付
    105: OrderStatus.AWAITING_SHIPMENT,  # 已支付
    2: OrderStatus.AWAITING_SHIPMENT,  # 备货中
    101: OrderStatus.PARTIALLY_SHIPPED,  # 部分发货
    3: OrderStatus.SHIPPED,  # 已发货（全部发货）
    4: OrderStatus.CANCELLED,  # 已取消
    5: OrderStatus.COMPLETED,  # 已完成（已收货）
}
# After-sale status (aftersale_status): 6 待商家同意, 7 待买家退货, 8 待商家发货, 11 待商家二次同意, 12 售后成功,
# 13/14 换货..., 27 商家一次拒绝, 28 售后失败/关闭, 29 商家二次拒绝 (afterSale_List_request.go).
AFTERSALE_STATUS = {
    0: RefundStatus.NONE,
    3: RefundStatus.REQUESTED, 6: RefundStatus.REQUESTED, 7: RefundStatus.REQUESTED, 8: RefundStatus.REQUESTED,
    11: RefundStatus.REQUESTED, 13: RefundStatus.REQUESTED,
    12: RefundStatus.REFUNDED, 14: RefundStatus.NONE,  # an exchange that succeeded refunds nothing
    27: RefundStatus.REJECTED, 29: RefundStatus.REJECTED,
    28: RefundStatus.NONE,  # closed: the buyer withdrew it, or it lapsed
}
# refund_status: 1 待退款, 2 退款中, 3 退款成功, 4 退款失败, 5 追缴成功.
REFUND_STATUS = {0: RefundStatus.NONE, 1: RefundStatus.REQUESTED, 2: RefundStatus.REQUESTED,
                 3: RefundStatus.REFUNDED, 4: RefundStatus.REJECTED, 5: RefundStatus.NONE}
FEN = Decimal("0.01")


def _require(record: dict, name: str, where: str):
    value = record.get(name)
    if value is None or value == "":
        raise MalformedAnswer(f"{where}.{name} is missing", code="missing-field")
    return value


def _int(record: dict, name: str, where: str, *, required=False, default=0) -> int:
    value = _require(record, name, where) if required else record.get(name)
    if value in (None, ""):
        return default
    if isinstance(value, (bool, float)):
        raise MalformedAnswer(f"{where}.{name} is not a whole number: {value!r}", code="bad-field")
    try:
        return int(str(value))
    except ValueError:
        raise MalformedAnswer(f"{where}.{name} is not a whole number: {value!r}", code="bad-field") from None


def _id(record: dict, name: str, where: str) -> str:
    """An id as the platform's text: 19 digits do not survive a float, so a float (or anything not digits) is
    refused rather than rounded."""
    value = _require(record, name, where)
    if isinstance(value, (float, bool)) or not str(value).isdigit():
        raise MalformedAnswer(f"{where}.{name} is not an id: {value!r}", code="bad-field")
    return str(value)


def _time(record: dict, name: str, where: str, *, required=False) -> datetime | None:
    seconds = _int(record, name, where, required=required)
    if not seconds:
        if required:
            raise MalformedAnswer(f"{where}.{name} is missing", code="missing-field")
        return None
    if seconds < 0 or seconds > 4102444800:  # not before 1970, not after 2100
        raise MalformedAnswer(f"{where}.{name} is not a time: {seconds!r}", code="bad-field")
    return datetime.fromtimestamp(seconds, tz=UTC)


def money(record: dict, name: str, where: str) -> Decimal:
    """Fen (a whole number) -> Decimal yuan with 2 places; missing -> 0.00."""
    fen = _int(record, name, where)
    if fen < 0:
        raise MalformedAnswer(f"{where}.{name} is not an amount: {fen!r}", code="bad-field")
    return (Decimal(fen) / 100).quantize(FEN)


def _text(value, limit: int) -> str:
    return "" if value is None else str(value)[:limit]


def _name(address: dict, part: str) -> str:
    value = address.get(part)
    return _text(value.get("name") if isinstance(value, dict) else value, 50)


def _spec(value) -> str:
    if isinstance(value, list):
        return ";".join(f"{s.get('name', '')}:{s.get('value', '')}" for s in value if isinstance(s, dict))[:100]
    return _text(value, 100)


def _line(record: dict, where: str) -> Line:
    line_id = _id(record, "order_id", where)
    quantity = _int(record, "item_num", where, required=True)
    if quantity <= 0:
        raise MalformedAnswer(f"{where}.item_num must be positive", code="bad-field")
    after_sale = record.get("after_sale_info") or {}
    if not isinstance(after_sale, dict):
        raise MalformedAnswer(f"{where}.after_sale_info is not an object", code="bad-field")
    refund = _refund_status(after_sale, f"{where}.after_sale_info")
    unit = money(record, "goods_price", where) if record.get("goods_price") not in (None, "") \
        else money(record, "origin_amount", where)
    amount = money(record, "pay_amount", where) if record.get("pay_amount") not in (None, "") else unit * quantity
    return Line(
        external_id=line_id, erp_product_id=_text(record.get("code"), 64),
        item_name=_text(record.get("product_name"), 200) or line_id, spec=_spec(record.get("spec")),
        quantity=quantity, unit_price=unit, amount=amount, refund_status=refund,
    )


def _refund_status(info: dict, where: str, status_key="after_sale_status") -> str:
    """Our refund status from an after-sale's status, falling back on its refund status. A buyer-cancelled
    after-sale keeps refund_status 1 while its status says closed (28): the after-sale status wins."""
    status = _int(info, status_key, where)
    if status:
        if status not in AFTERSALE_STATUS:
            raise MalformedAnswer(f"{where}.{status_key} has an unknown value {status!r}", code="unknown-status")
        return AFTERSALE_STATUS[status]
    refund = _int(info, "refund_status", where)
    if refund not in REFUND_STATUS:
        raise MalformedAnswer(f"{where}.refund_status has an unknown value {refund!r}", code="unknown-status")
    return REFUND_STATUS[refund]


def trade_from_douyin(record: dict, where: str = "shop_order") -> Trade:
    """One shop order -> Trade; raises MalformedAnswer naming the field."""
    if not isinstance(record, dict):
        raise MalformedAnswer(f"{where} is not an object", code="bad-list")
    order_no = _id(record, "order_id", where)
    code = _int(record, "order_status", where, required=True)
    if code not in STATUS:
        raise MalformedAnswer(f"{where}.order_status has an unknown value {code!r}", code="unknown-status")
    lines_in = record.get("sku_order_list")
    if not isinstance(lines_in, list) or not lines_in:
        raise MalformedAnswer(f"{where}.sku_order_list is missing or empty", code="missing-field")
    lines = [_line(r if isinstance(r, dict) else {}, f"{where}.sku_order_list[{i}]") for i, r in enumerate(lines_in)]
    status = STATUS[code]
    total = money(record, "order_amount", where)
    shipping = money(record, "post_amount", where)
    paid = money(record, "pay_amount", where)
    masked = record.get("mask_post_addr") if isinstance(record.get("mask_post_addr"), dict) else None
    address = masked or (record.get("post_addr") if isinstance(record.get("post_addr"), dict) else {})
    street = " ".join(p for p in (_name(address, "street"), _text(address.get("detail"), 250)) if p)
    words = _text(record.get("buyer_words"), 500)
    return Trade(
        order_no=order_no, status=status, platform_status=str(code), is_presale=False, presale_status="",
        created_at=_time(record, "create_time", where, required=True),
        modified_at=_time(record, "update_time", where, required=True),
        paid_at=_time(record, "pay_time", where), shipped_at=_time(record, "ship_time", where),
        completed_at=_time(record, "finish_time", where) if status == OrderStatus.COMPLETED else None,
        buyer_nick=_text(record.get("user_nick_name"), 100), has_buyer_message=bool(words),
        buyer_message=words if "buyer_words" in record else None,
        goods_amount=max(total - shipping, Decimal("0.00")), shipping_fee=shipping,
        discount_amount=money(record, "promotion_amount", where), total_amount=total,
        paid_amount=paid if status != OrderStatus.PENDING_PAYMENT else Decimal("0.00"),
        # Masked copies only (the module docstring says why); the ciphertexts stay on the platform.
        receiver_name=_text(record.get("mask_post_receiver"), 100),
        receiver_phone=_text(record.get("mask_post_tel"), 30),
        receiver_province=_name(address, "province")[:30], receiver_city=_name(address, "city"),
        receiver_district=_name(address, "town"), receiver_address=street[:300],
        lines=lines,
    )


def trades_from_page(data) -> list[Trade]:
    """All orders of a /order/searchList answer, or MalformedAnswer for the first bad one (then none are used)."""
    records = page_list(data, "shop_order_list")
    return [trade_from_douyin(r, f"shop_order_list[{i}]") for i, r in enumerate(records)]


def stamps_from_page(data) -> dict[str, datetime]:
    stamps = {}
    for i, record in enumerate(page_list(data, "shop_order_list")):
        where = f"shop_order_list[{i}]"
        if not isinstance(record, dict):
            raise MalformedAnswer(f"{where} is not an object", code="bad-list")
        stamps[_id(record, "order_id", where)] = _time(record, "update_time", where, required=True)
    return stamps


def page_list(data, name: str) -> list:
    if not isinstance(data, dict):
        raise MalformedAnswer("answer lacks data", code="missing-field")
    records = data.get(name)
    if records is None:
        return []
    if not isinstance(records, list):
        raise MalformedAnswer(f"data.{name} is not a list", code="bad-list")
    return records


def total_of(data) -> int | None:
    if not isinstance(data, dict) or data.get("total") in (None, ""):
        return None
    return _int(data, "total", "data")


def refund_from_douyin(item: dict, where: str = "items") -> Refund:
    """One /afterSale/List item ({aftersale_info, order_info}) -> Refund."""
    if not isinstance(item, dict):
        raise MalformedAnswer(f"{where} is not an object", code="bad-list")
    info, order = item.get("aftersale_info"), item.get("order_info")
    if not isinstance(info, dict):
        raise MalformedAnswer(f"{where}.aftersale_info is missing", code="missing-field")
    if not isinstance(order, dict):
        raise MalformedAnswer(f"{where}.order_info is missing", code="missing-field")
    related = order.get("related_order_info")
    if not isinstance(related, list) or not related or not isinstance(related[0], dict):
        raise MalformedAnswer(f"{where}.order_info.related_order_info is missing or empty", code="missing-field")
    status = _refund_status(info, f"{where}.aftersale_info", status_key="aftersale_status")
    return Refund(
        refund_id=_id(info, "aftersale_id", f"{where}.aftersale_info"),
        order_no=_id(order, "shop_order_id", f"{where}.order_info"),
        line_id=_id(related[0], "sku_order_id", f"{where}.order_info.related_order_info[0]"),
        status=status, platform_status=f"{_int(info, 'aftersale_status', where)}/{_int(info, 'refund_status', where)}",
        modified_at=_time(info, "update_time", f"{where}.aftersale_info", required=True),
    )


def refunds_from_page(data) -> list[Refund]:
    return [refund_from_douyin(r, f"items[{i}]") for i, r in enumerate(page_list(data, "items"))]
