"""The sandbox ERP bridge's HTTP side (`/sandbox/erp/...`): checks a call the way docs/erp-bridge.md asks a
bridge to, applies the bridge's faults, and answers from its change log and received orders.

It does not remember nonces (a real bridge should refuse a repeated one); everything else in the
contract's checks is here.
"""
import hmac
import json
import re
import threading
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.db import IntegrityError, transaction
from django.http import HttpRequest, HttpResponse
from django.utils import timezone
from django.views.decorators.csrf import csrf_exempt

from merchant.api import signing

from . import faults
from .models import CallOutcome, ChangeKind, SandboxErp, SandboxErpCall, SandboxErpChange, SandboxErpOrder

JSON = "application/json;charset=UTF-8"
TIMESTAMP_WINDOW = timedelta(minutes=5)
NONCE = re.compile(r"^[A-Za-z0-9_-]{8,64}$")
DEFAULT_LIMIT = 200
MAX_LIMIT = 500
MAX_ORDERS = 100


@dataclass
class BridgeError(Exception):
    status: int
    code: str
    message: str
    retry_after: int = 0


# Calls being answered in this process. A client that timed out leaves its call running here (a slow
# answer sleeps on); tests wait for those to finish before the database is reset under them.
_in_flight = 0
_idle = threading.Condition()


def wait_until_idle(timeout: float = 30.0) -> bool:
    """Block until no call is being answered in this process; False if `timeout` passed first."""
    with _idle:
        return _idle.wait_for(lambda: _in_flight == 0, timeout=timeout)


def _counted(handler):
    @csrf_exempt
    def view(request, *args, **kwargs):
        global _in_flight
        with _idle:
            _in_flight += 1
        try:
            return _serve(request, handler, *args, **kwargs)
        finally:
            with _idle:
                _in_flight -= 1
                _idle.notify_all()
    view.__name__ = handler.__name__
    return view


