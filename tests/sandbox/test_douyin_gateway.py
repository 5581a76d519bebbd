"""The sandbox Douyin gateway over HTTP (a live server): the platform's request checks, tokens, the methods'
answers and paging, the faults, and push-message delivery to a callback URL."""
import http.client
import json
import threading
import time
from datetime import timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import urlencode, urlsplit

import pytest
import requests
from django.utils import timezone

from sync.marketplaces.douyin import signing
from sync.marketplaces.douyin.sandbox import faults, gateway, marketplace, push
from sync.marketplaces.douyin.sandbox.models import (
    CallOutcome, DouyinAfterSale, DouyinCall, DouyinIdempotentId, DouyinOrder, DouyinPushMessage, DouyinShop,
    DouyinSku, OrderStatus, RefundStatus,
)

APP_KEY, SECRET, SHOP_ID = "7000000000000000001", "douyin-sandbox-secret", 88_000_001


@pytest.fixture
def shop(transactional_db):
    shop = marketplace.shop_create(app_key=APP_KEY, app_secret=SECRET, shop_id=SHOP_ID, shop_name="测试抖店")
    marketplace.products_from_codes(shop, [("ERP-1", "阿莫西林胶囊", 1250, 100), ("ERP-2", "布洛芬缓释胶囊", 2300, 50)])
    return shop


@pytest.fixture
def base(live_server, shop):
    yield f"{live_server.url}/sandbox/douyin"
    # A slow answer its client gave up on may still be running; let it finish before the database is reset.
    assert gateway.wait_until_idle()


class Api:
    """A minimal client speaking the contract (what the adapter sends)."""

    def __init__(self, base: str):
        self.base, self.token, self.secret, self.app_key = base, "", SECRET, APP_KEY

    def raw(self, path: str, params: dict | None = None, *, sign_method: str | None = "hmac-sha256",
            timestamp: str | None = None, token: str | None = None, secret: str | None = None,
            body: str | bytes | None = None, timeout: float = 10.0, v: str = "2") -> requests.Response:
        method = signing.method_name(path)
        text = signing.param_json(params)
        stamp = timestamp if timestamp is not None else str(int(time.time()))
        query = {"app_key": self.app_key, "method": method, "timestamp": stamp, "v": v}
        query["sign"] = signing.sign(app_key=self.app_key, secret=secret or self.secret, method=method,
                                     param_json=text, timestamp=stamp, v=v, sign_method=sign_method or "md5")
        if sign_method:
            query["sign_method"] = sign_method
        if not path.startswith("/token/"):
            query["access_token"] = self.token if token is None else token
        return requests.post(f"{self.base}{path}?{urlencode(query)}", data=body if isinstance(body, bytes) else (body or text).encode(),
                             headers={"Content-Type": "application/json"}, timeout=timeout)

    def call(self, path: str, params: dict | None = None, **options) -> dict:
        response = self.raw(path, params, **options)
        assert response.status_code == 200
        return response.json()

    def ok(self, path: str, params: dict | None = None, **options):
        body = self.call(path, params, **options)
        assert body["code"] == 10000, body
        return body["data"]

    def login(self) -> dict:
        data = self.ok("/token/create", {"code": "", "grant_type": "authorization_self", "shop_id": SHOP_ID})
        self.token = data["access_token"]
        return data


@pytest.fixture
def api(base):
    client = Api(base)
    client.login()
    return client


def set_faults(shop: DouyinShop, **values) -> None:
    DouyinShop.objects.filter(pk=shop.pk).update(**values)


def epoch(moment) -> int:
    return int(moment.timestamp())


def ago(**delta):
    return (timezone.now() - timedelta(**delta)).replace(microsecond=0)


# ------------------------------------------------------------------ request checks


@pytest.mark.parametrize("sign_method", ["hmac-sha256", "md5", None])
def test_each_sign_method_is_accepted_and_md5_is_the_default(api, sign_method):
    data = api.ok("/order/logisticsCompanyList", {}, sign_method=sign_method)

    assert {"id": 12, "name": "中通快递", "code": "zhongtong"} in data


def test_a_wrong_signature_is_refused(api):
    body = api.call("/order/logisticsCompanyList", {}, secret="not-the-secret")

    assert (body["code"], body["sub_code"]) == (40003, "isv.signature-invalid")
    assert set(body) >= {"code", "msg", "sub_code", "sub_msg", "data", "log_id"}


