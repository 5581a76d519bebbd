"""The sandbox TOP gateway over HTTP: TOP's request checks, the methods' answers and paging, and the faults."""
import http.client
import json
from datetime import timedelta
from decimal import Decimal
from urllib.parse import urlencode, urlsplit

import pytest
from django.utils import timezone

from sync.marketplaces.top.signing import SIGN_METHODS, sign
from sync.marketplaces.top.times import from_top, to_top
from sync.marketplaces.top.sandbox import faults, marketplace
from sync.marketplaces.top.sandbox.models import CallOutcome, SandboxCall, SandboxMessage, SandboxShop, SandboxTrade

URL = "/sandbox/top/router/rest"
APP_KEY, SECRET, SESSION = "12345678", "sandbox-secret", "sandbox-session"
TRADE_FIELDS = "tid,status,type,created,modified,payment,has_buyer_message,buyer_message,seller_memo,orders"


@pytest.fixture
def shop(db):
    shop = marketplace.shop_create(app_key=APP_KEY, app_secret=SECRET, session=SESSION, nick="测试旗舰店")
    marketplace.items_from_products(shop, [
        ("ERP-1", "阿莫西林胶囊", Decimal("12.50"), 100),
        ("ERP-2", "布洛芬缓释胶囊", Decimal("23.00"), 50),
    ])
    return shop


def signed(method, *, sign_method="md5", secret=SECRET, **params) -> dict:
    """System + business parameters signed like a client would; a None value leaves the parameter out."""
    values = {
        "method": method, "app_key": APP_KEY, "session": SESSION, "timestamp": to_top(timezone.now()),
        "v": "2.0", "format": "json", "sign_method": sign_method, **params,
    }
    values = {key: str(value) for key, value in values.items() if value is not None}
    values["sign"] = sign(values, secret, sign_method)
    return values


def call(client, method, **params) -> dict:
    response = client.post(URL, signed(method, **params))
    assert response.status_code == 200
    return json.loads(response.content)


def error(body: dict) -> dict:
    assert set(body) == {"error_response"}, body
    return body["error_response"]


def tids(body: dict, key: str) -> list[int]:
    return [trade["tid"] for trade in body[key].get("trades", {}).get("trade", [])]


def ago(**delta):
    return (timezone.now() - timedelta(**delta)).replace(microsecond=0)


# ------------------------------------------------------------------ request checks


@pytest.mark.parametrize("sign_method", SIGN_METHODS)
def test_each_sign_method_is_accepted(client, shop, sign_method):
    body = call(client, "taobao.logistics.companies.get", fields="code,name", sign_method=sign_method)

    companies = body["logistics_companies_get_response"]["logistics_companies"]["logistics_company"]
    assert {"code": "SF", "name": "顺丰速运"} in companies


def test_system_params_in_the_query_and_business_params_in_the_body_are_one_request(client, shop):
    trade = marketplace.trade_create(shop, lines=[("ERP-1", 1)])
    params = signed("taobao.trade.fullinfo.get", fields="tid,status", tid=trade.tid)
    business = {name: params.pop(name) for name in ("fields", "tid")}

    response = client.post(f"{URL}?{urlencode(params)}", business)

    assert json.loads(response.content)["trade_fullinfo_get_response"]["trade"] == {
        "tid": trade.tid, "status": "WAIT_SELLER_SEND_GOODS",
    }


def test_get_requests_are_served_too(client, shop):
    response = client.get(URL, signed("taobao.logistics.companies.get", fields="code"))

    assert "logistics_companies_get_response" in json.loads(response.content)


def test_every_answer_carries_a_fresh_request_id(client, shop):
    first = call(client, "taobao.logistics.companies.get", fields="code")["logistics_companies_get_response"]
    second = call(client, "taobao.logistics.companies.get", fields="code")["logistics_companies_get_response"]
    failed = error(call(client, "taobao.no.such.method"))

    assert len({first["request_id"], second["request_id"], failed["request_id"]}) == 3


def _without(name):
    def change(params):
        params.pop(name)
        return params
    return change


def _replaced(name, value):
    def change(params):
        params[name] = value
        return params
    return change


