"""The sandbox TOP gateway (`/sandbox/top/router/rest`): checks a call the way TOP does, applies the
shop's faults, and answers from the sandbox's state in TOP's JSON shape (top-protocol.md).

A method is a handler `(shop, params, now) -> dict` (the answer without its request_id) in METHODS; it
raises TopError for a business or argument error.
"""
import json
import threading
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from datetime import timezone as dt_timezone
from decimal import Decimal

from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse
from django.utils import timezone
from django.views.decorators.csrf import csrf_exempt

from sync.marketplaces.top.signing import SIGN_METHODS, sign_matches
from sync.marketplaces.top.times import from_top, to_top

from . import faults, marketplace
from .models import (
    FINAL_TRADE_STATUSES, ApproveStatus, CallOutcome, RefundStatus, SandboxItem, SandboxRefund, SandboxShop,
    SandboxTrade, TradeStatus,
)

TIMESTAMP_SKEW = timedelta(minutes=10)
INCREMENT_SPAN = timedelta(days=1)
DEFAULT_TRADE_TYPES = "guarantee_trade,auto_delivery,ec,cod,step"
# Taobao files fixed-price (and auction) trades under guarantee_trade.
TYPE_ALIASES = {"guarantee_trade": {"guarantee_trade", "fixed", "auction"}}
STATUS_GROUPS = {
    "ALL_WAIT_PAY": [TradeStatus.WAIT_BUYER_PAY, TradeStatus.TRADE_NO_CREATE_PAY],
    "ALL_CLOSED": [TradeStatus.TRADE_CLOSED, TradeStatus.TRADE_CLOSED_BY_TAOBAO],
}
# README-fields: the list calls do not document these (fetch them with trade.fullinfo.get) ...
FULLINFO_ONLY = frozenset({"buyer_message", "buyer_memo", "seller_memo", "timeout_action_time"})
# ... and fullinfo does not document this one.
LIST_ONLY = frozenset({"has_buyer_message"})
LOGISTICS_COMPANIES = [
    {"id": 505, "code": "SF", "name": "顺丰速运", "reg_mail_no": "^SF[0-9]{13}$|^[0-9]{12}$"},
    {"id": 101, "code": "YTO", "name": "圆通速递", "reg_mail_no": "^YT[0-9]{13,17}$"},
    {"id": 500, "code": "ZTO", "name": "中通快递", "reg_mail_no": "^[0-9]{12,15}$"},
    {"id": 100, "code": "STO", "name": "申通快递", "reg_mail_no": "^[0-9]{12,15}$"},
    {"id": 102, "code": "YUNDA", "name": "韵达快递", "reg_mail_no": "^[0-9]{13,15}$"},
    {"id": 2, "code": "EMS", "name": "EMS", "reg_mail_no": "^[A-Z]{2}[0-9]{9}[A-Z]{2}$|^[0-9]{13}$"},
    {"id": 5000000110730, "code": "JD", "name": "京东物流", "reg_mail_no": "^JD[0-9A-Z]{11,13}$"},
    {"id": 5000000000011, "code": "DBL", "name": "德邦快递", "reg_mail_no": "^DPK[0-9]{12}$|^[0-9]{8,10}$"},
]


class TopError(Exception):
    """An answer in TOP's error envelope."""

    def __init__(self, code: int, msg: str, sub_code: str = "", sub_msg: str = ""):
        super().__init__(f"{code} {msg} {sub_code}")
        self.code, self.msg, self.sub_code, self.sub_msg = code, msg, sub_code, sub_msg

    def envelope(self) -> dict:
        fields = {"code": self.code, "msg": self.msg, "sub_code": self.sub_code, "sub_msg": self.sub_msg}
        return {key: value for key, value in fields.items() if value != ""}


@dataclass(frozen=True)
class Method:
    handler: Callable[[SandboxShop, dict, datetime], dict]
    needs_session: bool = True


