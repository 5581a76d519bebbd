"""Unusual answers (SPEC S13, sync/anomalies.py): the shape of a method's normal answers is learned, and answers
that differ (a field missing, a new type, HTML or an empty body with status 200, an unknown error code) are
grouped and raised once, without stopping the call that can go on. The TOP and ERP clients are run against
local servers that answer what each test scripts."""
import json

import pytest

from merchant.models import Notification
from sync import anomalies
from sync.erp.client import ErpClient
from sync.marketplaces.top.client import TopClient
from sync.errors import BusinessError, MalformedAnswer, Permanent
from sync.models import AnomalyKind, AnswerAnomaly, AnswerShape
from tests.factories import ConnectionFactory
from tests.outbound_servers import answer

LEARN = 3
METHOD = "taobao.trades.sold.get"


@pytest.fixture(autouse=True)
def short_learning(settings):
    settings.ANOMALY_LEARN_ANSWERS = LEARN


def trade(tid: int, **extra) -> dict:
    return {"tid": tid, "status": "WAIT_SELLER_SEND_GOODS", "payment": "12.50", "modified": "2026-12-01 10:00:00",
            **extra}


def trades_answer(trades: list[dict] | None, total: int | None = None) -> dict:
    body = {"total_results": len(trades or []) if total is None else total, "has_next": False}
    if trades:
        body["trades"] = {"trade": trades}
    return {"trades_sold_get_response": body}


class Script:
    """A behaviour answering each request with the next scripted (status, body) answer; the last repeats."""

    def __init__(self, answers):
        self.answers = list(answers)
        self.served = 0

    def __call__(self, server, conn, request):
        status, body = self.answers[min(self.served, len(self.answers) - 1)]
        self.served += 1
        data = body if isinstance(body, bytes) else json.dumps(body).encode()
        server.send(conn, answer(status, data))


def top_client(url) -> TopClient:
    return TopClient(ConnectionFactory(gateway_url=f"{url}/router/rest", sign_method="md5", calls_per_minute=100000))


def learned_top(serve, *then):
    normal = [("200 OK", trades_answer([trade(n), trade(n + 1)])) for n in range(1, LEARN + 1)]
    script = Script([*normal, *then])
    client = top_client(serve(script).url)
    for _ in range(LEARN):
        client.call(METHOD)
    return client


# --- the shape of one answer ----------------------------------------------------------------------------------


def test_answer_shape_names_each_field_by_path_with_its_types():
    shape, partial = anomalies.answer_shape(trades_answer([trade(1), trade(2, step_trade_status="FRONT_PAID")]))
    assert shape["trades_sold_get_response.trades.trade[].tid"] == {"integer"}
    assert shape["trades_sold_get_response.trades.trade[].payment"] == {"string"}
    assert shape["trades_sold_get_response.trades.trade"] == {"array"}
    assert partial == {"trades_sold_get_response.trades.trade[].step_trade_status"}


def test_an_answer_with_too_many_fields_has_no_shape():
    assert anomalies.answer_shape({f"k{n}": n for n in range(anomalies.MAX_PATHS + 1)}) is None


# --- learned, then compared -------------------------------------------------------------------------------------


def test_normal_answers_are_learned_and_raise_nothing(db, serve):
    client = learned_top(serve, ("200 OK", trades_answer([trade(7), trade(8)])))
    client.call(METHOD)
    shape = AnswerShape.objects.get(connection=client.connection, method=METHOD)
    assert shape.answers == LEARN and shape.learned_at is not None
    assert not AnswerAnomaly.objects.exists()


def test_a_missing_field_is_raised_once_and_counted_each_time(db, serve):
    odd = trades_answer([{k: v for k, v in trade(9).items() if k != "payment"}])
    client = learned_top(serve, ("200 OK", odd))
    body = client.call(METHOD)
    client.call(METHOD)
    assert body["trades"]["trade"][0]["tid"] == 9  # the call went on
    group = AnswerAnomaly.objects.get()
    assert (group.kind, group.subject, group.count) == (
        AnomalyKind.FIELD_MISSING, "trades.trade[].payment", 2)
    assert "tid" in group.example["beside"]
    notes = Notification.objects.filter(event="answer_anomaly", merchant=client.connection.merchant)
    assert notes.count() == 1
    assert "trades.trade[].payment" in notes.get().body


