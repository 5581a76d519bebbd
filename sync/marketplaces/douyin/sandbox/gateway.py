"""The sandbox Douyin gateway (`/sandbox/douyin/<method path>`): checks a call as the open platform does, applies
the shop's faults, and answers from the sandbox's state in Douyin's envelope (douyin-protocol.md,
/work/notes/douyin-contract.md; request shape as the official Go SDK's core/doudian_op_api_client.go sends it:
POST <base>/<path>?app_key=..&method=..&timestamp=..&v=2&sign=..&sign_method=..&access_token=.., body
param_json).

A method is a handler `(shop, params, now, plan) -> data` in METHODS; it raises GatewayError (or
marketplace.Refused) for an argument or business error.
"""
import json
import threading
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from datetime import timezone as dt_timezone

from django.db.models import QuerySet, prefetch_related_objects
from django.http import HttpRequest, HttpResponse
from django.utils import timezone
from django.views.decorators.csrf import csrf_exempt

from sync.marketplaces.douyin import signing

from . import cipher, faults, marketplace
from .models import CallOutcome, DouyinAfterSale, DouyinOrder, DouyinProduct, DouyinShop, DouyinSku
from .shapes import LOGISTICS_COMPANIES, after_sale_shape, order_shape, product_shape, sku_shape

TIMESTAMP_SKEW = timedelta(minutes=10)
GMT8 = dt_timezone(timedelta(hours=8))
HISTORY = timedelta(days=90)
PAGE_SIZE_MAX = 100
DECRYPT_MAX = 50


class GatewayError(Exception):
    """An answer in Douyin's error envelope."""

    def __init__(self, code: int, msg: str, sub_code: str = "", sub_msg: str = ""):
        super().__init__(f"{code} {msg} {sub_code}")
        self.code, self.msg, self.sub_code, self.sub_msg = code, msg, sub_code, sub_msg


@dataclass(frozen=True)
class Method:
    handler: Callable[[DouyinShop, dict, datetime, faults.Plan], object]
    needs_token: bool = True


# Calls being answered in this process (a slow answer sleeps on after its client gave up); tests wait for them
# to finish before the database is reset under them.
_in_flight = 0
_idle = threading.Condition()


def wait_until_idle(timeout: float = 30.0) -> bool:
    with _idle:
        return _idle.wait_for(lambda: _in_flight == 0, timeout=timeout)


@csrf_exempt
def serve(request: HttpRequest, method_path: str) -> HttpResponse:
    global _in_flight
    with _idle:
        _in_flight += 1
    try:
        return _serve(request, method_path)
    finally:
        with _idle:
            _in_flight -= 1
            _idle.notify_all()


def _serve(request: HttpRequest, method_path: str) -> HttpResponse:
    query = request.GET.dict()
    name = query.get("method") or signing.method_name(method_path)
    started = timezone.now()
    shop = DouyinShop.objects.filter(app_key=query["app_key"]).first() if query.get("app_key") else None
    plan = faults.Plan()
    try:
        method, params = _authenticate(request, method_path, query, shop, started)
        plan = faults.plan_call(shop, started, needs_token=method.needs_token)
        if plan.error:
            raise GatewayError(**plan.error)
        faults.pause(plan)
        try:
            data = method.handler(shop, params, timezone.now(), plan)
        except marketplace.Refused as refused:
            raise GatewayError(refused.code, "业务处理失败" if refused.code == 50002 else "无效的业务参数",
                               refused.sub_code, str(refused)) from None
        body = _envelope(10000, "success", data=data)
        outcome, code = CallOutcome.OK, 10000
    except GatewayError as error:
        body = _envelope(error.code, error.msg, error.sub_code, error.sub_msg)
        outcome, code = (plan.outcome if plan.error else CallOutcome.ERROR), error.code
    if shop is not None:
        faults.record(shop, name, faults.outcome_of(plan, outcome), code, started, plan.moved)
    return faults.respond(json.dumps(body, ensure_ascii=False, separators=(",", ":")).encode(), plan)


def _envelope(code: int, msg: str, sub_code: str = "", sub_msg: str = "", *, data=None) -> dict:
    return {"code": code, "msg": msg, "sub_code": sub_code, "sub_msg": sub_msg,
            "data": {} if data is None else data, "log_id": _log_id()}