def _resigned(**overrides):
    def change(params):
        kept = {k: v for k, v in params.items() if k not in ("method", "sign")}
        return signed(params["method"], **{**kept, **overrides})
    return change


def _skewed(minutes):
    """Re-signed with a timestamp `minutes` off the clock when the test runs."""
    def change(params):
        return _resigned(timestamp=to_top(timezone.now() + timedelta(minutes=minutes)))(params)
    return change


@pytest.mark.parametrize("change, code, sub_code", [
    (_without("method"), 21, None),
    (_replaced("app_key", "99999999"), 29, None),
    (_without("app_key"), 29, None),
    (_skewed(-11), 31, None),
    (_skewed(11), 31, None),
    (_resigned(timestamp="2024/01/01 00:00"), 31, None),
    (_without("timestamp"), 31, None),
    (_replaced("sign", "0" * 32), 25, None),
    (_without("sign"), 25, None),
    (_resigned(secret="wrong-secret"), 25, None),
    (_replaced("sign_method", "sha1"), 25, None),
    (_resigned(session=None), 26, None),
    (_resigned(session="someone-else"), 27, "invalid-sessionkey"),
])
def test_request_checks_answer_tops_error_codes(client, shop, change, code, sub_code):
    params = change(signed("taobao.trades.sold.get", fields="tid"))

    answer = error(json.loads(client.post(URL, params).content))

    assert answer["code"] == code
    assert answer.get("sub_code") == sub_code
    assert answer["request_id"]


def test_unknown_method_is_code_22(client, shop):
    assert error(call(client, "taobao.trades.sold.nothing"))["code"] == 22


def test_expired_session_is_code_27_session_expired(client, shop):
    SandboxShop.objects.filter(pk=shop.pk).update(session_expired=True)

    answer = error(call(client, "taobao.trades.sold.get", fields="tid"))

    assert (answer["code"], answer["sub_code"]) == (27, "session-expired")


def test_checks_run_in_tops_order(client, shop):
    stale_and_badly_signed = signed("taobao.trades.sold.get", fields="tid", session=None,
                                    timestamp=to_top(ago(hours=1)))
    stale_and_badly_signed["sign"] = "0" * 32
    unsigned_without_session = signed("taobao.trades.sold.get", fields="tid", session=None)
    unsigned_without_session["sign"] = "0" * 32

    assert error(json.loads(client.post(URL, stale_and_badly_signed).content))["code"] == 31
    assert error(json.loads(client.post(URL, unsigned_without_session).content))["code"] == 25


def test_message_channel_calls_need_no_session(client, shop):
    body = call(client, "taobao.tmc.messages.consume", session=None)

    assert "tmc_messages_consume_response" in body


@pytest.mark.parametrize("method, params, code, sub_code", [
    ("taobao.trades.sold.get", {}, 40, "isv.missing-parameter"),
    ("taobao.trade.fullinfo.get", {"fields": "tid"}, 40, "isv.missing-parameter"),
    ("taobao.trade.fullinfo.get", {"fields": "tid", "tid": "abc"}, 41, "isv.invalid-parameter"),
    ("taobao.trades.sold.increment.get", {"fields": "tid", "end_modified": "2024-01-01 10:00:00"},
     40, "isv.missing-parameter"),
    ("taobao.trades.sold.increment.get",
     {"fields": "tid", "start_modified": "2024-01-01 00:00:00", "end_modified": "2024-01-02 00:00:01"},
     41, "isv.invalid-parameter"),
    ("taobao.trades.sold.increment.get",
     {"fields": "tid", "start_modified": "2024-01-02 00:00:00", "end_modified": "2024-01-01 00:00:00"},
     41, "isv.invalid-parameter"),
    ("taobao.trades.sold.increment.get",
     {"fields": "tid", "start_modified": "yesterday", "end_modified": "2024-01-01 00:00:00"},
     41, "isv.invalid-parameter"),
    ("taobao.trades.sold.get", {"fields": "tid", "page_size": "101"}, 41, "isv.invalid-parameter"),
    ("taobao.trades.sold.get", {"fields": "tid", "page_size": "0"}, 41, "isv.invalid-parameter"),
    ("taobao.trades.sold.get", {"fields": "tid", "page_no": "0"}, 41, "isv.invalid-parameter"),
    ("taobao.trades.sold.get", {"fields": "tid", "status": "PAID_SOMEHOW"}, 41, "isv.invalid-parameter"),
    ("taobao.tmc.messages.consume", {"quantity": "5"}, 41, "isv.invalid-parameter"),
    ("taobao.tmc.messages.consume", {"quantity": "201"}, 41, "isv.invalid-parameter"),
    ("taobao.tmc.messages.confirm", {}, 40, "isv.missing-parameter"),
    ("taobao.tmc.messages.confirm", {"s_message_ids": ",".join(map(str, range(1, 202)))},
     41, "isv.invalid-parameter"),
    ("taobao.logistics.companies.get", {}, 40, "isv.missing-parameter"),
])
def test_missing_and_invalid_arguments(client, shop, method, params, code, sub_code):
    answer = error(call(client, method, **params))

    assert (answer["code"], answer["sub_code"]) == (code, sub_code)


