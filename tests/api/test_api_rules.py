"""The rules docs/api.md states for every endpoint: the language of messages, JSON errors for any /api/ path,
unknown query parameters refused everywhere, the per-key rate limit, take ids for a lost marking answer, and
what `changed` means."""
import json
import uuid

import pytest
from django.urls import URLPattern, get_resolver

from merchant.api.auth import ApiError
from merchant.api.language import language_from_header
from merchant.api.rate_limit import rate_limit_check
from merchant.models import Order, OrderTake
from tests.factories import OrderFactory

pytestmark = pytest.mark.django_db


def _json(response):
    return json.loads(response.content)


# Languages ------------------------------------------------------------------------------------------------

@pytest.mark.parametrize("header, language", [
    ("", "en"), ("*", "en"), ("en", "en"), ("fr", "en"), ("de, *", "en"), ("zh;q=0", "en"),
    ("zh-hans", "zh-hans"), ("zh-CN", "zh-hans"), ("zh", "zh-hans"), ("zh-CN,zh;q=0.9,en;q=0.8", "zh-hans"),
    ("en;q=0.5, zh-hans;q=0.9", "zh-hans"), ("zh;q=0.5, *", "en"), ("en-US,en;q=0.9,zh-CN;q=0.8", "en"),
    ("fr;q=1, zh-hans;q=0.1", "zh-hans"), ("zh-hans;q=abc", "en"),
])
def test_the_language_rule_english_unless_chinese_is_preferred_by_q_value(header, language):
    assert language_from_header(header) == language


@pytest.mark.parametrize("header", ["*", "en", "fr", "zh;q=0.5, en"])
def test_whole_request_and_item_messages_are_english_unless_chinese_is_asked(erp, header):
    whole = _json(erp.post("stock", {"items": []}, headers={"Accept-Language": header}))
    item = _json(erp.post("products", {"items": [{"erp_product_id": "NOPE", "name": "N"}]},
                          headers={"Accept-Language": header}))
    order_item = _json(erp.post("orders/logistics", {"items": [{"order_no": "NOPE", "carrier_code": "SF",
                                                                  "tracking_no": "T"}]},
                                headers={"Accept-Language": header}))

    assert whole["error"]["message"] == '"items" is empty'
    assert item["results"][0]["errors"][0]["message"] == "required for a new product"
    assert order_item["results"][0]["errors"][0]["message"] == "no order with this number"


@pytest.mark.parametrize("header", ["zh-hans", "zh-CN,zh;q=0.9,en;q=0.8", "en;q=0.3, zh;q=0.8"])
def test_whole_request_and_item_messages_are_chinese_when_asked(erp, header):
    whole = _json(erp.post("stock", {"items": []}, headers={"Accept-Language": header}))
    item = _json(erp.post("products", {"items": [{"erp_product_id": "NOPE", "name": "N"}]},
                          headers={"Accept-Language": header}))
    order_item = _json(erp.post("orders/logistics", {"items": [{"order_no": "NOPE", "carrier_code": "SF",
                                                                  "tracking_no": "T"}]},
                                headers={"Accept-Language": header}))
    query = _json(erp.get("orders", {"limit": "0"}, headers={"Accept-Language": header}))

    assert whole["error"] == {"code": "items_required", "message": '"items" 为空'}
    assert item["results"][0]["errors"][0]["message"] == "新建商品时必填"
    unknown = _json(erp.post("stock", {"items": [{"erp_product_id": "NOPE", "stock": 1}]},
                             headers={"Accept-Language": header}))
    assert unknown["results"][0]["errors"][0]["message"] == "没有这个 ERP 商品编码的商品"
    assert order_item["results"][0]["errors"][0]["message"] == "没有这个单号的订单"
    assert query["error"]["code"] == "bad_parameter" and query["error"]["message"].startswith("limit：应为")


# JSON errors for any /api/ path ----------------------------------------------------------------------------

@pytest.mark.parametrize("path", ["/api/v1/nope", "/api/v1/orders/takes", "/api/v1/stock/extra", "/api/v2/stock",
                                  "/api/", "/api/v1/"])
def test_a_path_no_endpoint_serves_answers_the_json_error_envelope(client, path):
    response = client.get(path, HTTP_ACCEPT_LANGUAGE="*")

    assert response.status_code == 404 and response["Content-Type"] == "application/json"
    assert _json(response)["error"] == {
        "code": "not_found", "message": f"no such endpoint: {path} (the endpoints are listed in GET "
                                        f"/api/v1/openapi.json)"}


def test_the_back_office_reference_page_under_api_still_answers(client, owner):
    client.force_login(owner)
    assert client.get("/api/docs/").status_code == 200


@pytest.mark.parametrize("path, method", [("/api/v1/stock", "get"), ("/api/v1/orders", "post"),
                                          ("/api/v1/openapi.json", "put"), ("/api/v1/orders/takes/tk_1", "delete")])
def test_a_wrong_method_answers_the_json_error_envelope(client, path, method):
    response = getattr(client, method)(path)

    assert response.status_code == 405 and _json(response)["error"]["code"] == "method_not_allowed"


# Unknown query parameters: refused on every endpoint ---------------------------------------------------------

GET_ROUTES = {"whoami", "orders", "orders/takes/tk_x", "carriers"}


def _endpoints():
    for pattern in get_resolver("merchant.api.urls").url_patterns:
        if isinstance(pattern, URLPattern) and pattern.name != "api_not_found":
            yield pattern