@dataclass(frozen=True)
class Page:
    number: int
    size: int
    use_has_next: bool


# Calls being answered in this process. A client that timed out leaves its call running here (a slow
# answer sleeps on); tests wait for those to finish before the database is reset under them.
_in_flight = 0
_idle = threading.Condition()


def wait_until_idle(timeout: float = 30.0) -> bool:
    """Block until no call is being answered in this process; False if `timeout` passed first."""
    with _idle:
        return _idle.wait_for(lambda: _in_flight == 0, timeout=timeout)


@csrf_exempt
def router_rest(request: HttpRequest) -> HttpResponse:
    """Serve one TOP call (GET or POST; parameters from the query string and a form body, merged)."""
    global _in_flight
    with _idle:
        _in_flight += 1
    try:
        return _serve(request)
    finally:
        with _idle:
            _in_flight -= 1
            _idle.notify_all()


def _serve(request: HttpRequest) -> HttpResponse:
    params = {**request.GET.dict(), **request.POST.dict()}
    name = params.get("method", "")
    started = timezone.now()
    shop = SandboxShop.objects.filter(app_key=params["app_key"]).first() if params.get("app_key") else None
    plan = faults.Plan()
    try:
        method = _authenticate(params, shop, started)
        plan = faults.plan_call(shop, started)
        if plan.error:
            raise TopError(**plan.error)
        faults.pause(plan)
        answer = method.handler(shop, params, timezone.now())
        body, outcome, code = {_response_key(name): {**answer, "request_id": _request_id()}}, CallOutcome.OK, None
    except TopError as error:
        body = {"error_response": {**error.envelope(), "request_id": _request_id()}}
        outcome, code = (plan.outcome if plan.error else CallOutcome.ERROR), error.code
    if shop is not None:
        faults.record(shop, name, faults.outcome_of(plan, outcome), code, started)
    return faults.respond(json.dumps(body, ensure_ascii=False, separators=(",", ":")).encode(), plan)


def _authenticate(params: dict, shop: SandboxShop | None, now: datetime) -> Method:
    """The method to run, once the call passes TOP's checks in TOP's order; raises TopError otherwise."""
    name = params.get("method")
    if not name:
        raise TopError(21, "Missing Method")
    method = METHODS.get(name)
    if method is None:
        raise TopError(22, "Invalid Method", sub_msg=f"{name} is not served by this gateway")
    if shop is None:
        raise TopError(29, "Invalid app Key")
    try:
        stamp = _timestamp(params.get("timestamp", ""))
    except (ValueError, OverflowError, OSError):
        raise TopError(31, "Invalid Timestamp", sub_msg="timestamp must be yyyy-MM-dd HH:mm:ss (GMT+8) "
                                                        "or milliseconds since the epoch") from None
    if abs(now - stamp) > TIMESTAMP_SKEW:
        raise TopError(31, "Invalid Timestamp", sub_msg="timestamp is more than 10 minutes off the server time")
    if (params.get("sign_method") or "md5") not in SIGN_METHODS or not sign_matches(params, shop.app_secret):
        raise TopError(25, "Invalid Signature")
    if method.needs_session:
        if not params.get("session"):
            raise TopError(26, "Missing Session")
        if params["session"] != shop.session:
            raise TopError(27, "Invalid Session", "invalid-sessionkey", "the session key is not valid")
        if shop.session_expired:
            raise TopError(27, "Invalid Session", "session-expired", "the session has expired; authorize again")
    return method


def _timestamp(text: str) -> datetime:
    """The call's time: TOP's "yyyy-MM-dd HH:mm:ss" in GMT+8, or epoch milliseconds as the official SDKs send it
    (str(int(time.time() * 1000)) in top/api/base.py), which the production gateway accepts too."""
    text = str(text).strip()
    if text.isdigit() and len(text) >= 12:
        return datetime.fromtimestamp(int(text) / 1000, tz=dt_timezone.utc)
    return from_top(text)