def test_the_signature_covers_the_sorted_parameters_whatever_order_the_body_has(api):
    order = marketplace.order_create(DouyinShop.objects.get(), lines=[("ERP-1", 1)])
    unsorted = json.dumps({"shop_order_id": order.shop_order_id, "a": {"z": 1, "b": 2}}, separators=(",", ":"))

    data = api.ok("/order/orderDetail", {"shop_order_id": order.shop_order_id, "a": {"b": 2, "z": 1}}, body=unsorted)

    assert data["shop_order_detail"]["order_id"] == order.shop_order_id


@pytest.mark.parametrize("form", ["seconds", "milliseconds", "gmt8"])
def test_a_timestamp_far_off_is_refused_whichever_form_it_has(api, form):
    off = timezone.now() - timedelta(minutes=11)
    stamp = {"seconds": str(epoch(off)), "milliseconds": str(int(off.timestamp() * 1000)),
             "gmt8": off.astimezone(gateway.GMT8).strftime("%Y-%m-%d %H:%M:%S")}[form]
    near = timezone.now() - timedelta(minutes=2)
    near_stamp = {"seconds": str(epoch(near)), "milliseconds": str(int(near.timestamp() * 1000)),
                  "gmt8": near.astimezone(gateway.GMT8).strftime("%Y-%m-%d %H:%M:%S")}[form]

    body = api.call("/order/logisticsCompanyList", {}, timestamp=stamp)

    assert (body["code"], body["sub_code"]) == (40003, "isv.timestamp-invalid")
    assert api.call("/order/logisticsCompanyList", {}, timestamp=near_stamp)["code"] == 10000


def test_an_unknown_app_key_a_wrong_version_and_a_method_not_matching_the_path_are_refused(api):
    assert api.call("/order/logisticsCompanyList", {}, v="1")["sub_code"] == "isv.version-invalid"
    stamp = str(int(time.time()))
    query = {"app_key": APP_KEY, "method": "order.searchList", "timestamp": stamp, "v": "2", "access_token": api.token,
             "sign": signing.sign(app_key=APP_KEY, secret=SECRET, method="order.searchList", param_json="{}",
                                  timestamp=stamp)}
    mismatch = requests.post(f"{api.base}/order/orderDetail?{urlencode(query)}", data=b"{}", timeout=10).json()
    assert (mismatch["code"], mismatch["sub_code"]) == (40003, "isv.method-invalid")
    api.app_key = "nobody"
    assert api.call("/order/logisticsCompanyList", {})["sub_code"] == "isv.app-key-invalid"


@pytest.mark.parametrize("body", [b"[1, 2]", b"{not json", b"\xff\xfe"])
def test_a_body_that_is_not_a_json_object_is_refused(api, body):
    assert api.call("/order/logisticsCompanyList", {}, body=body)["code"] == 40004


def test_a_missing_system_parameter_is_named(api):
    response = requests.post(f"{api.base}/order/logisticsCompanyList?app_key={APP_KEY}", data=b"{}", timeout=10)

    assert (response.json()["code"], response.json()["sub_code"]) == (40001, "isv.missing-parameter:method")


def test_an_unknown_access_token_is_refused(api):
    body = api.call("/order/searchList", {"page": 0, "size": 10}, token="not-a-token")

    assert (body["code"], body["sub_code"]) == (40003, "isv.access-token-no-existed")


# ------------------------------------------------------------------ tokens


def test_token_create_gives_a_seven_day_token_and_the_same_pair_again(base, shop):
    client = Api(base)
    first = client.login()
    again = client.login()

    assert first["shop_id"] == SHOP_ID and first["shop_name"] == "测试抖店"
    assert 7 * 86400 - 60 < first["expires_in"] <= 7 * 86400
    assert (again["access_token"], again["refresh_token"]) == (first["access_token"], first["refresh_token"])
    shop.refresh_from_db()
    assert shop.refresh_expires_at - shop.access_expires_at == timedelta(days=7)


def test_token_create_refuses_a_shop_the_app_is_not_authorised_for(base, shop):
    body = Api(base).call("/token/create", {"code": "", "grant_type": "authorization_self", "shop_id": 1})

    assert body["code"] == 40004


