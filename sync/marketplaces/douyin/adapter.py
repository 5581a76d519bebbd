"""The Douyin shop (抖店) behind the marketplace seam (sync.marketplaces.base): orders by update-time windows,
after-sales, stock by SKU code, logistics, and messages pushed to our callback URL (webhook.py).

Request fields as the official Go SDK declares them (zsmhub/doudian-sdk api/<method>/request/*.go):
order_searchList (update_time_start/end, page from 0, size <= 100, order_by, order_asc), order_orderDetail
(shop_order_id), afterSale_List (update_start_time/end, page from 0, size <= 100, order_by ["update_time asc"]),
sku_syncStock (code, stock_num, incremental, idempotent_id), order_logisticsAdd (order_id, company,
company_code, logistics_code, is_refund_reject), order_logisticsCompanyList.
"""
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from django.core.cache import cache
from django.utils import timezone
from django.utils.translation import gettext as _

from sync.errors import BusinessError, MalformedAnswer
from sync.marketplaces.base import (
    CHANNEL_PUSH,
    Marketplace,
    OrdersPage,
    RefundsPage,
    StampsPage,
    StockWrites,
    WindowPolicy,
)

from . import items, listing, mapping

PAGE_SIZE = 100  # searchList / afterSale/List: "每页数量，最多100个"
SEARCH = "/order/searchList"
DETAIL = "/order/orderDetail"
AFTERSALES = "/afterSale/List"
SYNC_STOCK = "/sku/syncStock"
STOCK_NUM = "/sku/stockNum"
CARRIERS = "/order/logisticsCompanyList"
SHIP = "/order/logisticsAdd"
CARRIERS_CACHED = 24 * 3600
# A SKU code the shop did not know is tried again after this (the seller may have added it).
RECHECK_MISSING = timedelta(hours=6)
SHIPPED_THERE = {"3", "5", "101"}
# Our carrier codes (TOP's list, merchant.Carrier) -> Douyin's where the two lists spell a carrier differently;
# anything else is matched by code, then by name, against /order/logisticsCompanyList.
CARRIER_ALIASES = {
    "SF": "shunfeng", "YTO": "yuantong", "ZTO": "zhongtong", "STO": "shentong", "YUNDA": "yunda",
    "EMS": "ems", "JD": "jd", "HTKY": "huitongkuaidi", "BEST": "huitongkuaidi", "DBL": "debangwuliu",
    "JTSD": "jtexpress", "POSTB": "youzhengguonei", "TTKDEX": "tiantian",
}


def _unix(moment: datetime) -> int:
    return int(moment.timestamp())