# Trades and refunds

def _trades_sold_get(shop: SandboxShop, params: dict, now: datetime) -> dict:
    fields = _fields(params)
    trades = _trade_filter(SandboxTrade.objects.filter(shop=shop), params)
    start, end = _time(params, "start_created"), _time(params, "end_created")
    if start:
        trades = trades.filter(created__gte=start)
    if end:
        trades = trades.filter(created__lte=end)
    return _trade_page(trades.order_by("-created", "-tid"), _page(params), fields)


def _trades_sold_increment_get(shop: SandboxShop, params: dict, now: datetime) -> dict:
    fields = _fields(params)
    start, end = _time(params, "start_modified", required=True), _time(params, "end_modified", required=True)
    if end < start:
        raise _invalid("end_modified", "end_modified must not be before start_modified")
    if end - start > INCREMENT_SPAN:
        raise _invalid("end_modified", "start_modified to end_modified must not span more than one day")
    trades = _trade_filter(SandboxTrade.objects.filter(shop=shop, modified__range=(start, end)), params)
    page = _page(params)
    if page.number >= 2:
        faults.move_on_page(shop, trades, now)
    return _trade_page(trades.order_by("-modified", "-tid"), page, fields)


def _trade_fullinfo_get(shop: SandboxShop, params: dict, now: datetime) -> dict:
    fields = _fields(params)
    tid = _int(params, "tid")
    trade = SandboxTrade.objects.filter(shop=shop, tid=tid).first()
    if trade is None:
        raise TopError(15, "Remote service error", "isv.trade-not-exist", f"trade {tid} does not exist")
    return {"trade": _pick(_trade_shape(trade), fields, LIST_ONLY)}


def _refunds_receive_get(shop: SandboxShop, params: dict, now: datetime) -> dict:
    fields = _fields(params)
    refunds = SandboxRefund.objects.filter(shop=shop)
    start, end = _time(params, "start_modified"), _time(params, "end_modified")
    if start:
        refunds = refunds.filter(modified__gte=start)
    if end:
        refunds = refunds.filter(modified__lte=end)
    if status := params.get("status"):
        if status not in RefundStatus.values:
            raise _invalid("status", f"unknown refund status {status}")
        refunds = refunds.filter(status=status)
    page = _page(params)
    if page.number >= 2:
        faults.move_on_page(shop, refunds, now)
    rows, answer = _paged(refunds.select_related("trade").order_by("-modified", "-refund_id"), page)
    if rows:
        answer["refunds"] = {"refund": [_pick(_refund_shape(refund), fields) for refund in rows]}
    return answer


def _trade_filter(trades: QuerySet, params: dict) -> QuerySet:
    if buyer := params.get("buyer_nick", "").strip():
        trades = trades.filter(data__buyer_nick=buyer)
    types = set()
    for name in (params.get("type") or DEFAULT_TRADE_TYPES).split(","):
        types |= TYPE_ALIASES.get(name.strip(), {name.strip()})
    trades = trades.filter(type__in=types)
    status = params.get("status")
    if not status:
        return trades
    if status in STATUS_GROUPS:
        return trades.filter(status__in=STATUS_GROUPS[status])
    if status not in TradeStatus.values:
        raise _invalid("status", f"unknown trade status {status}")
    return trades.filter(status=status)


def _trade_page(trades: QuerySet, page: Page, fields: list[str]) -> dict:
    rows, answer = _paged(trades, page)
    if rows:
        answer["trades"] = {"trade": [_pick(_trade_shape(trade), fields, FULLINFO_ONLY) for trade in rows]}
    return answer


def _paged(rows: QuerySet, page: Page) -> tuple[list, dict]:
    """One page of `rows` and the paging fields: has_next, plus total_results unless use_has_next."""
    offset = (page.number - 1) * page.size
    if page.use_has_next:
        found = list(rows[offset: offset + page.size + 1])
        return found[: page.size], {"has_next": len(found) > page.size}
    total = rows.count()
    found = list(rows[offset: offset + page.size])
    return found, {"total_results": total, "has_next": offset + len(found) < total}