def test_refresh_early_returns_the_same_pair_and_within_the_last_hour_a_new_one(api, shop):
    first = DouyinShop.objects.get(pk=shop.pk)
    same = api.ok("/token/refresh", {"grant_type": "refresh_token", "refresh_token": first.refresh_token})
    assert same["access_token"] == first.access_token

    set_faults(shop, access_expires_at=timezone.now() + timedelta(minutes=30))
    new = api.ok("/token/refresh", {"grant_type": "refresh_token", "refresh_token": first.refresh_token})

    assert new["access_token"] != first.access_token and new["refresh_token"] != first.refresh_token
    assert new["expires_in"] > 7 * 86400 - 60
    # The old access token keeps working for an hour; the old refresh token is spent.
    assert api.call("/order/searchList", {"page": 0, "size": 10}, token=first.access_token)["code"] == 10000
    stale = api.call("/token/refresh", {"grant_type": "refresh_token", "refresh_token": first.refresh_token})
    assert stale["code"] == 40004


def test_an_expired_access_token_is_refused_and_a_refresh_gives_a_working_pair(api, shop):
    set_faults(shop, access_expires_at=timezone.now() - timedelta(seconds=1))

    body = api.call("/order/searchList", {"page": 0, "size": 10})
    assert (body["code"], body["sub_code"]) == (40003, "isv.access-token-expired")

    refresh = DouyinShop.objects.get(pk=shop.pk).refresh_token
    new = api.ok("/token/refresh", {"grant_type": "refresh_token", "refresh_token": refresh})
    api.token = new["access_token"]
    assert api.call("/order/searchList", {"page": 0, "size": 10})["code"] == 10000


def test_expire_token_next_expires_the_token_once(api, shop):
    set_faults(shop, expire_token_next=True)

    first = api.call("/order/searchList", {"page": 0, "size": 10})
    second = api.call("/order/searchList", {"page": 0, "size": 10})

    assert first["sub_code"] == second["sub_code"] == "isv.access-token-expired"
    assert not DouyinShop.objects.get(pk=shop.pk).expire_token_next
    assert DouyinCall.objects.filter(outcome=CallOutcome.EXPIRED).count() == 1
    api.ok("/token/refresh", {"grant_type": "refresh_token",
                              "refresh_token": DouyinShop.objects.get(pk=shop.pk).refresh_token})


# ------------------------------------------------------------------ orders


def test_search_list_answers_orders_of_the_update_window_in_the_contract_shape(api, shop):
    inside = marketplace.order_create(shop, lines=[("ERP-1", 2), ("ERP-2", 1)], created=ago(minutes=30),
                                      post_amount=800)
    marketplace.order_create(shop, lines=[("ERP-1", 1)], created=ago(hours=3))

    data = api.ok("/order/searchList", {"update_time_start": epoch(ago(hours=1)), "update_time_end": epoch(ago()),
                                        "page": 0, "size": 100, "order_by": "update_time", "order_asc": True})

    assert (data["total"], data["page"], data["size"]) == (1, 0, 100)
    order = data["shop_order_list"][0]
    assert order["order_id"] == inside.shop_order_id and len(order["order_id"]) == 19
    assert order["order_status"] == 2 and order["pay_time"] == order["create_time"] == epoch(inside.create_time)
    assert (order["order_amount"], order["pay_amount"], order["post_amount"]) == (1250 * 2 + 2300 + 800,) * 2 + (800,)
    assert [(s["code"], s["item_num"], s["goods_price"], s["parent_order_id"]) for s in order["sku_order_list"]] == [
        ("ERP-1", 2, 1250, inside.shop_order_id), ("ERP-2", 1, 2300, inside.shop_order_id)]
    # As the Go SDK's order_searchList response types them: SKU order ids are strings, sku_id and product_id int64.
    assert all(isinstance(s["order_id"], str) and isinstance(s["sku_id"], int) and isinstance(s["product_id"], int)
               for s in order["sku_order_list"])
    assert order["sku_order_list"][0]["after_sale_info"] == {"after_sale_status": 0, "after_sale_type": 0,
                                                             "refund_status": 0}
    assert order["encrypt_post_receiver"].startswith("#") and "*" in order["mask_post_receiver"]
    assert inside.receiver["name"] not in json.dumps(order, ensure_ascii=False)


