"""One driver per marketplace for the contract tests: the same methods, each doing what a buyer, the seller or
the platform does in that platform's sandbox shop (its own marketplace.py functions), so test_contract.py reads
the same for every platform. Order numbers are our order_no strings; times are explicit."""
import time
from datetime import datetime, timedelta
from functools import partial
from typing import ClassVar

from django.utils import timezone

from merchant.models import AuditSource
from merchant.permissions import Actor
from sync import http
from sync.marketplaces.douyin import mapping as douyin_mapping
from sync.marketplaces.douyin.client import DouyinClient
from sync.marketplaces.douyin.sandbox import faults as douyin_faults
from sync.marketplaces.douyin.sandbox import gateway as douyin_gateway
from sync.marketplaces.douyin.sandbox import marketplace as douyin
from sync.marketplaces.douyin.sandbox.models import DouyinOrder, DouyinShop
from sync.marketplaces.douyin.tokens import token_obtain
from sync.marketplaces.top import mapping as top_mapping
from sync.marketplaces.top.client import TopClient
from sync.marketplaces.top.sandbox import faults as top_faults
from sync.marketplaces.top.sandbox import gateway as top_gateway
from sync.marketplaces.top.sandbox import marketplace as top
from sync.marketplaces.top.sandbox.models import SandboxShop, SandboxTrade
from sync.models import Connection, ConnectionKind
from sync.marketplaces.top.services import connection_create

BIG_BUDGET = 100_000  # calls per minute: the tests never wait on our own budget


def short_sleep(seconds: float) -> None:
    # Backoff stays real but short; a ban is still waited out, as the budget asks Redis until it ends.
    time.sleep(min(seconds, 0.02))


class TopDriver:
    kind = "top"
    # Our carrier code -> what the shop shows on a shipped trade (TOP takes our codes as they are).
    carriers: ClassVar[dict[str, str]] = {"YTO": "YTO"}
    # An expired session cannot be renewed by us: the owner must paste a new one, so the connection stops.
    expired_session_stops = True
    app_key, secret, session = "contract-top-app", "contract-top-secret", "contract-top-session"
    client_factory = staticmethod(partial(TopClient, sleep=short_sleep))

    def connect(self, live_server, merchant, products) -> Connection:
        self.shop = top.shop_create(app_key=self.app_key, app_secret=self.secret, session=self.session,
                                    nick="contract-shop")
        top.items_from_products(self.shop, [(p.erp_product_id, p.name, p.default_price, 100) for p in products])
        return connection_create(
            merchant=merchant, actor=Actor.system(AuditSource.SYSTEM), app_secret=self.secret, session=self.session,
            name="TOP contract shop", gateway_url=f"{live_server.url}/sandbox/top/router/rest",
            app_key=self.app_key, sign_method="hmac-sha256", calls_per_minute=BIG_BUDGET)

    def _trade(self, no: str) -> SandboxTrade:
        return SandboxTrade.objects.get(shop=self.shop, tid=int(no))

    def orders_generate(self, count: int, *, start: datetime, end: datetime, seed: int) -> None:
        top.trades_generate(self.shop, count, start=start, end=end, seed=seed)

    def order_new(self, lines, *, created: datetime) -> str:
        return str(top.trade_create(self.shop, lines=lines, created=created).tid)

    def order_cancel(self, no: str, *, at: datetime) -> None:
        top.trade_set_status(self._trade(no), "TRADE_CLOSED", at=at)

    def orders_theirs(self) -> dict[str, str]:
        """{order number: the platform's status} of every order of the shop."""
        return {str(t.tid): t.status for t in SandboxTrade.objects.filter(shop=self.shop)}

    def status_of(self, platform_status: str) -> str:
        return top_mapping.STATUS[platform_status]

    def order_ship_state(self, no: str) -> tuple[str, str] | None:
        trade = self._trade(no)
        if trade.consign_time is None:
            return None
        # Shipped trades name the carrier on their lines; the gateway's list turns the name back into its code.
        [line] = {(line["logistics_company"], line["invoice_no"]) for line in trade.lines}
        code = next(c["code"] for c in top_gateway.LOGISTICS_COMPANIES if c["name"] == line[0])
        return code, line[1]

    def refund_request(self, no: str, *, at: datetime):
        return top.refund_create(self._trade(no), at=at)

    def refund_succeed(self, refund, *, at: datetime) -> None:
        top.refund_set_status(refund, "SUCCESS", at=at)

    def stock_of(self, code: str) -> int:
        [sku] = top.skus_find(self.shop, code)
        return sku.quantity

    def faults(self, *, error: float = 0.0, drop: float = 0.0, slow: float = 0.0, slow_seconds: float = 0.05,
               malformed: float = 0.0, ban: int = 0, seed: int | None = None) -> None:
        """Fault rates of the shop's gateway; `ban` bans the next call for that many seconds."""
        if seed is not None:
            top_faults.seed(seed)
        SandboxShop.objects.filter(pk=self.shop.pk).update(
            error_rate=error, drop_rate=drop, slow_rate=slow, slow_seconds=slow_seconds, malformed_rate=malformed,
            ban_next_seconds=ban)

    def session_expire(self) -> None:
        SandboxShop.objects.filter(pk=self.shop.pk).update(session_expired=True)

    def session_current(self) -> str:
        """The session the shop accepts now."""
        return SandboxShop.objects.get(pk=self.shop.pk).session

    def wait_idle(self) -> bool:
        return top_gateway.wait_until_idle()