def _authenticate(request: HttpRequest, method_path: str, query: dict, shop: DouyinShop | None,
                  now: datetime) -> tuple[Method, dict]:
    """The method to run and its business parameters, once the call passes the platform's checks; raises
    GatewayError otherwise."""
    for name in ("app_key", "method", "timestamp", "v", "sign"):
        if not query.get(name):
            raise GatewayError(40001, "缺少系统参数", f"isv.missing-parameter:{name}", f"缺少参数 {name}")
    method_name = signing.method_name(method_path)
    method = METHODS.get(method_name)
    if method is None or query["method"] != method_name:
        raise GatewayError(40003, "无效的系统参数", "isv.method-invalid", f"method {query['method']} 与路径不符或不存在")
    if shop is None:
        raise GatewayError(40003, "无效的系统参数", "isv.app-key-invalid", "app_key 不存在")
    if query["v"] != "2":
        raise GatewayError(40003, "无效的系统参数", "isv.version-invalid", "v 必须为 2")
    try:
        stamp = _timestamp(query["timestamp"])
    except (ValueError, OverflowError, OSError):
        stamp = None
    if stamp is None or abs(now - stamp) > TIMESTAMP_SKEW:
        raise GatewayError(40003, "无效的系统参数", "isv.timestamp-invalid", "timestamp 与服务器时间相差超过10分钟")
    try:
        params = json.loads(request.body.decode("utf-8") if request.body else query.get("param_json") or "{}")
    except ValueError:  # UnicodeDecodeError is one
        params = None
    if not isinstance(params, dict):
        raise GatewayError(40004, "无效的业务参数", "isv.parameter-invalid:param_json", "param_json 不是JSON对象")
    # The signature covers param_json with keys sorted at every level, whatever order the body has (the Java
    # SDK sends an unsorted body and signs a sorted copy).
    if not signing.sign_matches(app_key=shop.app_key, secret=shop.app_secret, method=query["method"],
                                param_json=signing.param_json(params), timestamp=query["timestamp"], v=query["v"],
                                sign_method=query.get("sign_method", ""), signature=query["sign"]):
        raise GatewayError(40003, "无效的系统参数", "isv.signature-invalid", "签名校验失败")
    if method.needs_token:
        state = marketplace.token_state(shop, query.get("access_token", ""), now=now)
        if state == "unknown":
            raise GatewayError(40003, "无效的系统参数", "isv.access-token-no-existed", "access_token 不存在")
        if state == "expired":
            raise GatewayError(**faults.TOKEN_EXPIRED)
    return method, params


def _timestamp(text: str) -> datetime | None:
    """Epoch seconds (Go, PHP, official Python SDKs), epoch milliseconds (Java SDK) or yyyy-MM-dd HH:mm:ss in
    GMT+8 (the PyPI package)."""
    text = text.strip()
    if text.isdigit():
        value = int(text)
        return datetime.fromtimestamp(value / 1000 if len(text) >= 12 else value, tz=dt_timezone.utc)
    return datetime.strptime(text, "%Y-%m-%d %H:%M:%S").replace(tzinfo=GMT8)


# Tokens

def _token_answer(shop: DouyinShop, now: datetime) -> dict:
    return {"access_token": shop.access_token, "expires_in": int((shop.access_expires_at - now).total_seconds()),
            "refresh_token": shop.refresh_token, "scope": "SCOPE", "shop_id": shop.shop_id,
            "shop_name": shop.shop_name, "authority_id": "", "auth_subject_type": "", "operator_name": ""}


def _token_create(shop: DouyinShop, params: dict, now: datetime, plan) -> dict:
    grant = params.get("grant_type", "")
    if grant != "authorization_self":
        raise GatewayError(40004, "无效的业务参数", "isv.parameter-invalid:grant_type",
                           "自用型应用 grant_type 须为 authorization_self")
    if str(params.get("shop_id", "")) != str(shop.shop_id):
        raise GatewayError(40004, "无效的业务参数", "isv.parameter-invalid:shop_id", "shop_id 未授权给该应用")
    return _token_answer(marketplace.token_create(shop, now=now), now)


def _token_refresh(shop: DouyinShop, params: dict, now: datetime, plan) -> dict:
    if params.get("grant_type") != "refresh_token":
        raise GatewayError(40004, "无效的业务参数", "isv.parameter-invalid:grant_type", "grant_type 须为 refresh_token")
    return _token_answer(marketplace.token_refresh(shop, str(params.get("refresh_token", "")), now=now), now)


# Orders and after-sales

def _search_list(shop: DouyinShop, params: dict, now: datetime, plan) -> dict:
    page, size = _page(params, first=0)
    orders = DouyinOrder.objects.filter(shop=shop, create_time__gte=now - HISTORY)
    for column in ("update_time", "create_time"):
        start, end = _epoch_param(params, f"{column}_start"), _epoch_param(params, f"{column}_end")
        if start is not None:
            orders = orders.filter(**{f"{column}__gte": start})
        if end is not None:
            orders = orders.filter(**{f"{column}__lte": end})
    if shop.index_lag_seconds:
        # The search index catches up with an update only this long after it (as TOP's increment index lags).
        orders = orders.exclude(update_time__gt=now - timedelta(seconds=shop.index_lag_seconds))
    order_by = params.get("order_by") or "create_time"
    if order_by not in ("create_time", "update_time"):
        raise _invalid("order_by", "order_by 须为 create_time 或 update_time")
    ascending = _bool(params.get("order_asc", False))
    if page > 0:
        plan.moved = faults.move_on_page(shop, orders, now)
    orders = orders.order_by(*((order_by, "shop_order_id") if ascending else (f"-{order_by}", "-shop_order_id")))
    rows, total = _slice(orders.select_related("shop"), page, size)
    return {"shop_order_list": [order_shape(order) for order in _with_lines(rows)], "total": total, "page": page,
            "size": size}