def _trade_shape(trade: SandboxTrade) -> dict:
    """Every field the sandbox holds for the trade, as TOP sends it."""
    shape = {
        "tid": trade.tid, "status": trade.status, "type": trade.type,
        "created": to_top(trade.created), "modified": to_top(trade.modified),
    }
    for name in ("pay_time", "consign_time", "end_time"):
        if moment := getattr(trade, name):
            shape[name] = to_top(moment)
    if trade.step_trade_status:
        shape["step_trade_status"] = trade.step_trade_status
    shape.update((key, value) for key, value in trade.data.items() if key != "orders")
    lines = []
    for line in trade.lines:
        line = dict(line)
        if trade.consign_time:
            line["consign_time"] = to_top(trade.consign_time)
        if trade.end_time and line["status"] in FINAL_TRADE_STATUSES:
            line["end_time"] = to_top(trade.end_time)
        lines.append(line)
    shape["orders"] = {"order": lines}
    return shape


def _refund_shape(refund: SandboxRefund) -> dict:
    trade = refund.trade
    line = next((line for line in trade.lines if line["oid"] == refund.oid), {})
    paid = Decimal(line.get("payment", "0.00"))
    return {
        "refund_id": str(refund.refund_id), "tid": refund.tid, "oid": refund.oid,
        "title": line.get("title", ""), "num": line.get("num", 0), "outer_id": line.get("outer_sku_id", ""),
        "sku": line.get("sku_properties_name", ""),
        "buyer_nick": trade.data.get("buyer_nick", ""), "seller_nick": trade.data.get("seller_nick", ""),
        "total_fee": line.get("total_fee", "0.00"), "refund_fee": marketplace.money(refund.refund_fee),
        "payment": marketplace.money(max(paid - refund.refund_fee, Decimal("0.00"))),
        "status": refund.status, "order_status": line.get("status", trade.status),
        "created": to_top(refund.created), "modified": to_top(refund.modified),
        "reason": refund.reason, "desc": "", "has_good_return": refund.has_good_return,
        "good_status": refund.good_status,
        "refund_phase": "aftersale" if trade.status == TradeStatus.TRADE_FINISHED else "onsale",
        "refund_version": int(refund.modified.timestamp() * 1000),
    }


def _pick(shape: dict, fields: list[str], excluded: frozenset = frozenset()) -> dict:
    """The requested fields of `shape`; `orders` brings whole lines, `orders.x` only those line fields."""
    wanted = {name for name in fields if "." not in name} - excluded
    picked = {key: value for key, value in shape.items() if key in wanted and key != "orders"}
    line_fields = {name.split(".", 1)[1] for name in fields if name.startswith("orders.")}
    if "orders" in shape and ("orders" in wanted or line_fields):
        lines = shape["orders"]["order"]
        if "orders" not in wanted:
            lines = [{key: value for key, value in line.items() if key in line_fields} for line in lines]
        picked["orders"] = {"order": lines}
    return picked


# TMC and logistics

def _tmc_user_permit(shop: SandboxShop, params: dict, now: datetime) -> dict:
    marketplace.tmc_permit(shop)
    return {"is_success": True}


def _tmc_messages_consume(shop: SandboxShop, params: dict, now: datetime) -> dict:
    quantity = _int(params, "quantity", default=100, low=10, high=200)
    messages = marketplace.messages_consume(shop, quantity=quantity, now=now)
    if not messages:
        return {}
    return {"messages": {"tmc_message": [
        {
            "id": message.id, "topic": message.topic, "user_id": shop.user_id, "user_nick": shop.nick,
            "content": message.content, "pub_time": to_top(message.pub_time),
            "pub_app_key": marketplace.PUBLISHER_APP_KEY,
        }
        for message in messages
    ]}}