def test_search_list_pages_from_zero_in_the_order_asked_and_caps_the_size(api, shop):
    made = [marketplace.order_create(shop, lines=[("ERP-1", 1)], created=ago(minutes=50 - n)) for n in range(5)]
    window = {"create_time_start": epoch(ago(hours=1)), "create_time_end": epoch(ago()), "size": 2,
              "order_by": "create_time", "order_asc": True}

    pages = [api.ok("/order/searchList", {**window, "page": n}) for n in range(3)]

    assert [o["order_id"] for p in pages for o in p["shop_order_list"]] == [o.shop_order_id for o in made]
    assert [p["total"] for p in pages] == [5, 5, 5]
    newest_first = api.ok("/order/searchList", {**window, "page": 0, "order_asc": False})
    assert newest_first["shop_order_list"][0]["order_id"] == made[-1].shop_order_id
    assert api.call("/order/searchList", {**window, "page": 0, "size": 101})["code"] == 40004


def test_order_detail_answers_one_order_and_refuses_an_unknown_one(api, shop):
    order = marketplace.order_create(shop, lines=[("ERP-2", 3)], buyer_words="请尽快发货")

    detail = api.ok("/order/orderDetail", {"shop_order_id": order.shop_order_id})["shop_order_detail"]

    assert (detail["order_id"], detail["buyer_words"], detail["sku_order_list"][0]["item_num"]) == (
        order.shop_order_id, "请尽快发货", 3)
    assert api.call("/order/orderDetail", {"shop_order_id": "6900000000000000000"})["code"] == 50002


def test_batch_decrypt_gives_the_plain_receiver_only_for_its_own_order(api, shop):
    order = marketplace.order_create(shop, lines=[("ERP-1", 1)])
    other = marketplace.order_create(shop, lines=[("ERP-1", 1)])
    shape = api.ok("/order/orderDetail", {"shop_order_id": order.shop_order_id})["shop_order_detail"]

    data = api.ok("/order/batchDecrypt", {"cipher_infos": [
        {"auth_id": order.shop_order_id, "cipher_text": shape["encrypt_post_tel"]},
        {"auth_id": other.shop_order_id, "cipher_text": shape["encrypt_post_receiver"]},
    ]})

    good, bad = data["decrypt_infos"]
    assert (good["decrypt_text"], good["err_no"]) == (order.receiver["tel"], 0)
    assert bad["decrypt_text"] == "" and bad["err_no"] != 0
    too_many = [{"auth_id": order.shop_order_id, "cipher_text": shape["encrypt_post_tel"]}] * 51
    assert api.call("/order/batchDecrypt", {"cipher_infos": too_many})["code"] == 40004


def test_logistics_add_ships_the_whole_order_once(api, shop):
    order = marketplace.order_create(shop, lines=[("ERP-1", 1), ("ERP-2", 1)])
    unpaid = marketplace.order_create(shop, lines=[("ERP-1", 1)], status=OrderStatus.UNPAID)
    ship = {"order_id": order.shop_order_id, "company_code": "zhongtong", "logistics_code": "ZT123456789012",
            "is_refund_reject": False}

    assert api.ok("/order/logisticsAdd", ship) == {}

    order.refresh_from_db()
    assert (order.status, order.logistics_code, order.company_code) == (OrderStatus.SHIPPED, "ZT123456789012",
                                                                         "zhongtong")
    assert api.call("/order/logisticsAdd", ship)["code"] == 50002
    assert api.call("/order/logisticsAdd", {**ship, "order_id": unpaid.shop_order_id})["code"] == 50002
    assert api.call("/order/logisticsAdd", {**ship, "company_code": "nobody"})["code"] == 50002


