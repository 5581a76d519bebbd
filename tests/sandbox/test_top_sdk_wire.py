"""The official TOP Python SDK, as it speaks on the wire, works unchanged against the sandbox.

The SDK is not on the package registry (it is downloaded from the open platform's console), so this test
reproduces what its `top/api/base.py` RestApi.getResponse sends: a POST to the gateway's own path /router/rest,
the system parameters (format, app_key, sign_method, v=2.0, timestamp as epoch milliseconds, partner_id,
method, session) in the query string, the application parameters as a form body, the signature over both.
It runs over a real connection to the live server, with md5 (the SDK's default) and both hmac methods.
"""
import hashlib
import http.client
import json
import time
from decimal import Decimal
from urllib.parse import urlencode, urlsplit

import pytest

from sync.marketplaces.top.signing import sign as reference_sign
from sync.marketplaces.top.sandbox import marketplace
from sync.marketplaces.top.sandbox.models import SandboxSku

pytestmark = pytest.mark.django_db(transaction=True)

APP_KEY, SECRET, SESSION = "23456789", "sdk-secret", "sdk-session"
PARTNER_ID = "taobao-sdk-python-20200428"


def sdk_md5_sign(secret: str, parameters: dict) -> str:
    """top/api/base.py sign(): md5 of secret + key1value1key2value2... (keys sorted) + secret, upper case."""
    keys = sorted(parameters)
    text = secret + "".join(f"{key}{parameters[key]}" for key in keys) + secret
    return hashlib.md5(text.encode("utf-8")).hexdigest().upper()


def sdk_call(base_url: str, method: str, application: dict, *, sign_method: str = "md5") -> dict:
    system = {"format": "json", "app_key": APP_KEY, "sign_method": sign_method, "v": "2.0",
              "timestamp": str(int(time.time() * 1000)), "partner_id": PARTNER_ID, "method": method,
              "session": SESSION}
    application = {key: str(value) for key, value in application.items()}
    signed = {**system, **application}
    system["sign"] = sdk_md5_sign(SECRET, signed) if sign_method == "md5" else reference_sign(
        signed, SECRET, sign_method)
    address = urlsplit(base_url)
    connection = http.client.HTTPConnection(address.hostname, address.port, timeout=10)
    connection.request("POST", "/router/rest?" + urlencode(system), body=urlencode(application), headers={
        "Content-type": "application/x-www-form-urlencoded;charset=UTF-8", "Cache-Control": "no-cache",
        "Connection": "Keep-Alive"})
    response = connection.getresponse()
    assert response.status == 200
    body = json.loads(response.read())
    connection.close()
    return body


@pytest.fixture
def shop():
    shop = marketplace.shop_create(app_key=APP_KEY, app_secret=SECRET, session=SESSION, nick="SDK旗舰店")
    marketplace.items_from_products(shop, [("ERP-1", "阿莫西林胶囊", Decimal("12.50"), 100),
                                           ("ERP-2", "布洛芬缓释胶囊", Decimal("23.00"), 50)])
    marketplace.trade_create(shop, lines=[("ERP-1", 2)], buyer_nick="张三")
    marketplace.trade_create(shop, lines=[("ERP-2", 1)], buyer_nick="李四")
    return shop


@pytest.mark.parametrize("sign_method", ["md5", "hmac", "hmac-sha256"])
def test_the_sdk_request_lists_trades_with_an_epoch_millisecond_timestamp(live_server, shop, sign_method):
    body = sdk_call(live_server.url, "taobao.trades.sold.get", {"fields": "tid,buyer_nick,status"},
                    sign_method=sign_method)
    trades = body["trades_sold_get_response"]["trades"]["trade"]
    assert sorted(t["buyer_nick"] for t in trades) == ["张三", "李四"]


def test_buyer_nick_filters_the_trades(live_server, shop):
    body = sdk_call(live_server.url, "taobao.trades.sold.get", {"fields": "tid,buyer_nick", "buyer_nick": "李四"})
    assert [t["buyer_nick"] for t in body["trades_sold_get_response"]["trades"]["trade"]] == ["李四"]


def test_the_item_calls_an_integrator_makes_first_are_served(live_server, shop):
    items = sdk_call(live_server.url, "taobao.items.onsale.get", {"fields": "num_iid,title,outer_id"})
    listed = items["items_onsale_get_response"]["items"]["item"]
    num_iid = listed[0]["num_iid"]
    item = sdk_call(live_server.url, "taobao.item.seller.get", {"fields": "num_iid,title,skus", "num_iid": num_iid})
    sku = item["item_seller_get_response"]["item"]["skus"]["sku"][0]
    skus = sdk_call(live_server.url, "taobao.skus.custom.get", {"fields": "sku_id,quantity", "outer_id": "ERP-1"})
    assert skus["skus_custom_get_response"]["skus"]["sku"]

    updated = sdk_call(live_server.url, "taobao.item.quantity.update",
                       {"num_iid": num_iid, "sku_id": sku["sku_id"], "quantity": 7})
    assert updated["item_quantity_update_response"]["item"]["skus"]["sku"][0]["quantity"] == 7
    assert SandboxSku.objects.get(sku_id=sku["sku_id"]).quantity == 7
    delta = sdk_call(live_server.url, "taobao.item.quantity.update",
                     {"num_iid": num_iid, "sku_id": sku["sku_id"], "quantity": -2, "type": 2})
    assert delta["item_quantity_update_response"]["item"]["skus"]["sku"][0]["quantity"] == 5


def test_a_timestamp_far_off_is_refused_whichever_form_it_has(live_server, shop):
    address = urlsplit(live_server.url)
    stale = str(int((time.time() - 3600) * 1000))
    system = {"format": "json", "app_key": APP_KEY, "sign_method": "md5", "v": "2.0", "timestamp": stale,
              "partner_id": PARTNER_ID, "method": "taobao.trades.sold.get", "session": SESSION}
    application = {"fields": "tid"}
    system["sign"] = sdk_md5_sign(SECRET, {**system, **application})
    connection = http.client.HTTPConnection(address.hostname, address.port, timeout=10)
    connection.request("POST", "/router/rest?" + urlencode(system), body=urlencode(application),
                       headers={"Content-type": "application/x-www-form-urlencoded;charset=UTF-8"})
    error = json.loads(connection.getresponse().read())["error_response"]
    connection.close()
    assert (error["code"], error["msg"]) == (31, "Invalid Timestamp")
