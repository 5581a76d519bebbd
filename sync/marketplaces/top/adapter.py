"""Taobao/Tmall (TOP) behind the marketplace seam: which TOP method answers each of the pipelines' questions, with
the parameters TOP wants (top-protocol.md)."""
import json
from datetime import datetime, timedelta

from sync.errors import MalformedAnswer
from sync.marketplaces.base import CHANNEL_POLL, Marketplace, Message, OrdersPage, RefundsPage, StampsPage, StockWrites
from sync.marketplaces.base import WindowPolicy

from . import items, mapping, push, trace
from .times import TOP_TZ, from_top, to_top

PAGE_SIZE = 100
# trades.sold.get returns only some types unless asked (top-protocol.md); we want every order.
TRADE_TYPES = "fixed,guarantee_trade,auto_delivery,ec,cod,step"
INCREMENT = "taobao.trades.sold.increment.get"
SOLD = "taobao.trades.sold.get"
FULLINFO = "taobao.trade.fullinfo.get"
REFUNDS = "taobao.refunds.receive.get"
CONSUME = "taobao.tmc.messages.consume"
CONFIRM = "taobao.tmc.messages.confirm"
PERMIT = "taobao.tmc.user.permit"
TOPIC_PREFIXES = ("taobao_trade_", "taobao_refund_")
STAMP_FIELDS = "tid,modified"


def _params(by: str, start: datetime, end: datetime) -> tuple[str, dict]:
    if by == "modified":
        return INCREMENT, {"start_modified": to_top(start), "end_modified": to_top(end)}
    if by == "created":
        return SOLD, {"start_created": to_top(start), "end_created": to_top(end), "type": TRADE_TYPES,
                      "use_has_next": "true"}
    raise ValueError(f"orders are listed by modified or created time, not {by!r}")


def _has_next(body: dict) -> bool:
    return str(body.get("has_next", "false")).lower() == "true"


def _trades_page(body: dict) -> OrdersPage:
    return OrdersPage(mapping.trades_from_page(body), mapping.total_results(body), _has_next(body))


def _stamps(body: dict) -> dict:
    try:
        records = mapping.unwrap_list(body.get("trades"), "trade")
        return {str(r["tid"]): from_top(r["modified"]) for r in records}
    except (KeyError, TypeError, ValueError):
        raise MalformedAnswer("a trade lacks tid or modified", code="missing-field") from None


def _refunds(body: dict) -> RefundsPage:
    records = mapping.unwrap_list(body.get("refunds"), "refund")
    refunds = [mapping.refund_from_top(r, f"refunds[{i}]") for i, r in enumerate(records)]
    return RefundsPage(refunds, mapping.total_results(body), _has_next(body))


def _message(record) -> Message:
    if not isinstance(record, dict) or not str(record.get("id", "")).isdigit():
        return Message(None, "", "", False)
    try:
        content = json.loads(record.get("content") or "{}")
    except (TypeError, json.JSONDecodeError):
        content = {}
    order_no = str(content.get("tid") or "") if isinstance(content, dict) else ""
    topic = str(record.get("topic", ""))
    return Message(int(record["id"]), topic[:80], order_no, bool(order_no) and topic.startswith(TOPIC_PREFIXES))


class TopMarketplace(Marketplace):
    platform = "top"
    # Incremental windows of at most 30 minutes, paged last page first, ending 5 s before now, looking 5 minutes
    # back for trades indexed late (top-protocol.md: increment.get spans at most a day; pages shift while read).
    windows = WindowPolicy(max_window=timedelta(minutes=30), settle=timedelta(seconds=5),
                           overlap=timedelta(minutes=5), page_size=PAGE_SIZE, backwards=True)
    # skus.quantity.update: full quantities ("type=1"), up to 20 SKUs of one item per call, by num_iid + sku_id.
    stock_writes = StockWrites(full=True, delta=False, batch=push.SKUS_PER_CALL, idempotent=False, by_code=False)
    channel = CHANNEL_POLL
    tz = TOP_TZ
    supports = frozenset({"price", "listing", "logistics", "items", "stock_check", "trace", "reconcile"})

    def orders_page(self, *, by, start, end, page):
        method, params = _params(by, start, end)
        if by == "modified" and page == 1:
            # The first page tells the total (the pager reads backwards from it) only without has_next.
            params["use_has_next"] = "false"
        return self.client.call_with_retry(method, {**params, "fields": mapping.TRADE_FIELDS, "page_no": page,
                                                    "page_size": PAGE_SIZE}, read=_trades_page)

    def order_stamps(self, *, by, start, end, page):
        method, params = _params(by, start, end)
        if by == "modified":
            params["use_has_next"] = "false"

        def read(body):
            stamps = _stamps(body)
            total = None if by == "created" else mapping.total_results(body)
            return StampsPage(stamps, total, _has_next(body) if by == "created" else page * PAGE_SIZE < total)

        return self.client.call_with_retry(method, {**params, "fields": STAMP_FIELDS, "page_no": page,
                                                    "page_size": PAGE_SIZE}, read=read)

    def order_detail(self, order_no):
        return self.client.call_with_retry(FULLINFO, {"tid": order_no, "fields": mapping.DETAIL_FIELDS},
                                           read=lambda body: mapping.trade_from_top(body.get("trade"), "trade"))

    def refunds_page(self, *, start, end, page):
        params = {"start_modified": to_top(start), "end_modified": to_top(end), "use_has_next": "false",
                  "fields": mapping.REFUND_FIELDS, "page_no": page, "page_size": PAGE_SIZE}
        return self.client.call_with_retry(REFUNDS, params, read=_refunds)

    def messages_permit(self):
        self.client.call_with_retry(PERMIT, {})

    def messages_take(self, quantity):
        return self.client.call_with_retry(CONSUME, {"quantity": quantity}, read=lambda body: [
            _message(m) for m in mapping.unwrap_list(body.get("messages"), "tmc_message")])

    def messages_confirm(self, message_ids):
        self.client.call_with_retry(CONFIRM, {"s_message_ids": ",".join(str(i) for i in message_ids)})

    def push(self, work, kind, rows):
        push.push(work, kind, rows)

    def items_all(self, *, onsale, on_page=None):
        return items.items_all(self.client, onsale=onsale, on_page=on_page)

    def item_get(self, item_id, *, onsale=True):
        return items.item_get(self.client, item_id, onsale=onsale)

    def trace_of(self, order_no):
        return trace.trace_search(self.client, int(order_no))

    def test_call(self):
        now = datetime.now(TOP_TZ)
        body = self.client.call(INCREMENT, {
            "fields": "tid", "start_modified": to_top(now - timedelta(minutes=1)), "end_modified": to_top(now),
            "page_size": 1, "page_no": 1,
        })
        return str(body.get("request_id") or "")