def test_increment_window_of_exactly_one_day_is_allowed(client, shop):
    body = call(client, "taobao.trades.sold.increment.get", fields="tid",
                start_modified="2024-01-01 00:00:00", end_modified="2024-01-02 00:00:00")

    assert body["trades_sold_increment_get_response"]["total_results"] == 0


# ------------------------------------------------------------------ trades


def _trades_created_seconds_apart(shop, count, *, first):
    return [marketplace.trade_create(shop, lines=[("ERP-1", 1)], created=first + timedelta(seconds=i))
            for i in range(count)]


def test_sold_get_pages_by_created_newest_first_with_inclusive_bounds(client, shop):
    trades = _trades_created_seconds_apart(shop, 6, first=ago(hours=2))
    window = {"start_created": to_top(trades[1].created), "end_created": to_top(trades[4].created)}

    first = call(client, "taobao.trades.sold.get", fields="tid", page_size=3, **window)
    second = call(client, "taobao.trades.sold.get", fields="tid", page_size=3, page_no=2, **window)

    expected = [t.tid for t in reversed(trades[1:5])]
    assert tids(first, "trades_sold_get_response") == expected[:3]
    assert tids(second, "trades_sold_get_response") == expected[3:]
    assert first["trades_sold_get_response"]["total_results"] == 4
    assert first["trades_sold_get_response"]["has_next"] is True
    assert second["trades_sold_get_response"]["has_next"] is False


def test_trades_created_in_the_same_second_come_by_tid_descending(client, shop):
    moment = ago(minutes=5)
    trades = [marketplace.trade_create(shop, lines=[("ERP-1", 1)], created=moment) for _ in range(3)]

    body = call(client, "taobao.trades.sold.get", fields="tid", start_created=to_top(moment),
                end_created=to_top(moment))

    assert tids(body, "trades_sold_get_response") == sorted((t.tid for t in trades), reverse=True)


def test_use_has_next_answers_has_next_without_a_total(client, shop):
    _trades_created_seconds_apart(shop, 3, first=ago(hours=1))

    first = call(client, "taobao.trades.sold.get", fields="tid", page_size=2, use_has_next="true")
    last = call(client, "taobao.trades.sold.get", fields="tid", page_size=2, page_no=2, use_has_next="true")

    assert "total_results" not in first["trades_sold_get_response"]
    assert first["trades_sold_get_response"]["has_next"] is True
    assert last["trades_sold_get_response"]["has_next"] is False
    assert len(tids(last, "trades_sold_get_response")) == 1


def test_a_page_past_the_end_has_no_trades(client, shop):
    _trades_created_seconds_apart(shop, 2, first=ago(hours=1))

    body = call(client, "taobao.trades.sold.get", fields="tid", page_no=5)["trades_sold_get_response"]

    assert "trades" not in body
    assert body["total_results"] == 2