def _order_detail(shop: DouyinShop, params: dict, now: datetime, plan) -> dict:
    order_id = str(params.get("shop_order_id") or "")
    if not order_id:
        raise _missing("shop_order_id")
    order = DouyinOrder.objects.filter(shop=shop, shop_order_id=order_id).select_related("shop").first()
    if order is None:
        raise GatewayError(50002, "业务处理失败", "isv.business-failed:order-not-exist", f"订单 {order_id} 不存在")
    return {"shop_order_detail": order_shape(order)}


def _after_sale_list(shop: DouyinShop, params: dict, now: datetime, plan) -> dict:
    page, size = _page(params, first=0)
    rows = DouyinAfterSale.objects.filter(shop=shop)
    for key, lookup in (("update_start_time", "update_time__gte"), ("update_end_time", "update_time__lte"),
                        ("start_time", "apply_time__gte"), ("end_time", "apply_time__lte")):
        moment = _epoch_param(params, key)
        if moment is not None:
            rows = rows.filter(**{lookup: moment})
    if order_id := str(params.get("order_id") or ""):
        rows = rows.filter(order__shop_order_id=order_id)
    if shop.index_lag_seconds:
        rows = rows.exclude(update_time__gt=now - timedelta(seconds=shop.index_lag_seconds))
    # order_by is a list of "<field> <asc|desc>" (afterSale_List_request.go); the first one decides here.
    spec = (params.get("order_by") or ["update_time desc"])[0]
    field, _sep, direction = str(spec).partition(" ")
    if field not in ("update_time", "apply_time") or direction not in ("asc", "desc", ""):
        raise _invalid("order_by", "order_by 形如 \"update_time asc\"")
    if page > 0:
        plan.moved = faults.move_on_page(shop, rows, now)
    rows = rows.order_by(*((field, "aftersale_id") if direction == "asc" else (f"-{field}", "-aftersale_id")))
    found, total = _slice(rows.select_related("order", "sku_order"), page, size)
    return {"items": [after_sale_shape(row) for row in found], "has_more": (page + 1) * size < total,
            "total": total, "page": page, "size": size}


def _batch_decrypt(shop: DouyinShop, params: dict, now: datetime, plan) -> dict:
    infos = params.get("cipher_infos")
    if not isinstance(infos, list) or not infos:
        raise _missing("cipher_infos")
    if len(infos) > DECRYPT_MAX:
        raise _invalid("cipher_infos", f"cipher_infos 最多 {DECRYPT_MAX} 个")
    answers = []
    for info in infos:
        auth_id, text = str(info.get("auth_id", "")), str(info.get("cipher_text", ""))
        plain = cipher.decrypt(auth_id, text) if DouyinOrder.objects.filter(shop=shop, shop_order_id=auth_id).exists() \
            else None
        answers.append({"auth_id": auth_id, "cipher_text": text, "decrypt_text": plain or "", "data_type": 0,
                        "is_virtual_tel": False,
                        "err_no": 0 if plain is not None else 300008,
                        "err_msg": "" if plain is not None else "解密失败：密文与订单不符"})
    return {"decrypt_infos": answers, "custom_err": {"err_code": 0, "err_msg": ""}}


def _logistics_company_list(shop: DouyinShop, params: dict, now: datetime, plan) -> list:
    return LOGISTICS_COMPANIES


def _logistics_add(shop: DouyinShop, params: dict, now: datetime, plan) -> dict:
    for name in ("order_id", "company_code", "logistics_code"):
        if not params.get(name):
            raise _missing(name)
    if not any(c["code"] == params["company_code"] for c in LOGISTICS_COMPANIES):
        raise GatewayError(50002, "业务处理失败", "isv.business-failed:company-invalid",
                           f"物流公司 {params['company_code']} 不存在")
    marketplace.order_ship(shop, str(params["order_id"]), company_code=params["company_code"],
                           logistics_code=str(params["logistics_code"]), at=now)
    return {}


# Products and stock

def _sku_sync_stock(shop: DouyinShop, params: dict, now: datetime, plan) -> dict:
    sku_id, code = _sku_key(params)
    if params.get("stock_num") in (None, ""):
        raise _missing("stock_num")
    marketplace.stock_sync(shop, sku_id=sku_id, code=code, stock_num=_int(params, "stock_num"),
                           incremental=_bool(params.get("incremental", False)),
                           idempotent_id=str(params.get("idempotent_id") or ""), now=now)
    return {}