def _tmc_messages_confirm(shop: SandboxShop, params: dict, now: datetime) -> dict:
    raw = params.get("s_message_ids", "")
    if not raw:
        raise _missing("s_message_ids")
    try:
        ids = [int(part) for part in raw.split(",") if part.strip()]
    except ValueError:
        raise _invalid("s_message_ids", "s_message_ids must be comma-separated message ids") from None
    if len(ids) > 200:
        raise _invalid("s_message_ids", "at most 200 message ids per call")
    marketplace.messages_confirm(shop, ids, now=now)
    return {"is_success": True}


def _logistics_companies_get(shop: SandboxShop, params: dict, now: datetime) -> dict:
    fields = _fields(params)
    return {"logistics_companies": {"logistics_company": [_pick(c, fields) for c in LOGISTICS_COMPANIES]}}


# Items, stock, prices and shipping (what a seller's program changes)

MAX_SKUS_PER_QUANTITY_CALL = 20
SKU_FIELDS = ("sku_id", "num_iid", "outer_id", "properties", "properties_name", "quantity", "price", "modified")


def _skus_custom_get(shop: SandboxShop, params: dict, now: datetime) -> dict:
    fields = _fields(params)
    outer_id = params.get("outer_id", "")
    if not outer_id:
        raise _missing("outer_id")
    skus = [_pick(_sku_shape(sku), fields) for sku in marketplace.skus_find(shop, outer_id)]
    return {"skus": {"sku": skus}} if skus else {}


def _skus_quantity_update(shop: SandboxShop, params: dict, now: datetime) -> dict:
    num_iid = _int(params, "num_iid")
    update_type = _int(params, "type", default=1, low=1, high=2)
    # README-fields: skuid_quantities wins; outerid_quantities is read only when it is empty.
    name, by = ("skuid_quantities", "sku_id") if params.get("skuid_quantities") else ("outerid_quantities", "outer_id")
    pairs = _quantities(params, name)
    if len(pairs) > MAX_SKUS_PER_QUANTITY_CALL:
        raise _invalid(name, f"at most {MAX_SKUS_PER_QUANTITY_CALL} SKUs per call")
    # A write that does not stick: answered with the quantity asked for, but not kept (shop.write_drop_rate).
    dropped = {key: value for key, value in pairs if update_type == 1 and faults.write_dropped(shop)}
    try:
        item = marketplace.sku_quantities_set(shop, num_iid, [p for p in pairs if p[0] not in dropped], by=by,
                                              delta=update_type == 2)
    except marketplace.Refused as refused:
        raise _refused(refused) from None
    skus = [{"sku_id": sku.sku_id,
             "quantity": dropped.get(str(sku.sku_id) if by == "sku_id" else sku.outer_sku_id, sku.quantity),
             "modified": to_top(sku.modified)} for sku in item.skus.order_by("sku_id")]
    return {"item": {"num_iid": item.num_iid, "iid": str(item.num_iid), "num": item.quantity,
                     "modified": to_top(item.modified), "skus": {"sku": skus}}}


def _item_quantity_update(shop: SandboxShop, params: dict, now: datetime) -> dict:
    """taobao.item.quantity.update: one SKU's stock (by sku_id, else outer_id), full (type 1) or delta (type 2).
    Every sandbox item has SKUs, so one must be named, as the real gateway asks for items with SKUs."""
    num_iid = _int(params, "num_iid")
    quantity = _int(params, "quantity", low=-999999999, high=999999999)
    update_type = _int(params, "type", default=1, low=1, high=2)
    if params.get("sku_id"):
        pair, by = (str(_int(params, "sku_id")), quantity), "sku_id"
    elif params.get("outer_id"):
        pair, by = (params["outer_id"], quantity), "outer_id"
    else:
        raise _missing("sku_id")
    try:
        item = marketplace.sku_quantities_set(shop, num_iid, [pair], by=by, delta=update_type == 2)
    except marketplace.Refused as refused:
        raise _refused(refused) from None
    sku = next(s for s in item.skus.all() if (str(s.sku_id) if by == "sku_id" else s.outer_sku_id) == pair[0])
    return {"item": {"num_iid": item.num_iid, "num": item.quantity, "modified": to_top(item.modified),
                     "skus": {"sku": [{"sku_id": sku.sku_id, "quantity": sku.quantity,
                                       "modified": to_top(sku.modified)}]}}}