def test_sold_get_filters_by_status_and_type(client, shop):
    paid = marketplace.trade_create(shop, lines=[("ERP-1", 1)])
    unpaid = marketplace.trade_create(shop, lines=[("ERP-1", 1)], status="WAIT_BUYER_PAY")
    presale = marketplace.trade_create(shop, lines=[("ERP-2", 1)], type="step")

    def listed(**params):
        return set(tids(call(client, "taobao.trades.sold.get", fields="tid", **params), "trades_sold_get_response"))

    assert listed() == {paid.tid, unpaid.tid, presale.tid}
    assert listed(status="WAIT_BUYER_PAY") == {unpaid.tid, presale.tid}
    assert listed(status="ALL_WAIT_PAY") == {unpaid.tid, presale.tid}
    assert listed(type="step") == {presale.tid}
    assert listed(type="guarantee_trade,auto_delivery,ec,cod") == {paid.tid, unpaid.tid}


def test_increment_get_pages_by_modified_newest_first_with_inclusive_bounds(client, shop):
    base = ago(hours=3)
    trades = _trades_created_seconds_apart(shop, 5, first=base)
    for offset, trade in enumerate(trades):
        marketplace.trade_set_status(trade, "WAIT_BUYER_CONFIRM_GOODS", at=base + timedelta(minutes=10 - offset))
    window = {"start_modified": to_top(base + timedelta(minutes=7)), "end_modified": to_top(base + timedelta(minutes=9))}

    body = call(client, "taobao.trades.sold.increment.get", fields="tid,modified", **window)

    answer = body["trades_sold_increment_get_response"]
    assert [t["tid"] for t in answer["trades"]["trade"]] == [trades[1].tid, trades[2].tid, trades[3].tid]
    assert [t["modified"] for t in answer["trades"]["trade"]] == [
        to_top(base + timedelta(minutes=m)) for m in (9, 8, 7)
    ]
    assert answer["total_results"] == 3


def test_list_calls_leave_out_fullinfo_fields_and_fullinfo_has_them(client, shop):
    trade = marketplace.trade_create(shop, lines=[("ERP-1", 2)], buyer_message="请发顺丰")
    marketplace.trade_set_memo(trade, "VIP")

    listed = call(client, "taobao.trades.sold.get", fields=TRADE_FIELDS)["trades_sold_get_response"]
    window = {"start_modified": to_top(ago(hours=1)), "end_modified": to_top(ago(seconds=-5))}
    changed = call(client, "taobao.trades.sold.increment.get", fields=TRADE_FIELDS, **window)
    full = call(client, "taobao.trade.fullinfo.get", fields=TRADE_FIELDS, tid=trade.tid)

    for summary in (listed["trades"]["trade"][0], changed["trades_sold_increment_get_response"]["trades"]["trade"][0]):
        assert summary["has_buyer_message"] is True
        assert "buyer_message" not in summary and "seller_memo" not in summary
    detail = full["trade_fullinfo_get_response"]["trade"]
    assert (detail["buyer_message"], detail["seller_memo"]) == ("请发顺丰", "VIP")


def test_trades_come_in_tops_shape(client, shop):
    created = ago(minutes=30)
    trade = marketplace.trade_create(shop, lines=[("ERP-1", 2), ("ERP-2", 1), ("NOT-LISTED", 1)], created=created)

    answer = call(client, "taobao.trade.fullinfo.get", fields="tid,payment,created,pay_time,orders", tid=trade.tid)

    detail = answer["trade_fullinfo_get_response"]["trade"]
    assert detail["payment"] == "58.00"
    assert detail["created"] == to_top(created) and from_top(detail["pay_time"]) == created
    lines = detail["orders"]["order"]
    assert [(line["outer_sku_id"], line["num"], line["price"], line["total_fee"]) for line in lines] == [
        ("ERP-1", 2, "12.50", "25.00"), ("ERP-2", 1, "23.00", "23.00"), ("NOT-LISTED", 1, "10.00", "10.00"),
    ]
    assert isinstance(lines[0]["sku_id"], str) and lines[0]["num_iid"] > 0
    assert lines[2]["num_iid"] == 0
    assert all(line["refund_status"] == "NO_REFUND" for line in lines)
    assert len({trade.tid, *(line["oid"] for line in lines)}) == 4


