"""Faults on demand: what a shop's fault settings do to the gateway call being served.

Rates draw from one module-level Random that `seed(n)` makes repeatable. The one-shot switches
(`fail_next`, `ban_next_seconds`) are claimed with conditional updates, so two server processes never both
spend one. The ban counts calls in the database because the gateway may run in several processes.
"""
import math
import random
import sys
from dataclasses import dataclass
from datetime import datetime, timedelta
from time import sleep

from django.core.servers.basehttp import ServerHandler
from django.db.models import F, QuerySet
from django.http import HttpResponse

from . import marketplace
from .models import FINAL_REFUND_STATUSES, FINAL_TRADE_STATUSES, CallOutcome, SandboxCall, SandboxRefund, SandboxShop

JSON = "application/json;charset=UTF-8"
ISP_UNAVAILABLE = {
    "code": 15, "msg": "Remote service error", "sub_code": "isp.top-remote-service-unavailable",
    "sub_msg": "服务暂时不可用，请稍后重试",
}
ISP_TIMEOUT = {
    "code": 10, "msg": "Service currently unavailable", "sub_code": "isp.top-remote-connection-timeout",
    "sub_msg": "远程服务调用超时",
}
MOVED_MEMO = "买家要求修改收货时间"

_rng = random.Random()


def seed(n: int) -> None:
    """Make the fault draws (and which trades move) repeatable."""
    _rng.seed(n)


@dataclass
class Plan:
    """What happens to this call: an error answered instead of the method, or damage to the method's answer."""

    error: dict | None = None
    outcome: str = CallOutcome.OK
    delay: float = 0.0
    drop: bool = False
    malformed: bool = False


def plan_call(shop: SandboxShop, now: datetime) -> Plan:
    """Decide this call's faults, in order: fail_next, ban_next_seconds, a running ban, the per-minute limit,
    error_rate; otherwise slow, drop and malformed, which still run the method."""
    if shop.fail_next and SandboxShop.objects.filter(pk=shop.pk, fail_next__gt=0).update(fail_next=F("fail_next") - 1):
        return Plan(error=ISP_UNAVAILABLE, outcome=CallOutcome.ISP_ERROR)
    seconds = shop.ban_next_seconds
    if seconds and SandboxShop.objects.filter(pk=shop.pk, ban_next_seconds=seconds).update(
            ban_next_seconds=0, banned_until=now + timedelta(seconds=seconds)):
        return _ban(seconds)
    if shop.banned_until and shop.banned_until > now:
        return _ban(math.ceil((shop.banned_until - now).total_seconds()))
    if shop.ban_calls_per_minute and _calls_last_minute(shop, now) >= shop.ban_calls_per_minute:
        SandboxShop.objects.filter(pk=shop.pk).update(banned_until=now + timedelta(seconds=shop.ban_seconds))
        return _ban(shop.ban_seconds)
    if _hit(shop.error_rate):
        return Plan(error=_rng.choice([ISP_UNAVAILABLE, ISP_TIMEOUT]), outcome=CallOutcome.ISP_ERROR)
    return Plan(
        drop=_hit(shop.drop_rate),
        delay=shop.slow_seconds if _hit(shop.slow_rate) else 0.0,
        malformed=_hit(shop.malformed_rate),
    )


def pause(plan: Plan) -> None:
    if plan.delay > 0:
        sleep(plan.delay)


def respond(body: bytes, plan: Plan) -> HttpResponse:
    """The HTTP answer carrying `body`, cut short as the plan says."""
    if plan.drop:
        # Announce the whole body, send half, close: the client sees the connection die mid-answer.
        response = HttpResponse(body[: len(body) // 2], content_type=JSON)
        response["Content-Length"] = str(len(body))
        _close_connection_after(response)
        return response
    if plan.malformed:
        return HttpResponse(body[: len(body) // 2], content_type=JSON)
    return HttpResponse(body, content_type=JSON)


def outcome_of(plan: Plan, answer_outcome: str) -> str:
    if plan.drop:
        return CallOutcome.DROPPED
    if plan.malformed:
        return CallOutcome.MALFORMED
    return answer_outcome


def record(shop: SandboxShop, method: str, outcome: str, code: int | None, at: datetime) -> None:
    SandboxCall.objects.create(shop=shop, method=method[:64], outcome=outcome, code=code, at=at)


def move_on_page(shop: SandboxShop, window: QuerySet, at: datetime) -> int:
    """With the shop's move_on_page_rate, change up to move_count trades (or open refunds) of the window a
    client is paging through, as a buyer or seller would meanwhile. Returns how many moved."""
    if not shop.move_count or not _hit(shop.move_on_page_rate):
        return 0
    if window.model is SandboxRefund:
        window = window.exclude(status__in=FINAL_REFUND_STATUSES)
    pks = list(window.values_list("pk", flat=True))
    chosen = _rng.sample(pks, k=min(len(pks), shop.move_count))
    for row in window.model.objects.filter(pk__in=chosen).order_by("pk"):
        if isinstance(row, SandboxRefund):
            marketplace.refund_advance(row, at=at)
        elif row.status in FINAL_TRADE_STATUSES:
            marketplace.trade_set_memo(row, MOVED_MEMO, at=at)
        else:
            marketplace.trade_advance(row, at=at)
    return len(chosen)


def _ban(seconds: int) -> Plan:
    error = {
        "code": 7, "msg": "App Call Limited", "sub_code": "accesscontrol.limited-by-app-access-count",
        "sub_msg": f"This ban will last for {seconds} more seconds",
    }
    return Plan(error=error, outcome=CallOutcome.BANNED)


def _calls_last_minute(shop: SandboxShop, now: datetime) -> int:
    since = now - timedelta(minutes=1)
    return SandboxCall.objects.filter(shop=shop, at__gt=since).exclude(outcome=CallOutcome.BANNED).count()


def write_dropped(shop: SandboxShop) -> bool:
    """Whether this one SKU quantity write is answered as done but not kept."""
    return _hit(shop.write_drop_rate)


def _hit(rate: float) -> bool:
    return rate > 0 and _rng.random() < rate


def _close_connection_after(response: HttpResponse) -> None:
    """Have the server close the connection after this response.

    PEP 3333 forbids hop-by-hop headers from applications, and wsgiref (runserver, the test live server)
    asserts on them; there the request handler is told directly. Elsewhere (the test client, gunicorn) the
    `Connection: close` header does it.
    """
    frame = sys._getframe(1)
    while frame is not None:
        handler = frame.f_locals.get("self")
        if isinstance(handler, ServerHandler):
            handler.request_handler.close_connection = True
            return
        frame = frame.f_back
    response["Connection"] = "close"