class DouyinMarketplace(Marketplace):
    platform = "douyin"
    # - max_window one day: the platform documents only the 90-day look-back and 100 per page; a day keeps a
    #   full pull at 90 windows while a busy shop's day still pages comfortably.
    # - settle 10 s: update_time has whole seconds and the list index lags the write a little; 60 s polls plus
    #   10 s keep a new order within the 75 s polling bar (push messages bring it sooner).
    # - overlap 3 min: late-indexed records are read again, and the upsert's version guard makes that free.
    # - backwards: pages are ordered by update_time ascending; an order modified while we page leaves the
    #   window (its new update_time is after the window's end) and every later record moves one place towards
    #   page 0. Read last page first, those moves go towards pages still to read, so nothing is skipped.
    windows = WindowPolicy(max_window=timedelta(days=1), settle=timedelta(seconds=10), overlap=timedelta(minutes=3),
                           page_size=PAGE_SIZE, backwards=True, full_days=90, refund_window=timedelta(days=1))
    # Full set by SKU code (no item mapping needed), one SKU per call; each call carries an idempotent_id so a
    # retried call is recognised by the platform.
    stock_writes = StockWrites(full=True, delta=False, batch=1, idempotent=True, by_code=True)
    channel = CHANNEL_PUSH
    tz = ZoneInfo("Asia/Shanghai")
    supports = frozenset({"logistics", "listing", "reconcile", "items", "stock_check"})

    # Orders and refunds (our pages count from 1, Douyin's from 0)

    def _search(self, *, by: str, start: datetime, end: datetime, page: int, read):
        field = "update_time" if by == "modified" else "create_time"
        params = {f"{field}_start": _unix(start), f"{field}_end": _unix(end), "page": page - 1, "size": PAGE_SIZE,
                  "order_by": field, "order_asc": True}
        return self.client.call_with_retry(SEARCH, params, read=read)

    def _has_next(self, page: int, count: int, total: int | None) -> bool:
        return page * PAGE_SIZE < total if total is not None else count == PAGE_SIZE

    def orders_page(self, *, by, start, end, page):
        trades, total = self._search(by=by, start=start, end=end, page=page,
                                     read=lambda d: (mapping.trades_from_page(d), mapping.total_of(d)))
        return OrdersPage(trades=trades, total=total, has_next=self._has_next(page, len(trades), total))

    def order_stamps(self, *, by, start, end, page):
        stamps, total = self._search(by=by, start=start, end=end, page=page,
                                     read=lambda d: (mapping.stamps_from_page(d), mapping.total_of(d)))
        return StampsPage(stamps=stamps, total=total, has_next=self._has_next(page, len(stamps), total))

    def order_detail(self, order_no):
        def read(data):
            if not isinstance(data, dict) or not isinstance(data.get("shop_order_detail"), dict):
                raise MalformedAnswer(f"answer to {DETAIL} lacks data.shop_order_detail", code="missing-field")
            return mapping.trade_from_douyin(data["shop_order_detail"], "shop_order_detail")

        return self.client.call_with_retry(DETAIL, {"shop_order_id": str(order_no)}, read=read)

    def refunds_page(self, *, start, end, page):
        params = {"update_start_time": _unix(start), "update_end_time": _unix(end), "page": page - 1,
                  "size": PAGE_SIZE, "order_by": ["update_time asc"]}

        def read(data):
            refunds = mapping.refunds_from_page(data)
            more = data.get("has_more")
            return refunds, mapping.total_of(data), more if isinstance(more, bool) else None

        refunds, total, more = self.client.call_with_retry(AFTERSALES, params, read=read)
        has_next = more if more is not None else self._has_next(page, len(refunds), total)
        return RefundsPage(refunds=refunds, total=total, has_next=has_next)

    # Writes

    def push(self, work, kind, rows):
        if kind == "stock":
            self._push_stock(work, rows)
        elif kind == "logistics":
            self._push_logistics(work, rows)
        elif kind == "listing":
            listing.push_listing(work, self.connection, rows)
        else:
            # Prices are not offered for Douyin (supports): settled without a call.
            for row in rows:
                work.skip(row)

    def _push_stock(self, work, rows):
        from sync.models import MappingLink, MarketplaceSku
        from sync.stock_rules import offered_quantities

        connection = self.connection
        links = {link.product_id: link for link in MarketplaceSku.objects.filter(
            connection=connection, product_id__in=[row.product_id for row in rows])}
        wanted = []
        for row in rows:
            link = links.get(row.product_id)
            if link is not None and not link.found and (
                    link.link != MappingLink.AUTO or work.now - link.checked_at < RECHECK_MISSING):
                work.skip(row)  # not in this shop (or unlinked by hand): not a failure
            else:
                wanted.append(row)
        offers = offered_quantities(connection.pk, [row.product for row in wanted], work.merchant)
        for row in wanted:
            code, quantity = row.product.erp_product_id, offers[row.product_id].pushed
            params = {"code": code, "stock_num": quantity, "incremental": False,
                      # The same row, generation and attempt -> the same id: a call repeated after a lost answer
                      # is one the platform has seen; a later change or attempt gets a new one.
                      "idempotent_id": f"mh-{row.pk}-{row.claimed_generation}-{row.attempts}"}
            try:
                work.call(SYNC_STOCK, params)
            except BusinessError as exc:
                there = self._stock_there(work, code)
                if there is None:
                    self._mark(row, found=False, now=work.now)
                    work.skip(row)
                elif there == quantity:
                    work.ack(row, quantity)  # a repeat of a call that had already landed
                else:
                    work.fail(row, str(exc), permanent=True)
                continue
            self._mark(row, found=True, now=work.now)
            work.ack(row, quantity)

    def _stock_there(self, work, code: str) -> int | None:
        """The shop's stock of the SKU `code`; None when the shop has no such SKU."""
        def read(data):
            try:
                return int(data["stock_num"])
            except (KeyError, TypeError, ValueError):
                raise MalformedAnswer(f"answer to {STOCK_NUM} lacks data.stock_num", code="missing-field") from None

        try:
            return work.call(STOCK_NUM, {"code": code}, read=read)
        except BusinessError:
            return None

    def _mark(self, row, *, found: bool, now) -> None:
        from sync.models import MappingLink, MarketplaceSku

        # A link made by hand keeps its kind; only what the push learned changes.
        MarketplaceSku.objects.update_or_create(
            connection=self.connection, product_id=row.product_id, defaults={"found": found, "checked_at": now},
            create_defaults={"found": found, "checked_at": now, "link": MappingLink.AUTO})

    def carriers(self) -> dict[str, str]:
        """{code: name} of Douyin's carriers, cached a day per connection (the list rarely changes)."""
        key = f"mh:douyin:carriers:{self.connection.pk}"
        known = cache.get(key)
        if known is None:
            def read(data):
                if not isinstance(data, list):
                    raise MalformedAnswer(f"answer to {CARRIERS} is not a list", code="bad-list")
                return {str(c["code"]): str(c.get("name") or "") for c in data if isinstance(c, dict) and c.get("code")}

            known = self.client.call_with_retry(CARRIERS, {}, read=read)
            cache.set(key, known, CARRIERS_CACHED)
        return known

    def carrier_code(self, carrier) -> str:
        """Douyin's code for our carrier ("" when it has none)."""
        known = self.carriers()
        by_lower = {code.lower(): code for code in known}
        for candidate in (carrier.code, CARRIER_ALIASES.get(carrier.code.upper(), "")):
            if candidate and candidate.lower() in by_lower:
                return by_lower[candidate.lower()]
        names = {name: code for code, name in known.items() if name}
        return names.get(carrier.name, "")

    def _push_logistics(self, work, rows):
        for row in rows:
            order = row.order
            if order.carrier is None or not order.tracking_no:
                work.fail(row, _("the order has no carrier or tracking number"), permanent=True)
                continue
            if not order.order_no.isdigit():
                work.fail(row, _("%(no)s is not a marketplace trade id") % {"no": order.order_no}, permanent=True)
                continue
            company = self.carrier_code(order.carrier)
            if not company:
                work.fail(row, _("Douyin has no carrier matching %(carrier)s") % {"carrier": order.carrier},
                          permanent=True)
                continue
            value = f"{order.carrier.code} {order.tracking_no}"
            params = {"order_id": order.order_no, "company_code": company, "logistics_code": order.tracking_no,
                      "is_refund_reject": False}
            try:
                work.call(SHIP, params)
            except BusinessError as exc:
                # Sent by a run that died before recording it? Then the order is shipped there already.
                try:
                    status = self.order_detail(order.order_no).platform_status
                except BusinessError:
                    status = ""
                if status in SHIPPED_THERE:
                    work.ack(row, value)
                else:
                    work.fail(row, str(exc), permanent=True)
                continue
            work.ack(row, value)

    # The shop's products (item mapping, stock check): items.py

    def items_all(self, *, onsale, on_page=None):
        headers = items.items_all(self.client, onsale=onsale, on_page=on_page)
        # /sku/list carries no product name or time: item_get takes them from the list just read.
        self._headers = {**getattr(self, "_headers", {}), **{h.num_iid: h for h in headers}}
        return headers

    def item_get(self, item_id, *, onsale=True):
        return items.item_get(self.client, item_id, header=getattr(self, "_headers", {}).get(int(item_id)),
                              onsale=onsale)

    def test_call(self) -> str:
        """One order search of the last five minutes; returns the answer's log_id."""
        now = timezone.now()
        self.client.call_with_retry(SEARCH, {"create_time_start": _unix(now - timedelta(minutes=5)),
                                             "create_time_end": _unix(now), "page": 0, "size": 1})
        return self.client.last_request_id