def _serve(request: HttpRequest, handler, *args, **kwargs) -> HttpResponse:
    started = timezone.now()
    method = f"{request.method} /{request.path.rstrip('/').rsplit('/erp/', 1)[-1]}"[:64]
    # Found before the checks, so a refused call of a known key is recorded too.
    erp = SandboxErp.objects.filter(app_key=request.headers.get(signing.HEADER_KEY, "")).first()
    plan = faults.Plan()
    try:
        _authenticate(request, erp, started)
        plan = faults.plan_call(erp, started)
        if plan.error:
            raise BridgeError(plan.status, plan.code, plan.message, plan.retry_after)
        faults.pause(plan)
        status, payload, outcome = 200, handler(erp, request, *args, **kwargs), plan.outcome
    except BridgeError as error:
        status, payload = error.status, {"error": {"code": error.code, "message": error.message}}
        outcome = plan.outcome if plan.error else CallOutcome.ERROR
        plan.retry_after = error.retry_after
    if erp is not None:
        SandboxErpCall.objects.create(erp=erp, method=method, status=status, outcome=outcome, at=started)
    body = json.dumps(payload, ensure_ascii=False, separators=(",", ":")).encode()
    response = HttpResponse(body[: len(body) // 2] if plan.malformed else body, content_type=JSON, status=status)
    if plan.retry_after:
        response["Retry-After"] = str(plan.retry_after)
    return response


def _authenticate(request: HttpRequest, erp: SandboxErp | None, now: datetime) -> None:
    """Check that `erp` (the bridge of the call's key) signed the call; raises BridgeError (401) naming what
    is wrong."""
    headers = request.headers
    key, stamp = headers.get(signing.HEADER_KEY, ""), headers.get(signing.HEADER_TIMESTAMP, "")
    nonce, given = headers.get(signing.HEADER_NONCE, ""), headers.get(signing.HEADER_SIGNATURE, "")
    if not (key and stamp and nonce and given):
        raise BridgeError(401, "missing_auth", "the X-Api-Key, -Timestamp, -Nonce and -Signature headers are required")
    if erp is None:
        raise BridgeError(401, "unknown_key", "unknown key")
    if erp.unauthorized:
        raise BridgeError(401, "key_revoked", "this key was revoked in the ERP")
    if not stamp.isdigit() or abs(now.timestamp() - int(stamp)) > TIMESTAMP_WINDOW.total_seconds():
        raise BridgeError(401, "stale_timestamp", "the timestamp is missing or more than 5 minutes off")
    if not NONCE.match(nonce):
        raise BridgeError(401, "bad_nonce", "nonce must be 8-64 letters, digits, '-' or '_'")
    canonical = signing.canonical_string(
        method=request.method, path=request.path,
        query_pairs=[(k, v) for k, values in request.GET.lists() for v in values],
        timestamp=stamp, nonce=nonce, body=request.body,
    )
    if not hmac.compare_digest(given.lower(), signing.signature(erp.app_secret, canonical)):
        raise BridgeError(401, "bad_signature", "signature does not match")


def _method(request: HttpRequest, allowed: str) -> None:
    if request.method != allowed:
        raise BridgeError(405, "method_not_allowed", f"use {allowed}")


@_counted
def ping(erp: SandboxErp, request: HttpRequest) -> dict:
    _method(request, "GET")
    return {"name": erp.name, "contract": "merchant-hub-erp-bridge/1"}


@_counted
def changes(erp: SandboxErp, request: HttpRequest, kind: str) -> dict:
    """GET /changes/{kind}?cursor=&limit=: the log after the cursor, a product's batches never split."""
    _method(request, "GET")
    if kind not in ChangeKind.values or kind in erp.kinds_refused():
        raise BridgeError(404, "unsupported_kind", f"this ERP serves no {kind} changes")
    cursor = request.GET.get("cursor", "")
    if cursor and not cursor.isdigit():
        raise BridgeError(400, "bad_cursor", "the cursor is not one this bridge handed out")
    after = int(cursor or 0)
    if cursor and after < erp.oldest_cursor:
        raise BridgeError(410, "cursor_expired", "changes after this cursor are no longer kept; start again")
    limit = request.GET.get("limit", str(DEFAULT_LIMIT))
    if not limit.isdigit() or not 1 <= int(limit) <= MAX_LIMIT:
        raise BridgeError(400, "bad_limit", f"limit must be 1 to {MAX_LIMIT}")
    feed = SandboxErpChange.objects.filter(erp=erp, kind=kind)
    rows = list(feed.filter(id__gt=after).order_by("id")[: int(limit)])
    if rows and rows[-1].group:
        rows += list(feed.filter(group=rows[-1].group, id__gt=rows[-1].id).order_by("id"))
    last = rows[-1].id if rows else None
    if kind == ChangeKind.BATCHES:
        # A product's batches changed twice within the page: serve only its newer set, as the contract asks.
        newest = {row.item.get("erp_product_id"): row.group for row in rows}
        rows = [row for row in rows if row.group == newest[row.item.get("erp_product_id")]]
    return {
        "items": [row.item for row in rows],
        "next_cursor": str(last) if last is not None else cursor,
        "has_more": last is not None and feed.filter(id__gt=last).exists(),
    }


@_counted
def orders(erp: SandboxErp, request: HttpRequest) -> dict:
    """POST /orders: keep each new order, answer duplicate for one already here, reject refused products."""
    _method(request, "POST")
    try:
        body = json.loads(request.body or b"null")
    except ValueError:
        raise BridgeError(400, "malformed_json", "the body is not JSON") from None
    sent = body.get("orders") if isinstance(body, dict) else None
    if not isinstance(sent, list) or not 1 <= len(sent) <= MAX_ORDERS:
        raise BridgeError(400, "bad_orders", f'"orders" must be a list of 1 to {MAX_ORDERS} orders')
    if not all(isinstance(o, dict) and isinstance(o.get("order_no"), str) and o["order_no"] for o in sent):
        raise BridgeError(400, "bad_orders", "every order needs an order_no")
    refused, now, results = erp.products_refused(), timezone.now(), []
    for order in sent:
        blocked = sorted({line.get("erp_product_id") for line in order.get("items") or []
                          if isinstance(line, dict)} & refused)
        if blocked:
            results.append({"order_no": order["order_no"], "status": "rejected",
                            "message": f"product {', '.join(blocked)} is blocked in the ERP"})
            continue
        try:
            with transaction.atomic():
                SandboxErpOrder.objects.create(erp=erp, order_no=order["order_no"][:64], data=order, received_at=now)
            results.append({"order_no": order["order_no"], "status": "accepted"})
        except IntegrityError:
            results.append({"order_no": order["order_no"], "status": "duplicate"})
    return {"results": results}