class DouyinDriver:
    kind = "douyin"
    carriers: ClassVar[dict[str, str]] = {"YTO": "yuantong"}
    # The access token is ours to refresh (refresh_token): the client refreshes it and repeats the call.
    expired_session_stops = False
    app_key, secret, shop_id = "7000000000000000099", "contract-douyin-secret", 88_000_099
    client_factory = staticmethod(partial(DouyinClient, sleep=short_sleep))

    def connect(self, live_server, merchant, products) -> Connection:
        self.shop = douyin.shop_create(app_key=self.app_key, app_secret=self.secret, shop_id=self.shop_id)
        douyin.products_from_codes(
            self.shop, [(p.erp_product_id, p.name, int(p.default_price * 100), 100) for p in products])
        connection = Connection(merchant=merchant, kind=ConnectionKind.DOUYIN, name="Douyin contract shop",
                                app_key=self.app_key, gateway_url=f"{live_server.url}/sandbox/douyin",
                                sign_method="hmac-sha256", shop_id=str(self.shop_id), calls_per_minute=BIG_BUDGET)
        connection.app_secret = self.secret
        connection.save()
        token_obtain(self.client_factory(connection))
        connection.save()  # token_obtain leaves the token on the connection; connection_add saves it so too
        return connection

    def _order(self, no: str) -> DouyinOrder:
        return DouyinOrder.objects.get(shop=self.shop, shop_order_id=no)

    def orders_generate(self, count: int, *, start: datetime, end: datetime, seed: int) -> None:
        douyin.orders_generate(self.shop, count, start=start, end=end, seed=seed)

    def order_new(self, lines, *, created: datetime) -> str:
        return douyin.order_create(self.shop, lines=lines, created=created).shop_order_id

    def order_cancel(self, no: str, *, at: datetime) -> None:
        douyin.order_cancel(self._order(no), at=at)

    def orders_theirs(self) -> dict[str, str]:
        return {o.shop_order_id: str(o.status) for o in DouyinOrder.objects.filter(shop=self.shop)}

    def status_of(self, platform_status: str) -> str:
        return douyin_mapping.STATUS[int(platform_status)]

    def order_ship_state(self, no: str) -> tuple[str, str] | None:
        order = self._order(no)
        if order.ship_time is None:
            return None
        return order.company_code, order.logistics_code

    def refund_request(self, no: str, *, at: datetime):
        return douyin.after_sale_create(self._order(no), at=at)

    def refund_succeed(self, after_sale, *, at: datetime) -> None:
        douyin.after_sale_settle(after_sale, success=True, at=at)

    def stock_of(self, code: str) -> int:
        return douyin.sku_find(self.shop, code=code).stock_num

    def faults(self, *, error: float = 0.0, drop: float = 0.0, slow: float = 0.0, slow_seconds: float = 0.05,
               malformed: float = 0.0, ban: int = 0, seed: int | None = None) -> None:
        """Fault rates of the shop's gateway; `ban` bans calls for that many seconds from now."""
        if seed is not None:
            douyin_faults.seed(seed)
        DouyinShop.objects.filter(pk=self.shop.pk).update(
            error_rate=error, drop_rate=drop, slow_rate=slow, slow_seconds=slow_seconds, malformed_rate=malformed,
            banned_until=timezone.now() + timedelta(seconds=ban) if ban else None)

    def session_expire(self) -> None:
        DouyinShop.objects.filter(pk=self.shop.pk).update(expire_token_next=True)

    def session_current(self) -> str:
        """The access token the shop accepts now."""
        return DouyinShop.objects.get(pk=self.shop.pk).access_token

    def wait_idle(self) -> bool:
        ok = douyin_gateway.wait_until_idle()
        http.session().close()
        return ok


DRIVERS = {"top": TopDriver, "douyin": DouyinDriver}