def test_after_sale_list_answers_the_update_window_with_the_sdk_field_names(api, shop):
    order = marketplace.order_create(shop, lines=[("ERP-1", 1), ("ERP-2", 2)], created=ago(hours=2))
    after_sale = marketplace.after_sale_create(order, at=ago(minutes=20))
    marketplace.after_sale_settle(after_sale, success=True, at=ago(minutes=10))

    data = api.ok("/afterSale/List", {"update_start_time": epoch(ago(hours=1)), "update_end_time": epoch(ago()),
                                      "page": 0, "size": 10, "order_by": ["update_time asc"]})

    assert (data["total"], data["has_more"]) == (1, False)
    item = data["items"][0]
    line = order.sku_orders.order_by("sku_order_id").first()
    assert item["aftersale_info"]["aftersale_id"] == after_sale.aftersale_id
    assert (item["aftersale_info"]["aftersale_status"], item["aftersale_info"]["refund_status"]) == (12, 3)
    assert item["aftersale_info"]["refund_amount"] == 1250
    assert item["order_info"]["shop_order_id"] == order.shop_order_id
    assert item["order_info"]["related_order_info"][0]["sku_order_id"] == line.sku_order_id
    detail = api.ok("/order/orderDetail", {"shop_order_id": order.shop_order_id})["shop_order_detail"]
    assert detail["sku_order_list"][0]["after_sale_info"]["refund_status"] == RefundStatus.SUCCESS
    assert detail["order_status"] == OrderStatus.AWAITING_SHIPMENT  # one of two lines refunded


# ------------------------------------------------------------------ stock and products


def test_sync_stock_sets_the_full_stock_by_code_or_sku_id(api, shop):
    sku = DouyinSku.objects.get(code="ERP-1")

    assert api.ok("/sku/syncStock", {"code": "ERP-1", "stock_num": 7, "incremental": False}) == {}
    assert api.ok("/sku/stockNum", {"sku_id": str(sku.sku_id)})["stock_num"] == 7
    api.ok("/sku/syncStock", {"sku_id": sku.sku_id, "stock_num": 0})  # int64, as the Go SDK sends it
    assert api.ok("/sku/stockNum", {"code": "ERP-1"})["stock_num"] == 0
    assert api.call("/sku/syncStock", {"code": "NOPE", "stock_num": 1})["code"] == 50002
    assert api.call("/sku/syncStock", {"code": "ERP-1", "stock_num": -1})["code"] == 40004


def test_incremental_stock_needs_an_idempotent_id_and_a_repeated_one_changes_nothing(api, shop):
    assert api.call("/sku/syncStock", {"code": "ERP-2", "stock_num": 5, "incremental": True})["code"] == 40004

    api.ok("/sku/syncStock", {"code": "ERP-2", "stock_num": 5, "incremental": True, "idempotent_id": "push-1"})
    repeated = api.call("/sku/syncStock", {"code": "ERP-2", "stock_num": 5, "incremental": True,
                                           "idempotent_id": "push-1"})
    api.ok("/sku/syncStock", {"code": "ERP-2", "stock_num": -60, "incremental": True, "idempotent_id": "push-2"})

    assert repeated["code"] == 50002 and "idempotent" in repeated["sub_code"]
    assert DouyinSku.objects.get(code="ERP-2").stock_num == 0  # 50 + 5, then -60 stops at 0
    assert DouyinIdempotentId.objects.count() == 2
    # A full set with an id already used is refused too.
    assert api.call("/sku/syncStock", {"code": "ERP-2", "stock_num": 9, "idempotent_id": "push-2"})["code"] == 50002
    assert DouyinSku.objects.get(code="ERP-2").stock_num == 0


def test_products_list_from_page_one_and_go_on_and_off_sale(api, shop):
    data = api.ok("/product/listV2", {"page": 1, "size": 10})
    product_id = data["data"][0]["product_id"]

    skus = api.ok("/sku/list", {"product_id": product_id})
    api.ok("/product/setOffline", {"product_id": product_id})

    assert data["total"] == 2 and skus[0]["code"] in {"ERP-1", "ERP-2"}
    offline = api.ok("/product/listV2", {"page": 1, "size": 10, "status": 1})["data"]
    assert [p["product_id"] for p in offline] == [product_id]
    api.ok("/product/setOnline", {"product_id": product_id})
    assert api.ok("/product/listV2", {"page": 1, "size": 10, "status": 1})["total"] == 0


# ------------------------------------------------------------------ faults


def test_fail_next_answers_retryable_platform_errors_then_serves(api, shop):
    set_faults(shop, fail_next=2)

    codes = [api.call("/order/logisticsCompanyList", {})["code"] for _ in range(3)]

    assert codes == [20000, 20000, 10000]
    assert list(DouyinCall.objects.order_by("pk").values_list("outcome", flat=True))[-3:] == [
        CallOutcome.ISP_ERROR, CallOutcome.ISP_ERROR, CallOutcome.OK]


