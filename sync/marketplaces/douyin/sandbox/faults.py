"""Faults on demand: what a shop's fault settings do to the gateway call being served, answered with Douyin's
codes (douyin-protocol.md: 20000/20001 retryable, 60000 isp.traffic-limited, 40003 isv.access-token-expired).

Rates draw from one module-level Random that `seed(n)` makes repeatable. The one-shot switches (`fail_next`,
`expire_token_next`) are claimed with conditional updates, so two server processes never both spend one. The
ban counts calls in the database because the gateway may run in several processes.
"""
import math
import random
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from django.db.models import F, QuerySet

from sync.marketplaces.top.sandbox.faults import pause, respond  # generic HTTP plumbing (slow, cut short)

from . import marketplace
from .models import (
    FINAL_AFTER_SALE_STATUSES, CallOutcome, DouyinAfterSale, DouyinCall, DouyinOrder, DouyinShop, OrderStatus,
)

SERVICE_ERROR = {"code": 20000, "msg": "服务异常，请稍后重试", "sub_code": "isp.service-error",
                 "sub_msg": "服务暂时不可用"}
SERVICE_TIMEOUT = {"code": 20001, "msg": "服务超时，请稍后重试", "sub_code": "isp.service-timeout",
                   "sub_msg": "远程服务调用超时"}
TOKEN_EXPIRED = {"code": 40003, "msg": "无效的系统参数", "sub_code": "isv.access-token-expired",
                 "sub_msg": "access_token已过期"}

_rng = random.Random()

__all__ = ["Plan", "plan_call", "pause", "respond", "record", "move_on_page", "push_dropped", "seed"]


def seed(n: int) -> None:
    """Make the fault draws (and which orders move) repeatable."""
    _rng.seed(n)


@dataclass
class Plan:
    """What happens to this call: an error answered instead of the method, or damage to the method's answer."""

    error: dict | None = None
    outcome: str = CallOutcome.OK
    delay: float = 0.0
    drop: bool = False
    malformed: bool = False
    moved: list[str] = field(default_factory=list)


def plan_call(shop: DouyinShop, now: datetime, *, needs_token: bool) -> Plan:
    """Decide this call's faults, in order: fail_next, expire_token_next (calls with an access token), a
    running ban, the per-minute limit, error_rate; otherwise slow, drop and malformed, which still run the
    method."""
    if shop.fail_next and DouyinShop.objects.filter(pk=shop.pk, fail_next__gt=0).update(fail_next=F("fail_next") - 1):
        return Plan(error=SERVICE_ERROR, outcome=CallOutcome.ISP_ERROR)
    if needs_token and shop.expire_token_next and DouyinShop.objects.filter(
            pk=shop.pk, expire_token_next=True).update(expire_token_next=False):
        marketplace.token_expire(shop, now=now)
        return Plan(error=TOKEN_EXPIRED, outcome=CallOutcome.EXPIRED)
    if shop.banned_until and shop.banned_until > now:
        return _ban(math.ceil((shop.banned_until - now).total_seconds()))
    if shop.ban_calls_per_minute and _calls_last_minute(shop, now) >= shop.ban_calls_per_minute:
        DouyinShop.objects.filter(pk=shop.pk).update(banned_until=now + timedelta(seconds=shop.ban_seconds))
        return _ban(shop.ban_seconds)
    if _hit(shop.error_rate):
        return Plan(error=_rng.choice([SERVICE_ERROR, SERVICE_TIMEOUT]), outcome=CallOutcome.ISP_ERROR)
    return Plan(drop=_hit(shop.drop_rate), delay=shop.slow_seconds if _hit(shop.slow_rate) else 0.0,
                malformed=_hit(shop.malformed_rate))


def outcome_of(plan: Plan, answer_outcome: str) -> str:
    if plan.drop:
        return CallOutcome.DROPPED
    if plan.malformed:
        return CallOutcome.MALFORMED
    return answer_outcome


def record(shop: DouyinShop, method: str, outcome: str, code: int | None, at: datetime, moved: list[str]) -> None:
    DouyinCall.objects.create(shop=shop, method=method[:64], outcome=outcome, code=code, at=at, moved=moved)


def move_on_page(shop: DouyinShop, window: QuerySet, at: datetime) -> list[str]:
    """With the shop's move_on_page_rate, change up to move_count orders (or open after-sales) of the window a
    client is paging through, as buyers would meanwhile (an unpaid order paid, else words for the seller; an
    after-sale settled): their update_time becomes `at`, so a pager reading forward by update_time can miss
    them. Returns the moved order (or after-sale) ids."""
    if not shop.move_count or not _hit(shop.move_on_page_rate):
        return []
    if window.model is DouyinAfterSale:
        window = window.exclude(aftersale_status__in=FINAL_AFTER_SALE_STATUSES)
    pks = list(window.values_list("pk", flat=True))
    chosen = _rng.sample(pks, k=min(len(pks), shop.move_count))
    if window.model is DouyinAfterSale:
        rows = DouyinAfterSale.objects.filter(pk__in=chosen).order_by("pk")
        return [marketplace.after_sale_settle(row, success=True, at=at).aftersale_id for row in rows]
    moved = []
    for order in DouyinOrder.objects.filter(pk__in=chosen).select_related("shop").order_by("pk"):
        if order.status == OrderStatus.UNPAID:
            marketplace.order_pay(order, at=at)
        else:
            marketplace.order_touch(order, at=at)
        moved.append(order.shop_order_id)
    return moved


def push_dropped(shop: DouyinShop) -> bool:
    """Whether this one push message is never delivered."""
    return _hit(shop.push_drop_rate)


def _ban(seconds: int) -> Plan:
    error = {"code": 60000, "msg": "触发限流，请稍后重试", "sub_code": "isp.traffic-limited",
             "sub_msg": f"请求过于频繁，请{seconds}秒后重试"}
    return Plan(error=error, outcome=CallOutcome.BANNED)


def _calls_last_minute(shop: DouyinShop, now: datetime) -> int:
    since = now - timedelta(minutes=1)
    return DouyinCall.objects.filter(shop=shop, at__gt=since).exclude(outcome=CallOutcome.BANNED).count()


def _hit(rate: float) -> bool:
    return rate > 0 and _rng.random() < rate