def test_a_field_missing_from_one_of_the_items_is_raised(db, serve):
    items = [trade(1), {k: v for k, v in trade(2).items() if k != "modified"}]
    client = learned_top(serve, ("200 OK", trades_answer(items)))
    client.call(METHOD)
    assert AnswerAnomaly.objects.get().subject == "trades.trade[].modified"


def test_a_field_with_a_new_type_is_raised_with_both_types(db, serve):
    client = learned_top(serve, ("200 OK", trades_answer([trade(1, payment=12.5)])))
    client.call(METHOD)
    group = AnswerAnomaly.objects.get()
    assert (group.kind, group.subject) == (AnomalyKind.TYPE_CHANGED, "trades.trade[].payment")
    assert group.example["expected"] == ["string"] and group.example["found"] == ["number"]
    assert "12.5" not in json.dumps(group.example)  # never a value from the answer


def test_an_empty_page_without_its_collection_is_not_a_missing_field(db, serve):
    client = learned_top(serve, ("200 OK", trades_answer(None)))
    client.call(METHOD)
    assert not AnswerAnomaly.objects.exists()


def test_a_field_only_some_items_have_is_optional(db, serve):
    normal = [("200 OK", trades_answer([trade(n, step_trade_status="FRONT_PAID_FINAL_NOPAID"), trade(n + 1)]))
              for n in range(LEARN)]
    client = top_client(serve(Script([*normal, ("200 OK", trades_answer([trade(5)]))])).url)
    for _ in range(LEARN + 1):
        client.call(METHOD)
    assert not AnswerAnomaly.objects.exists()


def test_a_new_field_is_not_unusual(db, serve):
    client = learned_top(serve, ("200 OK", trades_answer([trade(1, seller_memo="x")])))
    client.call(METHOD)
    assert not AnswerAnomaly.objects.exists()


@pytest.mark.parametrize("body, subject", [
    (b"<!DOCTYPE html><html><body>Gateway maintenance</body></html>", "html"),
    (b"", "empty"),
    (b'{"trades_sold_get_response": {"total_res', "broken"),
])
def test_a_successful_answer_that_is_not_json_is_raised_and_still_refused(db, serve, body, subject):
    client = top_client(serve(Script([("200 OK", body)])).url)
    with pytest.raises(MalformedAnswer):
        client.call(METHOD)
    group = AnswerAnomaly.objects.get()
    assert (group.kind, group.subject, group.example["bytes"]) == (AnomalyKind.NOT_JSON, subject, len(body))
    assert "Gateway" not in json.dumps(group.example)  # never the remote body


def test_an_unknown_error_code_is_raised_a_known_one_is_not(db, serve):
    known = {"error_response": {"code": 15, "msg": "Remote service error", "sub_code": "isv.trade-not-exist"}}
    unknown = {"error_response": {"code": 99, "msg": "Something new", "sub_code": "biz.new-thing"}}
    client = top_client(serve(Script([("200 OK", known), ("200 OK", unknown)])).url)
    with pytest.raises(BusinessError):
        client.call(METHOD)
    assert not AnswerAnomaly.objects.exists()
    with pytest.raises(Permanent):
        client.call(METHOD)
    group = AnswerAnomaly.objects.get()
    assert (group.kind, group.subject) == (AnomalyKind.UNKNOWN_ERROR, "99 biz.new-thing")


def test_an_accepted_type_change_is_learned_and_not_raised_again(db, serve):
    client = learned_top(serve, ("200 OK", trades_answer([trade(1, payment=12.5)])))
    client.call(METHOD)
    group = AnswerAnomaly.objects.get()
    anomalies.anomaly_accept(anomaly=group, actor=None)
    client.call(METHOD)
    group.refresh_from_db()
    assert group.count == 1 and group.accepted_at is not None
    assert sorted(AnswerShape.objects.get(connection=client.connection).types[group.subject]) == ["number", "string"]


def test_an_accepted_unknown_code_is_not_raised_again(db, serve):
    unknown = {"error_response": {"code": 99, "msg": "Something new"}}
    client = top_client(serve(Script([("200 OK", unknown)])).url)
    with pytest.raises(Permanent):
        client.call(METHOD)
    anomalies.anomaly_accept(anomaly=AnswerAnomaly.objects.get(), actor=None)
    with pytest.raises(Permanent):
        client.call(METHOD)
    assert AnswerAnomaly.objects.get().count == 1