def test_error_rate_one_answers_service_errors_or_timeouts(api, shop):
    set_faults(shop, error_rate=1.0)

    codes = {api.call("/order/logisticsCompanyList", {})["code"] for _ in range(8)}

    assert codes <= {20000, 20001} and codes


def test_above_the_calls_per_minute_the_shop_is_banned_and_told_for_how_long(api, shop):
    set_faults(shop, ban_calls_per_minute=3, ban_seconds=10)
    DouyinCall.objects.all().delete()

    bodies = [api.call("/order/logisticsCompanyList", {}) for _ in range(5)]

    assert [b["code"] for b in bodies] == [10000, 10000, 10000, 60000, 60000]
    assert bodies[3]["sub_code"] == "isp.traffic-limited"
    assert bodies[3]["sub_msg"] == "请求过于频繁，请10秒后重试"
    assert DouyinShop.objects.get(pk=shop.pk).banned_until > timezone.now()
    set_faults(shop, banned_until=timezone.now() - timedelta(seconds=1), ban_calls_per_minute=0)
    assert api.call("/order/logisticsCompanyList", {})["code"] == 10000


def test_a_dropped_answer_is_an_incomplete_read_over_a_real_connection(api, shop, base):
    set_faults(shop, drop_rate=1.0)
    address = urlsplit(base)
    method, stamp = "order.logisticsCompanyList", str(int(time.time()))
    query = {"app_key": APP_KEY, "method": method, "timestamp": stamp, "v": "2", "access_token": api.token,
             "sign_method": "md5",
             "sign": signing.sign(app_key=APP_KEY, secret=SECRET, method=method, param_json="{}", timestamp=stamp,
                                  sign_method="md5")}
    connection = http.client.HTTPConnection(address.hostname, address.port, timeout=10)

    connection.request("POST", f"{address.path}/order/logisticsCompanyList?{urlencode(query)}", "{}",
                       {"Content-Type": "application/json"})
    response = connection.getresponse()

    assert response.status == 200
    with pytest.raises(http.client.IncompleteRead):
        response.read()
    connection.close()
    assert DouyinCall.objects.order_by("pk").last().outcome == CallOutcome.DROPPED


def test_malformed_rate_one_answers_a_body_that_is_not_json(api, shop):
    set_faults(shop, malformed_rate=1.0)

    response = api.raw("/order/logisticsCompanyList", {})

    assert response.status_code == 200
    with pytest.raises(ValueError):
        json.loads(response.content)
    assert DouyinCall.objects.order_by("pk").last().outcome == CallOutcome.MALFORMED


def test_slow_rate_one_answers_after_slow_seconds(api, shop):
    set_faults(shop, slow_rate=1.0, slow_seconds=1.0)

    with pytest.raises(requests.Timeout):
        api.raw("/order/logisticsCompanyList", {}, timeout=0.3)
    started = time.monotonic()
    assert api.call("/order/logisticsCompanyList", {})["code"] == 10000
    assert time.monotonic() - started >= 1.0


def test_orders_move_while_a_client_pages_so_a_forward_pager_misses_some(api, shop):
    made = [marketplace.order_create(shop, lines=[("ERP-1", 1)], created=ago(minutes=50 - n)) for n in range(6)]
    set_faults(shop, move_on_page_rate=1.0, move_count=2)
    faults.seed(7)
    window = {"update_time_start": epoch(ago(hours=1)), "update_time_end": epoch(ago(minutes=1)), "size": 2,
              "order_by": "update_time", "order_asc": True}

    first = api.ok("/order/searchList", {**window, "page": 0})
    second = api.ok("/order/searchList", {**window, "page": 1})

    call = DouyinCall.objects.filter(method="order.searchList").order_by("pk").last()
    assert len(call.moved) == 2 and set(call.moved) <= {o.shop_order_id for o in made}
    assert DouyinCall.objects.filter(method="order.searchList").order_by("pk").first().moved == []  # page 0
    for order in DouyinOrder.objects.filter(shop_order_id__in=call.moved):
        assert order.update_time >= call.at.replace(microsecond=0)
    # The moved orders left the window under the pager: the total shrank, and reading on sees fewer orders.
    assert (first["total"], second["total"]) == (6, 4)
    seen = {o["order_id"] for page in (first, second) for o in page["shop_order_list"]}
    seen |= {o["order_id"] for o in api.ok("/order/searchList", {**window, "page": 2})["shop_order_list"]}
    assert len(seen) < 6
    # A window reaching up to now finds them again (a pager with overlap catches up).
    later = api.ok("/order/searchList", {**window, "update_time_end": epoch(ago()) + 5, "size": 100, "page": 0})
    assert set(call.moved) <= {o["order_id"] for o in later["shop_order_list"]}