@pytest.mark.parametrize("pattern", list(_endpoints()), ids=lambda pattern: pattern.name)
def test_every_endpoint_refuses_an_unknown_query_parameter(erp, client, pattern):
    route = str(pattern.pattern).replace("<str:take_id>", "tk_x")
    if route == "openapi.json":
        response = client.get("/api/v1/openapi.json?stauts=shipped")
    elif route in GET_ROUTES:
        response = erp.get(route, {"stauts": "shipped"})
    else:
        response = erp.post(f"{route}?stauts=shipped", {"items": [{}]})

    assert response.status_code == 400, route
    assert _json(response)["error"] == {"code": "unknown_parameter",
                                        "message": "unknown query parameter(s): stauts"}


# Rate limit per key ------------------------------------------------------------------------------------------

def test_past_the_rate_limit_a_key_is_refused_with_retry_after_and_another_key_is_not(erp, erp_b, settings):
    settings.API_RATE_LIMIT, settings.API_RATE_WINDOW = 2, 3600

    answers = [erp.get("whoami") for _ in range(3)]
    other = erp_b.get("whoami")

    assert [a.status_code for a in answers] == [200, 200, 429]
    assert _json(answers[2])["error"]["code"] == "rate_limited"
    assert 1 <= int(answers[2]["Retry-After"]) <= 3600
    assert other.status_code == 200


def test_the_window_ends_where_retry_after_says(erp, settings):
    settings.API_RATE_LIMIT, settings.API_RATE_WINDOW = 1, 60
    credential = type("Key", (), {"key": f"window-test-{uuid.uuid4().hex}"})()

    rate_limit_check(credential, now=6000.0)
    with pytest.raises(ApiError) as refused:
        rate_limit_check(credential, now=6045.5)
    rate_limit_check(credential, now=6060.0)  # the next window

    assert (refused.value.status, refused.value.retry_after) == (429, 15)


def test_a_forged_request_does_not_use_up_the_allowance(erp, client, settings):
    settings.API_RATE_LIMIT, settings.API_RATE_WINDOW = 1, 3600
    for _ in range(3):
        client.get("/api/v1/whoami", HTTP_X_API_KEY=erp.key, HTTP_X_API_TIMESTAMP="1", HTTP_X_API_NONCE="n" * 8,
                   HTTP_X_API_SIGNATURE="0")

    assert erp.get("whoami").status_code == 200


# Takes: a lost marking answer fetched again ------------------------------------------------------------------

def test_a_lost_marking_answer_is_fetched_again_by_its_take_id(erp, merchant_a):
    orders = [OrderFactory(merchant=merchant_a, order_no=f"T{n}") for n in range(3)]

    first = _json(erp.get("orders", {"sync_status": "not_taken", "limit": "2"}))
    # The answer is lost; the orders are taken now and no longer come back as not taken.
    assert [o["order_no"] for o in _json(erp.get("orders", {"sync_status": "not_taken"}))["orders"]] == ["T2"]
    Order.objects.filter(pk=orders[0].pk).update(tracking_no="SF9")
    again = _json(erp.get(f"orders/takes/{first['take_id']}"))

    assert first["take_id"].startswith("tk_") and first["newly_marked"] == 2
    assert [o["order_no"] for o in again["orders"]] == ["T0", "T1"]
    assert again["orders"][0]["shipping"]["tracking_no"] == "SF9"  # as they are now
    assert (again["next_cursor"], again["take_id"], again["newly_marked"], again["marked"]) == (
        first["next_cursor"], first["take_id"], 0, True)
    assert [o["order_no"] for o in _json(erp.get("orders", {"sync_status": "not_taken",
                                                           "cursor": again["next_cursor"]}))["orders"]] == []


def test_an_answer_that_marks_nothing_has_no_take_id(erp, merchant_a):
    OrderFactory(merchant=merchant_a)

    answer = _json(erp.get("orders", {"mark": "false"}))

    assert answer["take_id"] is None and not OrderTake.objects.exists()


def test_another_merchants_take_and_an_old_take_are_unknown(erp, erp_b, merchant_a):
    OrderFactory(merchant=merchant_a)
    take_id = _json(erp.get("orders"))["take_id"]

    refused = erp_b.get(f"orders/takes/{take_id}")
    OrderTake.objects.update(created_at=OrderTake.objects.get().created_at.replace(year=2020))
    expired = erp.get(f"orders/takes/{take_id}")

    assert refused.status_code == expired.status_code == 404
    assert _json(refused)["error"]["code"] == _json(expired)["error"]["code"] == "unknown_take"


def test_takes_past_the_keeping_time_are_deleted_when_a_new_one_is_recorded(erp, merchant_a):
    OrderFactory(merchant=merchant_a)
    erp.get("orders")
    OrderTake.objects.update(created_at=OrderTake.objects.get().created_at.replace(year=2020))

    erp.get("orders")

    assert OrderTake.objects.count() == 1 and OrderTake.objects.get().created_at.year != 2020


# `changed` -----------------------------------------------------------------------------------------------------

def test_changed_is_true_for_a_brand_new_product_and_false_when_sent_again(erp):
    item = {"erp_product_id": "NEW-1", "name": "New", "default_price": 3}

    _status, first = erp.items("products", item)
    _status, second = erp.items("products", item)

    assert (first["results"][0]["status"], first["results"][0]["changed"]) == ("ok", True)
    assert second["results"][0]["changed"] is False


def test_the_back_office_reference_page_without_its_slash_still_redirects(client):
    response = client.get("/api/docs")

    assert response.status_code == 301 and response["Location"] == "/api/docs/"