def test_orders_dot_fields_bring_only_those_line_fields(client, shop):
    marketplace.trade_create(shop, lines=[("ERP-1", 2)])

    body = call(client, "taobao.trades.sold.get", fields="tid,orders.oid,orders.outer_sku_id")

    (line,) = body["trades_sold_get_response"]["trades"]["trade"][0]["orders"]["order"]
    assert set(line) == {"oid", "outer_sku_id"}


def test_fullinfo_of_an_unknown_or_foreign_trade_is_trade_not_exist(client, shop):
    other = marketplace.shop_create(app_key="other-app", app_secret="x", session="y")
    marketplace.items_from_products(other, [("ERP-9", "其他", Decimal("1.00"), 1)])
    foreign = marketplace.trade_create(other, lines=[("ERP-9", 1)])

    for tid in (foreign.tid, 1):
        answer = error(call(client, "taobao.trade.fullinfo.get", fields="tid", tid=tid))
        assert (answer["code"], answer["sub_code"]) == (15, "isv.trade-not-exist")


# ------------------------------------------------------------------ refunds


def test_refunds_receive_get_lists_refunds_by_modified(client, shop):
    now = ago(seconds=0)
    trade = marketplace.trade_create(shop, lines=[("ERP-1", 1), ("ERP-2", 1)])
    first = marketplace.refund_create(trade, at=now - timedelta(minutes=20))
    second = marketplace.refund_create(trade, at=now - timedelta(minutes=10))
    marketplace.refund_set_status(second, "SUCCESS", at=now - timedelta(minutes=5))

    body = call(client, "taobao.refunds.receive.get", fields="refund_id,tid,oid,status,refund_fee,modified",
                start_modified=to_top(ago(hours=1)), end_modified=to_top(ago(seconds=-5)))
    waiting = call(client, "taobao.refunds.receive.get", fields="refund_id", status="WAIT_SELLER_AGREE")

    refunds = body["refunds_receive_get_response"]["refunds"]["refund"]
    assert [r["refund_id"] for r in refunds] == [str(second.refund_id), str(first.refund_id)]
    assert refunds[0] == {
        "refund_id": str(second.refund_id), "tid": trade.tid, "oid": trade.lines[1]["oid"], "status": "SUCCESS",
        "refund_fee": "23.00", "modified": to_top(now - timedelta(minutes=5)),
    }
    assert body["refunds_receive_get_response"]["total_results"] == 2
    assert waiting["refunds_receive_get_response"]["refunds"]["refund"] == [{"refund_id": str(first.refund_id)}]


# ------------------------------------------------------------------ TMC


def test_message_channel_delivers_confirms_and_redelivers(client, shop):
    assert call(client, "taobao.tmc.user.permit")["tmc_user_permit_response"]["is_success"] is True
    trade = marketplace.trade_create(shop, lines=[("ERP-1", 1)], status="WAIT_BUYER_PAY")
    marketplace.trade_advance(trade)

    delivered = call(client, "taobao.tmc.messages.consume", quantity=10)["tmc_messages_consume_response"]
    again = call(client, "taobao.tmc.messages.consume", quantity=10)["tmc_messages_consume_response"]

    messages = delivered["messages"]["tmc_message"]
    assert [m["topic"] for m in messages] == ["taobao_trade_TradeCreate", "taobao_trade_TradeBuyerPay"]
    content = json.loads(messages[1]["content"])
    assert (content["tid"], content["status"], content["payment"]) == (trade.tid, "WAIT_SELLER_SEND_GOODS", "12.50")
    assert messages[0]["user_id"] == shop.user_id and messages[0]["user_nick"] == "测试旗舰店"
    assert from_top(messages[0]["pub_time"]) == trade.created
    assert "messages" not in again  # not due again for redeliver_after_seconds

    SandboxShop.objects.filter(pk=shop.pk).update(redeliver_after_seconds=0)
    call(client, "taobao.tmc.messages.confirm", s_message_ids=str(messages[0]["id"]))
    redelivered = call(client, "taobao.tmc.messages.consume")["tmc_messages_consume_response"]

    assert [m["id"] for m in redelivered["messages"]["tmc_message"]] == [messages[1]["id"]]