def _item_sku_price_update(shop: SandboxShop, params: dict, now: datetime) -> dict:
    num_iid = _int(params, "num_iid")
    properties = params.get("properties", "")
    if not properties:
        raise _missing("properties")
    price = _price(params, "price")
    try:
        sku = marketplace.sku_price_set(shop, num_iid, properties, price)
    except marketplace.Refused as refused:
        raise _refused(refused) from None
    return {"sku": {"num_iid": num_iid, "iid": str(num_iid), "sku_id": sku.sku_id, "modified": to_top(sku.modified)}}


def _item_update_listing(shop: SandboxShop, params: dict, now: datetime) -> dict:
    num_iid = _int(params, "num_iid")
    _int(params, "num", low=1)
    return _listing(shop, num_iid, True)


def _item_update_delisting(shop: SandboxShop, params: dict, now: datetime) -> dict:
    return _listing(shop, _int(params, "num_iid"), False)


def _listing(shop: SandboxShop, num_iid: int, onsale: bool) -> dict:
    try:
        item = marketplace.item_listing_set(shop, num_iid, onsale)
    except marketplace.Refused as refused:
        raise _refused(refused) from None
    return {"item": {"num_iid": item.num_iid, "iid": str(item.num_iid), "modified": to_top(item.modified)}}


def _logistics_offline_send(shop: SandboxShop, params: dict, now: datetime) -> dict:
    tid = _int(params, "tid")
    out_sid = params.get("out_sid", "")
    if not out_sid:
        raise _missing("out_sid")
    code = params.get("company_code", "")
    if not code:
        raise _missing("company_code")
    company = next((c for c in LOGISTICS_COMPANIES if c["code"] == code), None)
    if company is None:
        raise TopError(15, "Remote service error", "isv.logistics-offline-service-error:B01",
                       f"unknown logistics company code {code}")
    try:
        marketplace.trade_ship_offline(shop, tid, out_sid=out_sid, company=company, at=now)
    except marketplace.Refused as refused:
        raise _refused(refused) from None
    return {"shipping": {"is_success": True}}


def _logistics_trace_search(shop: SandboxShop, params: dict, now: datetime) -> dict:
    try:
        return marketplace.trade_trace(shop, _int(params, "tid"), now=now)
    except marketplace.Refused as refused:
        raise _refused(refused) from None


# The shop's items, as a seller's program reads them (taobao.items.onsale.get / items.inventory.get list the
# item headers, taobao.item.seller.get gives one item with its SKUs).

ITEM_LIST_FIELDS = frozenset({
    "approve_status", "num_iid", "title", "nick", "type", "cid", "num", "price", "modified", "list_time",
    "delist_time", "outer_id", "sold_quantity",
})
ITEM_PAGE_SIZE_MAX = 200
ITEM_ORDER_BY = {"list_time": "num_iid", "delist_time": "num_iid", "num": "quantity", "modified": "modified"}


def _items_onsale_get(shop: SandboxShop, params: dict, now: datetime) -> dict:
    return _item_list(shop, params, ApproveStatus.ONSALE)


def _items_inventory_get(shop: SandboxShop, params: dict, now: datetime) -> dict:
    return _item_list(shop, params, ApproveStatus.INSTOCK)


