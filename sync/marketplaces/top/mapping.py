"""TOP trades and refunds -> plain records in our terms. Every check happens here, before anything is
written, so a malformed answer is refused whole (MalformedAnswer names the field) and never half-applied."""
from datetime import datetime
from decimal import Decimal, InvalidOperation

from merchant.models import OrderStatus, PresaleStage, RefundStatus
from sync.errors import MalformedAnswer
from sync.marketplaces.records import Line, Refund, Trade

from .times import from_top

STATUS = {
    "TRADE_NO_CREATE_PAY": OrderStatus.PENDING_PAYMENT,
    "WAIT_BUYER_PAY": OrderStatus.PENDING_PAYMENT,
    "PAY_PENDING": OrderStatus.PENDING_PAYMENT,
    "WAIT_PRE_AUTH_CONFIRM": OrderStatus.PENDING_PAYMENT,
    "WAIT_SELLER_SEND_GOODS": OrderStatus.AWAITING_SHIPMENT,
    "PAID_FORBID_CONSIGN": OrderStatus.AWAITING_SHIPMENT,
    "SELLER_CONSIGNED_PART": OrderStatus.PARTIALLY_SHIPPED,
    "WAIT_BUYER_CONFIRM_GOODS": OrderStatus.SHIPPED,
    "TRADE_BUYER_SIGNED": OrderStatus.SHIPPED,
    "TRADE_FINISHED": OrderStatus.COMPLETED,
    "TRADE_CLOSED": OrderStatus.CANCELLED,
    "TRADE_CLOSED_BY_TAOBAO": OrderStatus.CANCELLED,
}
REFUND_STATUS = {
    "": RefundStatus.NONE,
    "NO_REFUND": RefundStatus.NONE,
    "CLOSED": RefundStatus.NONE,  # the buyer withdrew it, or it lapsed
    "WAIT_SELLER_AGREE": RefundStatus.REQUESTED,
    "WAIT_BUYER_RETURN_GOODS": RefundStatus.REQUESTED,
    "WAIT_SELLER_CONFIRM_GOODS": RefundStatus.REQUESTED,
    "SELLER_REFUSE_BUYER": RefundStatus.REJECTED,
    "SUCCESS": RefundStatus.REFUNDED,
}
# trades.sold.get documents three stages, trade.fullinfo.get a fourth (the deposit forfeited).
PRESALE_STAGES = set(PresaleStage.values)

# What the list calls are asked for: everything we store except buyer_message, which only
# trade.fullinfo.get returns (the list says has_buyer_message, so details are fetched only then).
TRADE_FIELDS = (
    "tid,status,type,created,modified,pay_time,consign_time,end_time,payment,total_fee,post_fee,"
    "discount_fee,adjust_fee,buyer_nick,has_buyer_message,step_trade_status,step_paid_fee,"
    "receiver_name,receiver_state,receiver_city,receiver_district,receiver_town,receiver_address,"
    "receiver_mobile,receiver_phone,orders"
)
# timeout_action_time (订单超时到期时间) is only in trade.fullinfo.get: on a presale whose deposit is paid it is
# when the balance falls due, after which the marketplace closes the trade.
DETAIL_FIELDS = TRADE_FIELDS + ",buyer_message,seller_memo,timeout_action_time"
REFUND_FIELDS = "refund_id,tid,oid,status,refund_fee,created,modified,reason,has_good_return,good_status"


def _require(record: dict, name: str, where: str):
    value = record.get(name)
    if value is None or value == "":
        raise MalformedAnswer(f"{where}.{name} is missing", code="missing-field")
    return value


def _time(record: dict, name: str, where: str, required=False) -> datetime | None:
    value = _require(record, name, where) if required else record.get(name)
    if value in (None, ""):
        return None
    try:
        return from_top(value)
    except (TypeError, ValueError):
        raise MalformedAnswer(f"{where}.{name} is not a time: {value!r}", code="bad-field") from None


def _money(record: dict, name: str, where: str) -> Decimal:
    value = record.get(name)
    if value in (None, ""):
        return Decimal("0.00")
    try:
        amount = Decimal(str(value))
    except InvalidOperation:
        raise MalformedAnswer(f"{where}.{name} is not an amount: {value!r}", code="bad-field") from None
    if not amount.is_finite() or amount < 0:
        raise MalformedAnswer(f"{where}.{name} is not an amount: {value!r}", code="bad-field")
    return amount.quantize(Decimal("0.01"))


def _text(record: dict, name: str, limit: int) -> str:
    value = record.get(name)
    return "" if value is None else str(value)[:limit]


def unwrap_list(container, item_name: str) -> list:
    """`{"trade": [...]}` -> the list; `{}` or absent -> []; anything else is malformed."""
    if container in (None, {}, ""):
        return []
    if not isinstance(container, dict) or not isinstance(container.get(item_name, []), list):
        raise MalformedAnswer(f"list of {item_name} has an unexpected shape", code="bad-list")
    return container.get(item_name, [])