def test_without_the_channel_permitted_nothing_is_published(client, shop):
    marketplace.trade_create(shop, lines=[("ERP-1", 1)])

    body = call(client, "taobao.tmc.messages.consume")

    assert "messages" not in body["tmc_messages_consume_response"]
    assert not SandboxMessage.objects.exists()


def test_consume_hands_out_at_most_quantity_messages_oldest_first(client, shop):
    marketplace.tmc_permit(shop)
    now = ago(seconds=0)
    for minutes in range(12, 0, -1):
        marketplace.trade_create(shop, lines=[("ERP-1", 1)], status="WAIT_BUYER_PAY",
                                 created=now - timedelta(minutes=minutes))

    body = call(client, "taobao.tmc.messages.consume", quantity=10)

    times = [m["pub_time"] for m in body["tmc_messages_consume_response"]["messages"]["tmc_message"]]
    assert len(times) == 10 and times == sorted(times) and times[0] == to_top(now - timedelta(minutes=12))


# ------------------------------------------------------------------ logistics


def test_logistics_companies_answers_the_carriers_with_the_asked_fields(client, shop):
    body = call(client, "taobao.logistics.companies.get", fields="id,code,name")

    companies = body["logistics_companies_get_response"]["logistics_companies"]["logistics_company"]
    assert {c["code"] for c in companies} == {"SF", "YTO", "ZTO", "STO", "YUNDA", "EMS", "JD", "DBL"}
    assert all(set(c) == {"id", "code", "name"} for c in companies)


# ------------------------------------------------------------------ faults


def _faults(shop, **fields):
    SandboxShop.objects.filter(pk=shop.pk).update(**fields)


def test_error_rate_one_answers_a_platform_error(client, shop):
    _faults(shop, error_rate=1.0)

    answers = [error(call(client, "taobao.trades.sold.get", fields="tid")) for _ in range(4)]

    assert all(a["code"] in (10, 15) and a["sub_code"].startswith("isp.") for a in answers)
    assert SandboxCall.objects.filter(outcome=CallOutcome.ISP_ERROR).count() == 4


def test_drop_rate_one_sends_half_the_announced_body_and_closes(client, shop):
    _faults(shop, drop_rate=1.0)

    response = client.post(URL, signed("taobao.trades.sold.get", fields="tid"))

    assert int(response["Content-Length"]) > len(response.content) > 0
    assert response["Connection"] == "close"
    assert SandboxCall.objects.get().outcome == CallOutcome.DROPPED


@pytest.mark.django_db(transaction=True)
def test_a_dropped_answer_is_an_incomplete_read_over_a_real_connection(live_server):
    marketplace.shop_create(app_key=APP_KEY, app_secret=SECRET, session=SESSION)
    _faults(SandboxShop.objects.get(), drop_rate=1.0)
    address = urlsplit(live_server.url)
    connection = http.client.HTTPConnection(address.hostname, address.port, timeout=10)

    connection.request("POST", URL, urlencode(signed("taobao.logistics.companies.get", fields="code,name")),
                       {"Content-Type": "application/x-www-form-urlencoded;charset=UTF-8"})
    response = connection.getresponse()

    assert response.status == 200
    with pytest.raises(http.client.IncompleteRead):
        response.read()
    connection.close()


def test_malformed_rate_one_answers_a_body_that_is_not_json(client, shop):
    _faults(shop, malformed_rate=1.0)

    response = client.post(URL, signed("taobao.trades.sold.get", fields="tid"))

    assert response.status_code == 200
    assert int(response["Content-Length"]) == len(response.content)
    with pytest.raises(json.JSONDecodeError):
        json.loads(response.content)


def test_slow_rate_one_waits_slow_seconds_then_answers(client, shop, monkeypatch):
    waits = []
    monkeypatch.setattr(faults, "sleep", waits.append)
    _faults(shop, slow_rate=1.0, slow_seconds=0.01)

    body = call(client, "taobao.trades.sold.get", fields="tid")

    assert waits == [0.01]
    assert "trades_sold_get_response" in body