def _item_list(shop: SandboxShop, params: dict, status: str) -> dict:
    fields = [name for name in _fields(params) if name in ITEM_LIST_FIELDS]
    items = SandboxItem.objects.filter(shop=shop, approve_status=status)
    if q := params.get("q", "").strip():
        items = items.filter(title__contains=q)
    start, end = _time(params, "start_modified"), _time(params, "end_modified")
    if start:
        items = items.filter(modified__gte=start)
    if end:
        items = items.filter(modified__lte=end)
    column, _sep, direction = (params.get("order_by") or "list_time:desc").partition(":")
    if column not in ITEM_ORDER_BY or direction not in ("asc", "desc", ""):
        raise _invalid("order_by", "order_by must be list_time, delist_time, num or modified with :asc or :desc")
    order = ITEM_ORDER_BY[column]
    items = items.order_by(order if direction == "asc" else f"-{order}", "num_iid")
    number = _int(params, "page_no", default=1, low=1)
    size = _int(params, "page_size", default=40, low=1, high=ITEM_PAGE_SIZE_MAX)
    rows, answer = _paged(items, Page(number=number, size=size, use_has_next=False))
    answer.pop("has_next")  # the item lists answer total_results only
    if rows:
        answer["items"] = {"item": [_pick(_item_shape(shop, item), fields) for item in rows]}
    return answer


def _item_seller_get(shop: SandboxShop, params: dict, now: datetime) -> dict:
    fields = _fields(params)
    num_iid = _int(params, "num_iid")
    item = SandboxItem.objects.filter(shop=shop, num_iid=num_iid).first()
    if item is None:
        raise TopError(15, "Remote service error", "isv.item-is-delete:invalid-numIid",
                       f"item {num_iid} does not exist in this shop")
    shape = _item_shape(shop, item)
    # "sku" (or "skus") brings whole SKUs, "sku.x" only those SKU fields, as TOP reads the fields list.
    sku_fields = {name.split(".", 1)[1] for name in fields if name.startswith("sku.")}
    whole = "sku" in fields or "skus" in fields
    picked = _pick(shape, fields)
    if whole or sku_fields:
        skus = [_sku_shape(sku) for sku in item.skus.select_related("item").order_by("sku_id")]
        if not whole:
            skus = [{key: value for key, value in sku.items() if key in sku_fields} for sku in skus]
        picked["skus"] = {"sku": skus}
    return {"item": picked}


def _item_shape(shop: SandboxShop, item: SandboxItem) -> dict:
    return {
        "num_iid": item.num_iid, "title": item.title, "nick": shop.nick, "type": "fixed", "cid": 50023722,
        "num": item.quantity, "price": marketplace.money(item.price), "approve_status": item.approve_status,
        "outer_id": item.outer_id, "modified": to_top(item.modified), "list_time": to_top(item.modified),
        "delist_time": to_top(item.modified + timedelta(days=7)), "sold_quantity": 0,
    }


def _sku_shape(sku) -> dict:
    return {
        "sku_id": sku.sku_id, "num_iid": sku.item.num_iid, "outer_id": sku.outer_sku_id,
        "properties": sku.properties, "properties_name": sku.properties_name, "quantity": sku.quantity,
        "price": marketplace.money(sku.price), "modified": to_top(sku.modified),
    }


def _quantities(params: dict, name: str) -> list[tuple[str, int]]:
    """`key:quantity;key:quantity` -> [(key, quantity)]."""
    raw = params.get(name, "")
    if not raw:
        raise _missing("skuid_quantities")
    pairs = []
    for part in raw.split(";"):
        if not part.strip():
            continue
        key, sep, quantity = part.rpartition(":")
        try:
            pairs.append((key.strip(), int(quantity)))
        except ValueError:
            raise _invalid(name, f"{name} must be key:quantity;key:quantity") from None
        if not sep or not key.strip():
            raise _invalid(name, f"{name} must be key:quantity;key:quantity")
    return pairs