def _line(order: dict, where: str) -> Line:
    oid = str(_require(order, "oid", where))
    try:
        quantity = int(_require(order, "num", where))
    except (TypeError, ValueError):
        raise MalformedAnswer(f"{where}.num is not a whole number", code="bad-field") from None
    if quantity <= 0:
        raise MalformedAnswer(f"{where}.num must be positive", code="bad-field")
    refund = str(order.get("refund_status") or "")
    if refund not in REFUND_STATUS:
        raise MalformedAnswer(f"{where}.refund_status has an unknown value {refund!r}", code="unknown-status")
    price = _money(order, "price", where)
    amount = _money(order, "payment", where) if order.get("payment") not in (None, "") else (price * quantity)
    return Line(
        external_id=oid,
        erp_product_id=_text(order, "outer_sku_id", 64) or _text(order, "outer_iid", 64),
        item_name=_text(order, "title", 200) or oid,
        spec=_text(order, "sku_properties_name", 100),
        quantity=quantity, unit_price=price, amount=amount, refund_status=REFUND_STATUS[refund],
    )


def trade_from_top(record: dict, where: str = "trade") -> Trade:
    """One TOP trade -> Trade; raises MalformedAnswer naming the field."""
    if not isinstance(record, dict):
        raise MalformedAnswer(f"{where} is not an object", code="bad-list")
    tid = _require(record, "tid", where)
    platform_status = str(_require(record, "status", where))
    if platform_status not in STATUS:
        raise MalformedAnswer(f"{where}.status has an unknown value {platform_status!r}", code="unknown-status")
    stage = _text(record, "step_trade_status", 40)
    if stage and stage not in PRESALE_STAGES:
        raise MalformedAnswer(f"{where}.step_trade_status has an unknown value {stage!r}", code="unknown-status")
    orders = unwrap_list(record.get("orders"), "order")
    if not orders:
        raise MalformedAnswer(f"{where}.orders is missing or empty", code="missing-field")
    lines = [_line(o, f"{where}.orders[{i}]") for i, o in enumerate(orders)]
    status = STATUS[platform_status]
    goods = _money(record, "total_fee", where)
    shipping = _money(record, "post_fee", where)
    discount = _money(record, "discount_fee", where)
    payment = _money(record, "payment", where)
    end_time = _time(record, "end_time", where)
    has_message = str(record.get("has_buyer_message", "")).lower() == "true" or bool(record.get("buyer_message"))
    is_presale = str(record.get("type") or "") == "step"
    balance_due = (_time(record, "timeout_action_time", where)
                   if is_presale and stage == PresaleStage.DEPOSIT_PAID else None)
    address = " ".join(p for p in (_text(record, "receiver_town", 50), _text(record, "receiver_address", 250)) if p)
    return Trade(
        order_no=str(tid), status=status, platform_status=platform_status,
        is_presale=is_presale, presale_status=stage, presale_balance_due_at=balance_due,
        created_at=_time(record, "created", where, required=True),
        modified_at=_time(record, "modified", where, required=True),
        paid_at=_time(record, "pay_time", where), shipped_at=_time(record, "consign_time", where),
        completed_at=end_time if status == OrderStatus.COMPLETED else None,
        buyer_nick=_text(record, "buyer_nick", 100), has_buyer_message=has_message,
        buyer_message=_text(record, "buyer_message", 500) if "buyer_message" in record else None,
        goods_amount=goods, shipping_fee=shipping, discount_amount=discount,
        total_amount=goods + shipping - discount if goods else payment,
        paid_amount=payment if status != OrderStatus.PENDING_PAYMENT else Decimal("0.00"),
        receiver_name=_text(record, "receiver_name", 100),
        receiver_phone=_text(record, "receiver_mobile", 30) or _text(record, "receiver_phone", 30),
        receiver_province=_text(record, "receiver_state", 30), receiver_city=_text(record, "receiver_city", 50),
        receiver_district=_text(record, "receiver_district", 50), receiver_address=address[:300],
        lines=lines,
    )


def trades_from_page(body: dict, list_name="trades") -> list[Trade]:
    """All trades of a list answer, or MalformedAnswer for the first bad one (then none are used)."""
    records = unwrap_list(body.get(list_name), "trade")
    return [trade_from_top(r, f"trades[{i}]") for i, r in enumerate(records)]


def refund_from_top(record: dict, where: str = "refund") -> Refund:
    if not isinstance(record, dict):
        raise MalformedAnswer(f"{where} is not an object", code="bad-list")
    status = str(_require(record, "status", where))
    if status not in REFUND_STATUS:
        raise MalformedAnswer(f"{where}.status has an unknown value {status!r}", code="unknown-status")
    return Refund(
        refund_id=str(_require(record, "refund_id", where)), order_no=str(_require(record, "tid", where)),
        line_id=str(_require(record, "oid", where)), status=REFUND_STATUS[status], platform_status=status,
        modified_at=_time(record, "modified", where, required=True),
    )


def total_results(body: dict) -> int:
    try:
        return int(body.get("total_results") or 0)
    except (TypeError, ValueError):
        raise MalformedAnswer("total_results is not a number", code="bad-field") from None