def test_after_sales_settle_while_a_client_pages_them(api, shop):
    orders = [marketplace.order_create(shop, lines=[("ERP-1", 1)], created=ago(hours=2)) for _ in range(4)]
    opened = [marketplace.after_sale_create(order, at=ago(minutes=40 - n)) for n, order in enumerate(orders)]
    set_faults(shop, move_on_page_rate=1.0, move_count=1)
    window = {"update_start_time": epoch(ago(hours=1)), "update_end_time": epoch(ago(minutes=1)), "size": 2,
              "order_by": ["update_time asc"]}

    first = api.ok("/afterSale/List", {**window, "page": 0})
    second = api.ok("/afterSale/List", {**window, "page": 1})

    call = DouyinCall.objects.filter(method="afterSale.List").order_by("pk").last()
    assert len(call.moved) == 1 and call.moved[0] in {a.aftersale_id for a in opened}
    assert (first["total"], second["total"]) == (4, 3)
    assert DouyinAfterSale.objects.get(aftersale_id=call.moved[0]).aftersale_status == 12


def test_an_updated_order_shows_in_search_only_after_the_index_lag(api, shop):
    old = marketplace.order_create(shop, lines=[("ERP-1", 1)], created=ago(minutes=5))
    fresh = marketplace.order_create(shop, lines=[("ERP-1", 1)], created=ago(seconds=5))
    set_faults(shop, index_lag_seconds=60)
    window = {"update_time_start": epoch(ago(hours=1)), "update_time_end": epoch(ago()) + 5, "page": 0, "size": 10}

    found = [o["order_id"] for o in api.ok("/order/searchList", window)["shop_order_list"]]

    assert found == [old.shop_order_id]
    assert api.ok("/order/orderDetail", {"shop_order_id": fresh.shop_order_id})["shop_order_detail"]["order_id"]
    marketplace.after_sale_create(old)
    lagging = api.ok("/afterSale/List", {"update_start_time": epoch(ago(hours=1)), "update_end_time": epoch(ago()) + 5,
                                         "page": 0, "size": 10})
    assert lagging["total"] == 0
    set_faults(shop, index_lag_seconds=0)
    assert len(api.ok("/order/searchList", window)["shop_order_list"]) == 2


# ------------------------------------------------------------------ push messages


class Receiver:
    """A tiny callback URL: records each POST, answers with `answer` (a dict, or raw bytes)."""

    def __init__(self):
        self.posts: list[tuple[dict, bytes]] = []
        self.answer: dict | bytes = {"code": 0, "msg": "success"}
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                body = self.rfile.read(int(self.headers["Content-Length"]))
                receiver.posts.append(({k.lower(): v for k, v in self.headers.items()}, body))
                answer = receiver.answer
                payload = answer if isinstance(answer, bytes) else json.dumps(answer).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hooks/douyin/"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def close(self):
        self.server.shutdown()
        self.server.server_close()

    def messages(self) -> list[dict]:
        return [m for _headers, body in self.posts for m in json.loads(body)]


@pytest.fixture
def receiver(shop):
    server = Receiver()
    set_faults(shop, push_enabled=True, callback_url=server.url)
    shop.refresh_from_db()
    yield server
    server.close()