def _price(params: dict, name: str) -> Decimal:
    raw = params.get(name, "")
    if raw == "":
        raise _missing(name)
    try:
        price = Decimal(raw)
    except ArithmeticError:
        raise _invalid(name, f"{name} must be an amount") from None
    if not price.is_finite() or price <= 0 or price.as_tuple().exponent < -2:
        raise _invalid(name, f"{name} must be a positive amount with at most 2 decimals")
    return price


def _refused(refused: "marketplace.Refused") -> TopError:
    return TopError(15, "Remote service error", refused.sub_code, str(refused))


METHODS: dict[str, Method] = {
    "taobao.trades.sold.get": Method(_trades_sold_get),
    "taobao.trades.sold.increment.get": Method(_trades_sold_increment_get),
    "taobao.trade.fullinfo.get": Method(_trade_fullinfo_get),
    "taobao.refunds.receive.get": Method(_refunds_receive_get),
    "taobao.tmc.user.permit": Method(_tmc_user_permit),
    # App-level calls: TOP does not ask for a seller session on these.
    "taobao.tmc.messages.consume": Method(_tmc_messages_consume, needs_session=False),
    "taobao.tmc.messages.confirm": Method(_tmc_messages_confirm, needs_session=False),
    "taobao.logistics.companies.get": Method(_logistics_companies_get, needs_session=False),
    # Not in reference/top-api (TOP's outer id -> SKU lookup); the connector needs the item's num_iid.
    "taobao.skus.custom.get": Method(_skus_custom_get),
    "taobao.items.onsale.get": Method(_items_onsale_get),
    "taobao.items.inventory.get": Method(_items_inventory_get),
    "taobao.item.seller.get": Method(_item_seller_get),
    "taobao.skus.quantity.update": Method(_skus_quantity_update),
    "taobao.item.quantity.update": Method(_item_quantity_update),
    "taobao.item.sku.price.update": Method(_item_sku_price_update),
    "taobao.item.update.listing": Method(_item_update_listing),
    "taobao.item.update.delisting": Method(_item_update_delisting),
    "taobao.logistics.offline.send": Method(_logistics_offline_send),
    "taobao.logistics.trace.search": Method(_logistics_trace_search),
}


# Parameters

def _fields(params: dict) -> list[str]:
    fields = [name.strip() for name in params.get("fields", "").split(",") if name.strip()]
    if not fields:
        raise _missing("fields")
    return fields


def _int(params: dict, name: str, *, default: int | None = None, low: int | None = None,
         high: int | None = None) -> int:
    raw = params.get(name, "")
    if raw == "":
        if default is None:
            raise _missing(name)
        return default
    try:
        value = int(raw)
    except ValueError:
        raise _invalid(name, f"{name} must be an integer") from None
    if (low is not None and value < low) or (high is not None and value > high):
        limits = f"between {low} and {high}" if high is not None else f"at least {low}"
        raise _invalid(name, f"{name} must be {limits}")
    return value


def _time(params: dict, name: str, *, required: bool = False) -> datetime | None:
    raw = params.get(name, "")
    if not raw:
        if required:
            raise _missing(name)
        return None
    try:
        return from_top(raw)
    except ValueError:
        raise _invalid(name, f"{name} must be yyyy-MM-dd HH:mm:ss") from None


def _page(params: dict) -> Page:
    return Page(
        number=_int(params, "page_no", default=1, low=1),
        size=_int(params, "page_size", default=40, low=1, high=100),
        use_has_next=params.get("use_has_next", "").lower() == "true",
    )


def _missing(name: str) -> TopError:
    return TopError(40, f"Missing required arguments:{name}", "isv.missing-parameter", f"{name} is required")


def _invalid(name: str, why: str) -> TopError:
    return TopError(41, f"Invalid arguments:{name}", "isv.invalid-parameter", why)


def _response_key(method: str) -> str:
    return method.removeprefix("taobao.").replace(".", "_") + "_response"


def _request_id() -> str:
    return uuid.uuid4().hex[:13]