def test_more_calls_than_the_limit_in_a_minute_are_banned_for_ban_seconds(client, shop):
    _faults(shop, ban_calls_per_minute=2, ban_seconds=10)

    answers = [call(client, "taobao.trades.sold.get", fields="tid") for _ in range(4)]

    assert all("trades_sold_get_response" in answer for answer in answers[:2])
    banned = error(answers[2])
    assert banned["code"] == 7
    assert banned["sub_code"] == "accesscontrol.limited-by-app-access-count"
    assert banned["sub_msg"] == "This ban will last for 10 more seconds"
    assert error(answers[3])["code"] == 7  # still within the ban

    # A minute later, with the ban over, calls go through again.
    SandboxCall.objects.update(at=ago(minutes=2))
    _faults(shop, banned_until=ago(seconds=1))
    assert "trades_sold_get_response" in call(client, "taobao.trades.sold.get", fields="tid")


def test_fail_next_fails_exactly_that_many_calls(client, shop):
    _faults(shop, fail_next=2)

    answers = [call(client, "taobao.trades.sold.get", fields="tid") for _ in range(3)]

    assert [error(a)["sub_code"] for a in answers[:2]] == ["isp.top-remote-service-unavailable"] * 2
    assert "trades_sold_get_response" in answers[2]
    assert SandboxShop.objects.get().fail_next == 0


def test_ban_next_seconds_bans_from_the_next_call(client, shop):
    _faults(shop, ban_next_seconds=5)

    first = error(call(client, "taobao.trades.sold.get", fields="tid"))
    second = error(call(client, "taobao.trades.sold.get", fields="tid"))

    assert (first["code"], first["sub_msg"]) == (7, "This ban will last for 5 more seconds")
    assert second["code"] == 7
    assert SandboxShop.objects.get().ban_next_seconds == 0


def test_rates_replay_with_the_same_seed(client, shop):
    _faults(shop, error_rate=0.5)

    def outcomes():
        faults.seed(7)
        return ["error_response" in call(client, "taobao.trades.sold.get", fields="tid") for _ in range(12)]

    first = outcomes()
    assert first == outcomes()
    assert any(first) and not all(first)


def test_move_on_page_changes_trades_in_the_window_from_page_two(client, shop):
    marketplace.tmc_permit(shop)
    base = ago(hours=2)
    trades = _trades_created_seconds_apart(shop, 8, first=base)
    _faults(shop, move_on_page_rate=1.0, move_count=3)
    window = {"start_modified": to_top(base), "end_modified": to_top(base + timedelta(minutes=1))}
    messages_before = SandboxMessage.objects.count()

    call(client, "taobao.trades.sold.increment.get", fields="tid", page_size=4, **window)
    unmoved = SandboxTrade.objects.filter(modified__lte=base + timedelta(minutes=1)).count()
    second = call(client, "taobao.trades.sold.increment.get", fields="tid", page_size=4, page_no=2, **window)

    moved = SandboxTrade.objects.filter(modified__gt=base + timedelta(minutes=1))
    assert unmoved == 8
    assert moved.count() == 3
    assert all(t.status == "WAIT_BUYER_CONFIRM_GOODS" for t in moved)
    assert SandboxMessage.objects.count() == messages_before + 3
    # The client paging on sees the window shrunk under it: three trades it has not seen may be gone.
    assert second["trades_sold_increment_get_response"]["total_results"] == 5
    assert {t.tid for t in trades} >= {t.tid for t in moved}


def test_calls_are_recorded_per_method(client, shop):
    call(client, "taobao.trades.sold.get", fields="tid")
    call(client, "taobao.trades.sold.get")
    call(client, "taobao.logistics.companies.get", fields="code")

    recorded = list(SandboxCall.objects.order_by("pk").values_list("method", "outcome", "code"))
    assert recorded == [
        ("taobao.trades.sold.get", "ok", None), ("taobao.trades.sold.get", "error", 40),
        ("taobao.logistics.companies.get", "ok", None),
    ]
