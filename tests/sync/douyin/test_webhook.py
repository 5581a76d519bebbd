"""Douyin's push messages: POST /hooks/douyin/ verifies event-sign, stores each message once and answers; the job
then fetches the orders they name (sync.pushed_messages)."""
import json

import pytest

from merchant.models import Order
from sync.marketplaces.douyin.adapter import DouyinMarketplace
from sync.marketplaces.douyin.client import DouyinClient
from sync.marketplaces.douyin.signing import event_sign
from sync.models import PushedMessage
from sync.pushed_messages import pushed_messages_handle

from .conftest import APP_KEY, SECRET, no_sleep
from .gateway import error, ok
from .orders import shop_order

URL = "/hooks/douyin/"
ORDER = "4923812345678901234"


def body_of(*messages) -> bytes:
    return json.dumps(list(messages), separators=(",", ":")).encode()


def message(msg_id="7300000000000000001", tag="101", order=ORDER, shop_id=4463798):
    return {"tag": tag, "msg_id": msg_id,
            "data": json.dumps({"p_id": int(order), "s_ids": [int(order) + 1], "shop_id": shop_id,
                                "order_status": 2, "update_time": 1764806400})}


def post(client, body: bytes, *, secret=SECRET, app_key=APP_KEY):
    return client.post(URL, data=body, content_type="application/json",
                       headers={"app-id": app_key, "event-sign": event_sign(app_key=app_key, secret=secret, body=body)})


@pytest.fixture
def connection(douyin_connection):
    return douyin_connection("http://127.0.0.1:9")


def test_a_signed_message_is_stored_answered_and_its_job_queued(client, connection,
                                                               django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks() as callbacks:
        response = post(client, body_of(message()))
    assert response.status_code == 200 and response.json() == {"code": 0, "msg": "success"}
    row = PushedMessage.objects.get()
    assert (row.connection_id, row.msg_id, row.tag, row.order_no) == (connection.pk, "7300000000000000001", "101",
                                                                      ORDER)
    assert row.data["shop_id"] == 4463798 and row.handled_at is None
    assert len(callbacks) == 1


def test_a_bad_signature_is_refused_and_nothing_stored(client, connection, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks() as callbacks:
        response = post(client, body_of(message()), secret="not-the-secret")
    assert response.status_code == 403
    assert not PushedMessage.objects.exists() and callbacks == []


def test_an_unknown_app_is_refused(client, connection):
    assert post(client, body_of(message()), app_key="7999999999999999999").status_code == 403
    assert not PushedMessage.objects.exists()


def test_a_message_delivered_again_is_answered_success_and_stored_once(client, connection,
                                                                      django_capture_on_commit_callbacks):
    post(client, body_of(message()))
    with django_capture_on_commit_callbacks() as callbacks:
        response = post(client, body_of(message(), message(msg_id="7300000000000000002", tag="200")))
    assert response.json() == {"code": 0, "msg": "success"}
    assert sorted(PushedMessage.objects.values_list("msg_id", flat=True)) == [
        "7300000000000000001", "7300000000000000002"]
    assert len(callbacks) == 1  # one job for the new message


def test_the_platforms_check_message_is_answered_and_not_stored(client, connection):
    response = post(client, body_of({"tag": "0", "msg_id": "0", "data": "{}"}))
    assert response.json() == {"code": 0, "msg": "success"} and not PushedMessage.objects.exists()


def test_a_body_over_the_limit_is_refused(client, connection, settings):
    settings.DOUYIN_HOOK_MAX_BYTES = 100
    assert post(client, body_of(message(), message(msg_id="2"))).status_code == 413
    assert not PushedMessage.objects.exists()


def test_the_shop_id_picks_the_connection_when_the_app_serves_several(client, connection, douyin_connection):
    other = douyin_connection("http://127.0.0.1:9", )
    other.shop_id = "5550001"
    other.save()
    post(client, body_of(message(shop_id=5550001)))
    assert PushedMessage.objects.get().connection_id == other.pk


def test_a_get_is_not_allowed(client, connection):
    assert client.get(URL).status_code == 405


def test_handling_fetches_each_named_order_once_stores_it_and_marks_the_messages(client, gateway, douyin_connection):
    scripted, url = gateway({"/order/orderDetail": [ok({"shop_order_detail": shop_order(ORDER)})]})
    connection = douyin_connection(url)
    post(client, body_of(message(), message(msg_id="7300000000000000002", tag="200")))
    market = DouyinMarketplace(connection, client=DouyinClient(connection, sleep=no_sleep))
    summary = pushed_messages_handle(connection, marketplace=market)
    assert summary["messages"] == 2 and summary["created"] == 1
    [detail] = scripted.calls("/order/orderDetail")
    assert json.loads(detail["body"]) == {"shop_order_id": ORDER}
    order = Order.objects.get(order_no=ORDER)
    assert order.connection_id == connection.pk
    assert not PushedMessage.objects.filter(handled_at=None).exists()


def test_an_order_the_platform_does_not_know_is_counted_and_its_message_handled(client, gateway, douyin_connection):
    _scripted, url = gateway({"/order/orderDetail": [error(50002, "isv.order-not-exist")]})
    connection = douyin_connection(url)
    post(client, body_of(message()))
    market = DouyinMarketplace(connection, client=DouyinClient(connection, sleep=no_sleep))
    summary = pushed_messages_handle(connection, marketplace=market)
    assert summary["unknown"] == 1 and not PushedMessage.objects.filter(handled_at=None).exists()


def test_a_refused_token_while_handling_stops_the_connection(client, gateway, douyin_connection):
    from sync.errors import SessionExpired
    from sync.models import Connection

    _scripted, url = gateway({"/order/orderDetail": [error(40003, "isv.access-token-expired")],
                             "/token/refresh": [error(40004, "isv.refresh-token-expired")]})
    connection = douyin_connection(url)
    post(client, body_of(message()))
    market = DouyinMarketplace(connection, client=DouyinClient(connection, sleep=no_sleep))
    with pytest.raises(SessionExpired):
        pushed_messages_handle(connection, marketplace=market)
    assert "refresh" in Connection.objects.get(pk=connection.pk).stopped_reason
    assert PushedMessage.objects.filter(handled_at=None).count() == 1  # kept for when the shop is added again


def test_the_job_handles_the_stored_messages_of_its_connection(client, gateway, douyin_connection):
    from sync import jobs

    _scripted, url = gateway({"/order/orderDetail": [ok({"shop_order_detail": shop_order(ORDER)})]})
    connection = douyin_connection(url)
    post(client, body_of(message()))
    summary = jobs.sync_pushed_messages(connection.pk)
    assert summary["created"] == 1 and Order.objects.filter(order_no=ORDER).exists()


def test_pushed_messages_are_purged_a_while_after_they_are_handled(connection):
    from datetime import timedelta

    from django.utils import timezone

    from sync.retention import records_purge

    now = timezone.now()
    for msg_id, received, handled in [("old-handled", 5, 4), ("recent", 1, 1), ("open", 5, None),
                                      ("open-long", 40, None)]:
        PushedMessage.objects.create(connection=connection, msg_id=msg_id, tag="101",
                                     received_at=now - timedelta(days=received),
                                     handled_at=now - timedelta(days=handled) if handled else None)
    assert records_purge(now)["pushed_messages"] == 2
    assert sorted(PushedMessage.objects.values_list("msg_id", flat=True)) == ["open", "recent"]