def test_order_changes_queue_the_tags_of_the_platform(shop, receiver):
    order = marketplace.order_create(shop, lines=[("ERP-1", 1), ("ERP-2", 1)], status=OrderStatus.UNPAID)
    marketplace.order_pay(order)
    marketplace.order_ship(shop, order.shop_order_id, company_code="shunfeng", logistics_code="SF1234567890123")
    marketplace.order_finish(order)
    cancelled = marketplace.order_create(shop, lines=[("ERP-1", 1)], status=OrderStatus.UNPAID)
    marketplace.order_cancel(cancelled)
    refunded = marketplace.order_create(shop, lines=[("ERP-2", 1)])
    marketplace.after_sale_settle(marketplace.after_sale_create(refunded), success=True)

    tags = list(DouyinPushMessage.objects.order_by("pk").values_list("tag", flat=True))

    assert tags == ["100", "101", "102", "103", "100", "106", "100", "101", "200", "206", "106"]
    paid = json.loads(DouyinPushMessage.objects.filter(tag="101").first().data)
    lines = list(order.sku_orders.order_by("sku_order_id").values_list("sku_order_id", flat=True))
    assert paid["p_id"] == int(order.shop_order_id) and paid["s_ids"] == [int(s) for s in lines]
    assert (paid["shop_id"], paid["order_status"]) == (SHOP_ID, OrderStatus.AWAITING_SHIPMENT)
    after_sale = json.loads(DouyinPushMessage.objects.get(tag="200").data)
    assert after_sale["p_id"] == int(refunded.shop_order_id) and after_sale["aftersale_status"] == 6
    assert DouyinOrder.objects.get(pk=refunded.pk).status == OrderStatus.CANCELLED


def test_no_messages_are_queued_while_push_is_off(shop):
    marketplace.order_create(shop, lines=[("ERP-1", 1)])

    assert not DouyinPushMessage.objects.exists()


def test_messages_are_posted_as_a_signed_json_array_and_marked_delivered_on_code_zero(shop, receiver):
    order = marketplace.order_create(shop, lines=[("ERP-1", 1)])

    counts = push.messages_deliver(shop, timezone.now())

    assert counts == {"delivered": 2, "failed": 0, "dropped": 0}
    (headers, body), = receiver.posts
    assert headers["app-id"] == APP_KEY
    assert signing.event_sign_matches(app_key=APP_KEY, secret=SECRET, body=body, signature=headers["event-sign"])
    messages = json.loads(body)
    assert [m["tag"] for m in messages] == ["100", "101"]
    assert all(isinstance(m["msg_id"], str) and isinstance(m["data"], str) for m in messages)
    assert json.loads(messages[0]["data"])["p_id"] == int(order.shop_order_id)
    assert not DouyinPushMessage.objects.filter(delivered_at__isnull=True).exists()
    assert push.messages_deliver(shop, timezone.now())["delivered"] == 0 and len(receiver.posts) == 1


@pytest.mark.parametrize("answer", [{"code": 1, "msg": "fail"}, b"not json"])
def test_a_batch_not_taken_is_delivered_again_later(shop, receiver, answer):
    marketplace.order_create(shop, lines=[("ERP-1", 1)])
    receiver.answer = answer
    now = timezone.now()

    assert push.messages_deliver(shop, now)["failed"] == 2
    assert push.messages_deliver(shop, now + timedelta(seconds=1))["failed"] == 0  # not due yet
    receiver.answer = {"code": 0, "msg": "success"}
    assert push.messages_deliver(shop, now + timedelta(seconds=3))["delivered"] == 2

    assert len(receiver.posts) == 2 and receiver.posts[0][1] == receiver.posts[1][1]
    assert set(DouyinPushMessage.objects.values_list("attempts", flat=True)) == {2}


def test_the_platform_gives_up_on_a_message_after_its_last_try(shop, receiver):
    marketplace.order_create(shop, lines=[("ERP-1", 1)])
    receiver.answer = {"code": 1}
    DouyinPushMessage.objects.update(attempts=push.ATTEMPTS_MAX - 1)

    assert push.messages_deliver(shop, timezone.now())["failed"] == 2

    assert DouyinPushMessage.objects.filter(dropped=True).count() == 2
    assert push.messages_deliver(shop, timezone.now() + timedelta(hours=1))["failed"] == 0


def test_an_unreachable_callback_leaves_the_messages_due(shop, receiver):
    marketplace.order_create(shop, lines=[("ERP-1", 1)])
    receiver.close()

    assert push.messages_deliver(shop, timezone.now())["failed"] == 2
    assert DouyinPushMessage.objects.filter(delivered_at__isnull=True, attempts=1).count() == 2


def test_push_drop_rate_drops_messages_for_good(shop, receiver):
    set_faults(shop, push_drop_rate=1.0)
    shop.refresh_from_db()
    marketplace.order_create(shop, lines=[("ERP-1", 1)])

    assert push.messages_deliver(shop, timezone.now()) == {"delivered": 0, "failed": 0, "dropped": 2}
    assert receiver.posts == []
    assert push.messages_deliver(shop, timezone.now() + timedelta(hours=1))["dropped"] == 0