def test_each_connection_learns_its_own_shape(db, serve):
    client = learned_top(serve, ("200 OK", trades_answer([trade(1, payment=12.5)])))
    other = top_client(serve(Script([("200 OK", trades_answer([trade(1, payment=12.5)]))])).url)
    other.call(METHOD)
    client.call(METHOD)
    assert AnswerAnomaly.objects.get().connection == client.connection
    assert AnswerShape.objects.get(connection=other.connection).learned_at is None


# --- the ERP bridge ------------------------------------------------------------------------------------------------


def page(items) -> dict:
    return {"items": items, "next_cursor": "c1", "has_more": False}


def test_the_erp_bridge_answers_are_learned_and_compared(db, serve):
    normal = [("200 OK", page([{"erp_product_id": f"P{n}", "stock": n}])) for n in range(LEARN)]
    odd = ("200 OK", page([{"erp_product_id": "P9", "stock": "9"}]))
    client = ErpClient(ConnectionFactory(kind="erp", gateway_url=f"{serve(Script([*normal, odd])).url}/bridge",
                                         calls_per_minute=100000))
    for _ in range(LEARN + 1):
        client.changes("stock", cursor="")
    group = AnswerAnomaly.objects.get()
    assert (group.method, group.kind, group.subject) == ("GET /changes/stock", AnomalyKind.TYPE_CHANGED, "items[].stock")


def test_an_erp_error_code_the_contract_does_not_name_is_raised(db, serve):
    script = Script([("401 Unauthorized", {"error": {"code": "bad_signature"}}),
                     ("403 Forbidden", {"error": {"code": "tenant_frozen"}})])
    client = ErpClient(ConnectionFactory(kind="erp", gateway_url=f"{serve(script).url}/bridge",
                                         calls_per_minute=100000))
    for _ in range(2):
        with pytest.raises(Permanent):
            client.changes("stock", cursor="")
    group = AnswerAnomaly.objects.get()
    assert (group.kind, group.subject) == (AnomalyKind.UNKNOWN_ERROR, "tenant_frozen")


# --- the connection page -------------------------------------------------------------------------------------------


@pytest.fixture
def raised(merchant_a):
    from django.utils import timezone

    connection = ConnectionFactory(merchant=merchant_a, name="天猫旗舰店")
    now = timezone.now()
    return AnswerAnomaly.objects.create(
        connection=connection, method=METHOD, kind=AnomalyKind.TYPE_CHANGED, subject="trades.trade[].payment",
        example={"expected": ["string"], "found": ["number"]}, count=4, first_at=now, last_at=now)


def test_the_connection_page_names_the_group_in_merchant_words(client_owner, raised):
    client_owner.defaults["HTTP_ACCEPT_LANGUAGE"] = "zh-hans"
    page = client_owner.get(raised.connection.get_absolute_url()).content.decode()
    assert "trades.trade[].payment" in page and "数字" in page and "文本" in page
    assert 'action="/connections/%d/unusual/%d/accept/"' % (raised.connection.pk, raised.pk) in page


def test_an_owner_marks_a_group_as_expected(client_owner, raised):
    AnswerShape.objects.create(connection=raised.connection, method=METHOD, answers=LEARN,
                               types={"trades.trade[].payment": ["string"]})
    response = client_owner.post(f"/connections/{raised.connection.pk}/unusual/{raised.pk}/accept/")
    assert response.status_code == 302
    raised.refresh_from_db()
    assert raised.accepted_at is not None
    assert AnswerShape.objects.get().types["trades.trade[].payment"] == ["number", "string"]


@pytest.mark.parametrize("who", ["client_operator", "client_viewer"])
def test_only_owners_mark_a_group_as_expected(request, raised, who):
    client = request.getfixturevalue(who)
    page = client.get(raised.connection.get_absolute_url()).content.decode()
    assert "trades.trade[].payment" in page and "/accept/" not in page
    assert client.post(f"/connections/{raised.connection.pk}/unusual/{raised.pk}/accept/").status_code == 403
    raised.refresh_from_db()
    assert raised.accepted_at is None


def test_another_merchant_neither_sees_nor_accepts_the_group(client_outsider, raised):
    assert client_outsider.get(raised.connection.get_absolute_url()).status_code == 404
    assert client_outsider.post(f"/connections/{raised.connection.pk}/unusual/{raised.pk}/accept/").status_code == 404
    raised.refresh_from_db()
    assert raised.accepted_at is None