def _sku_stock_num(shop: DouyinShop, params: dict, now: datetime, plan) -> dict:
    sku_id, code = _sku_key(params)
    sku = marketplace.sku_find(shop, sku_id=sku_id, code=code)
    return {"sku_id": sku.sku_id, "code": sku.code, "stock_num": sku.stock_num, "prehold_stock_num": 0,
            "step_stock_num": 0, "prehold_step_stock_num": 0}


def _product_list(shop: DouyinShop, params: dict, now: datetime, plan) -> dict:
    # /product/listV2 pages from 1 (product_listV2_request.go: 第几页（第一页为1）).
    page, size = _page(params, first=1)
    products = DouyinProduct.objects.filter(shop=shop).order_by("product_id")
    if params.get("status") not in (None, ""):
        products = products.filter(online=_int(params, "status") == 0)
    rows, total = _slice(products, page - 1, size)
    return {"data": [product_shape(p) for p in rows], "total": total, "page": page, "size": size}


def _sku_list(shop: DouyinShop, params: dict, now: datetime, plan) -> list:
    product_id = _int(params, "product_id")
    skus = DouyinSku.objects.filter(product__shop=shop, product__product_id=product_id).select_related("product")
    return [sku_shape(sku) for sku in skus.order_by("sku_id")]


def _set_online(shop: DouyinShop, params: dict, now: datetime, plan) -> dict:
    marketplace.product_online_set(shop, _int(params, "product_id"), True)
    return {}


def _set_offline(shop: DouyinShop, params: dict, now: datetime, plan) -> dict:
    marketplace.product_online_set(shop, _int(params, "product_id"), False)
    return {}


METHODS: dict[str, Method] = {
    "token.create": Method(_token_create, needs_token=False),
    "token.refresh": Method(_token_refresh, needs_token=False),
    "order.searchList": Method(_search_list),
    "order.orderDetail": Method(_order_detail),
    "order.batchDecrypt": Method(_batch_decrypt),
    "order.logisticsCompanyList": Method(_logistics_company_list),
    "order.logisticsAdd": Method(_logistics_add),
    "afterSale.List": Method(_after_sale_list),
    "sku.syncStock": Method(_sku_sync_stock),
    "sku.stockNum": Method(_sku_stock_num),
    "sku.list": Method(_sku_list),
    "product.listV2": Method(_product_list),
    "product.setOnline": Method(_set_online),
    "product.setOffline": Method(_set_offline),
}


# Parameters

def _with_lines(orders: list[DouyinOrder]) -> list[DouyinOrder]:
    prefetch_related_objects(orders, "sku_orders")
    return orders


def _slice(rows: QuerySet, page: int, size: int) -> tuple[list, int]:
    total = rows.count()
    return list(rows[page * size: page * size + size]), total


def _page(params: dict, *, first: int) -> tuple[int, int]:
    page = _int(params, "page", default=first)
    size = _int(params, "size", default=20)
    if page < first:
        raise _invalid("page", f"page 从 {first} 开始")
    if not 1 <= size <= PAGE_SIZE_MAX:
        raise _invalid("size", f"size 须在 1 到 {PAGE_SIZE_MAX} 之间")
    return page, size


def _sku_key(params: dict) -> tuple[int | None, str]:
    sku_id = params.get("sku_id")
    code = str(params.get("code") or "")
    if sku_id in (None, "", 0, "0") and not code:
        raise _missing("sku_id")
    return (_int(params, "sku_id") if sku_id not in (None, "", 0, "0") else None), code


def _int(params: dict, name: str, *, default: int | None = None) -> int:
    raw = params.get(name)
    if raw in (None, ""):
        if default is None:
            raise _missing(name)
        return default
    if isinstance(raw, (bool, float)):
        raise _invalid(name, f"{name} 须为整数")
    try:
        return int(raw)
    except (TypeError, ValueError):
        raise _invalid(name, f"{name} 须为整数") from None


def _epoch_param(params: dict, name: str) -> datetime | None:
    if params.get(name) in (None, "", 0):
        return None
    return datetime.fromtimestamp(_int(params, name), tz=dt_timezone.utc)


def _bool(raw) -> bool:
    return raw is True or str(raw).lower() == "true"


def _missing(name: str) -> GatewayError:
    return GatewayError(40002, "缺少业务参数", f"isv.missing-parameter:{name}", f"缺少参数 {name}")


def _invalid(name: str, why: str) -> GatewayError:
    return GatewayError(40004, "无效的业务参数", f"isv.parameter-invalid:{name}", why)


def _log_id() -> str:
    return timezone.now().strftime("%Y%m%d%H%M%S") + uuid.uuid4().hex[:18].upper()
