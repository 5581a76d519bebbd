"""Robot webhooks (SPEC M15): each vendor's documented message and signature, sent over HTTP to a local fake
robot, and the vendor's answer read into sent / retried / failed with its reason.

The signature vectors were computed with `openssl dgst -sha256 -hmac` from the vendors' documented algorithms
(see docs/notifications.md), not with the code under test."""
import base64
import hashlib
import hmac
import logging
from datetime import timedelta

import pytest
from django.utils import timezone, translation
from django.utils.translation import gettext

from merchant.models import Delivery, DeliveryStatus, NotificationEvent, RobotKind
from merchant.services.notifications import notify
from sync import deliveries, robots
from sync.http import Answer
from sync.errors import MalformedAnswer, Permanent, RateLimited, Retryable
from tests.outbound_servers import FakeRobot

from .factories import RobotChannelFactory

pytestmark = pytest.mark.usefixtures("english")

# DingTalk: timestamp in ms, key = secret, message = f"{timestamp}\n{secret}".
DINGTALK_SECRET, DINGTALK_TS = "SECtestsecret0123456789", 1700000000000
DINGTALK_SIGN = "zrLWzK97t62y5CpqN8Ok9UIdPvX+jL1PNoW8nKT5a9k="
# Feishu: timestamp in s, key = f"{timestamp}\n{secret}", message = "".
FEISHU_SECRET, FEISHU_TS = "testsecret", 1700000000
FEISHU_SIGN = "AOc8oJ7//5OlQlfWC3nRL0R+IkuzcD1FKcAyibRK9Q8="
MESSAGE = robots.Message(title="Stock low", lines=("SKU-1 Aspirin: stock 2",), link="https://hub.example/products/1/",
                         link_text="Open in Merchant Hub")


def test_dingtalk_signature_matches_the_documented_algorithm():
    assert robots.dingtalk_sign(DINGTALK_SECRET, DINGTALK_TS) == DINGTALK_SIGN


def test_feishu_signature_keys_the_hmac_with_timestamp_and_secret():
    assert robots.feishu_sign(FEISHU_SECRET, FEISHU_TS) == FEISHU_SIGN


def test_dingtalk_request_is_markdown_with_timestamp_and_url_encoded_sign_in_the_query():
    url, body = robots.dingtalk_request("https://oapi.dingtalk.com/robot/send?access_token=abc", DINGTALK_SECRET,
                                        MESSAGE, now_ms=DINGTALK_TS)
    assert url == ("https://oapi.dingtalk.com/robot/send?access_token=abc&timestamp=1700000000000"
                   "&sign=zrLWzK97t62y5CpqN8Ok9UIdPvX%2BjL1PNoW8nKT5a9k%3D")
    assert body["msgtype"] == "markdown"
    assert body["markdown"]["title"] == "Stock low"
    assert body["markdown"]["text"] == ("#### Stock low\n\nSKU-1 Aspirin: stock 2\n\n"
                                        "[Open in Merchant Hub](https://hub.example/products/1/)")


def test_dingtalk_request_without_secret_is_not_signed():
    url, _body = robots.dingtalk_request("https://oapi.dingtalk.com/robot/send?access_token=abc", "", MESSAGE,
                                         now_ms=DINGTALK_TS)
    assert url == "https://oapi.dingtalk.com/robot/send?access_token=abc"


def test_wecom_request_is_markdown_content_cut_to_4096_bytes():
    url, body = robots.wecom_request("https://qyapi.weixin.qq.com/cgi-bin/webhook/send?key=k", MESSAGE)
    assert url == "https://qyapi.weixin.qq.com/cgi-bin/webhook/send?key=k"
    assert body == {"msgtype": "markdown", "markdown": {"content": robots._markdown(MESSAGE)}}
    long = robots.Message(title="库存", lines=("很长的说明" * 1000,))
    _url, body = robots.wecom_request("https://qyapi.weixin.qq.com/cgi-bin/webhook/send?key=k", long)
    assert len(body["markdown"]["content"].encode("utf-8")) <= 4096


def test_feishu_request_is_a_post_message_with_timestamp_and_sign_in_the_body():
    url, body = robots.feishu_request("https://open.feishu.cn/open-apis/bot/v2/hook/tok", FEISHU_SECRET, MESSAGE,
                                      now_s=FEISHU_TS, language="zh-hans")
    assert url == "https://open.feishu.cn/open-apis/bot/v2/hook/tok"
    assert body["timestamp"] == "1700000000" and body["sign"] == FEISHU_SIGN
    assert body["msg_type"] == "post"
    assert body["content"]["post"]["zh_cn"] == {"title": "Stock low", "content": [
        [{"tag": "text", "text": "SKU-1 Aspirin: stock 2"}],
        [{"tag": "a", "text": "Open in Merchant Hub", "href": "https://hub.example/products/1/"}],
    ]}


@pytest.mark.parametrize("kind, body, error", [
    ("dingtalk", b'{"errcode":0,"errmsg":"ok"}', None),
    ("wecom", b'{"errcode":0,"errmsg":"ok"}', None),
    ("feishu", b'{"code":0,"msg":"success","data":{}}', None),
    ("feishu", b'{"StatusCode":0,"StatusMessage":"success"}', None),
    ("dingtalk", b'{"errcode":300005,"errmsg":"token is not exist"}', Permanent),
    ("dingtalk", b'{"errcode":310000,"errmsg":"keywords not in content"}', Permanent),
    ("wecom", b'{"errcode":93000,"errmsg":"invalid webhook url"}', Permanent),
    ("feishu", b'{"code":19021,"msg":"sign match fail or timestamp is not within one hour from current time"}',
     Permanent),
    ("dingtalk", b'{"errcode":130101,"errmsg":"send too fast"}', RateLimited),
    ("wecom", b'{"errcode":45009,"errmsg":"api freq out of limit"}', RateLimited),
    ("feishu", b'{"code":11232,"msg":"frequency limited"}', RateLimited),
    ("wecom", b'{"errcode":-1,"errmsg":"system busy"}', Retryable),
    ("dingtalk", b"<html>gateway</html>", MalformedAnswer),
])
def test_vendor_answers_with_a_non_zero_code_are_failures(kind, body, error):
    answer = Answer(status=200, body=body, seconds=0.1)
    if error is None:
        robots.read_answer(kind, answer)
        return
    with pytest.raises(error) as raised:
        robots.read_answer(kind, answer)
    if error is Permanent:
        assert "code" in str(raised.value) and body.decode().split('"')[-2][:20] in str(raised.value)


def test_http_errors_are_retried_on_5xx_and_429_and_final_on_4xx():
    with pytest.raises(Retryable):
        robots.read_answer(RobotKind.WECOM, Answer(status=502, body=b"", seconds=0))
    with pytest.raises(RateLimited) as limited:
        robots.read_answer(RobotKind.FEISHU, Answer(status=429, body=b"", seconds=0, headers={"Retry-After": "7"}))
    assert limited.value.seconds == 7
    with pytest.raises(Permanent):
        robots.read_answer(RobotKind.DINGTALK, Answer(status=404, body=b"", seconds=0))


# Delivery over HTTP to a local fake robot


def _robot(serve, kind="dingtalk", answers=None):
    fake = FakeRobot(kind, answers)
    return fake, serve(fake)


def _channel(merchant, server, kind="dingtalk", secret="", **fields):
    path = {"dingtalk": "/robot/send?access_token=tok-dingtalk-1234", "wecom": "/cgi-bin/webhook/send?key=tok-wecom-5678",
            "feishu": "/open-apis/bot/v2/hook/tok-feishu-9abc"}[kind]
    return RobotChannelFactory(merchant=merchant, kind=kind, webhook_url=server.url + path, secret=secret, **fields)


def _notify(merchant, subject="connection:1"):
    return notify(merchant=merchant, event=NotificationEvent.CONNECTION_STOPPED, subject_key=subject,
                  title="Connection Shop stopped", body="The marketplace session has expired",
                  url="/connections/1/")


def _send_all():
    return [deliveries.delivery_send(d.pk) for d in Delivery.objects.filter(status=DeliveryStatus.PENDING)]


def test_a_signed_dingtalk_delivery_reaches_the_robot(merchant_a, serve, settings):
    settings.SITE_URL = "https://hub.example"
    fake, server = _robot(serve)
    _channel(merchant_a, server, secret=DINGTALK_SECRET)
    _notify(merchant_a)
    assert _send_all() == [DeliveryStatus.SENT]
    delivery = Delivery.objects.get()
    assert delivery.sent_at is not None and delivery.attempts == 1 and delivery.error == ""
    request = fake.received[0]
    assert request["path"] == "/robot/send" and request["query"]["access_token"] == "tok-dingtalk-1234"
    timestamp, sign = request["query"]["timestamp"], request["query"]["sign"]
    expected = base64.b64encode(hmac.new(DINGTALK_SECRET.encode(), f"{timestamp}\n{DINGTALK_SECRET}".encode(),
                                         hashlib.sha256).digest()).decode()
    assert sign == expected
    assert request["json"]["msgtype"] == "markdown"
    assert "Connection Shop stopped" in request["json"]["markdown"]["text"]
    assert "(https://hub.example/connections/1/)" in request["json"]["markdown"]["text"]


@pytest.mark.parametrize("kind", ["wecom", "feishu"])
def test_wecom_and_feishu_deliveries_reach_the_robot(kind, merchant_a, serve):
    fake, server = _robot(serve, kind)
    _channel(merchant_a, server, kind=kind, secret=FEISHU_SECRET if kind == "feishu" else "")
    _notify(merchant_a)
    assert _send_all() == [DeliveryStatus.SENT]
    body = fake.received[0]["json"]
    if kind == "wecom":
        assert body["msgtype"] == "markdown" and "Connection Shop stopped" in body["markdown"]["content"]
    else:
        assert body["msg_type"] == "post"
        assert body["sign"] == robots.feishu_sign(FEISHU_SECRET, int(body["timestamp"]))
        post = body["content"]["post"]["zh_cn"]
        assert "Connection Shop stopped" in post["title"]


def test_a_refused_message_fails_at_once_with_the_vendors_message(merchant_a, serve):
    fake, server = _robot(serve, answers=[("200 OK", {"errcode": 310000, "errmsg": "keywords not in content"})])
    _channel(merchant_a, server)
    _notify(merchant_a)
    assert _send_all() == [DeliveryStatus.FAILED]
    delivery = Delivery.objects.get()
    assert delivery.attempts == 1
    assert "keywords not in content" in delivery.error and "310000" in delivery.error


def test_server_errors_are_retried_with_backoff_then_recorded_as_failed(merchant_a, serve, monkeypatch, settings):
    settings.LANGUAGE_CODE = "en"  # deliveries are written in the site language
    fake, server = _robot(serve, answers=[("500 Internal Server Error", {"error": "boom"})])
    _channel(merchant_a, server)
    _notify(merchant_a)
    queued = []
    monkeypatch.setattr(deliveries, "delivery_enqueue", lambda pk, delay=None, **kw: queued.append(delay))
    delivery = Delivery.objects.get()
    now = timezone.now()
    for attempt in range(1, deliveries.MAX_ATTEMPTS + 1):
        status = deliveries.delivery_send(delivery.pk, now=now)
        delivery.refresh_from_db()
        if attempt < deliveries.MAX_ATTEMPTS:
            assert status == DeliveryStatus.PENDING
            assert delivery.due_at > now and "HTTP 500" in delivery.error
            # Not due yet: a second worker (or the sweep) finds nothing to send.
            assert deliveries.delivery_send(delivery.pk, now=now) is None
            now = delivery.due_at
    assert status == DeliveryStatus.FAILED
    assert delivery.attempts == deliveries.MAX_ATTEMPTS and len(fake.received) == deliveries.MAX_ATTEMPTS
    assert delivery.error == "the robot service failed (HTTP 500)"
    assert queued == [deliveries.backoff(n) for n in range(1, deliveries.MAX_ATTEMPTS)]


def test_a_rate_limited_robot_waits_the_vendors_throttle(merchant_a, serve, monkeypatch):
    fake, server = _robot(serve, answers=[("200 OK", {"errcode": 130101, "errmsg": "send too fast"}),
                                          ("200 OK", {"errcode": 0, "errmsg": "ok"})])
    _channel(merchant_a, server)
    _notify(merchant_a)
    monkeypatch.setattr(deliveries, "delivery_enqueue", lambda *a, **k: None)
    delivery = Delivery.objects.get()
    before = timezone.now()
    assert deliveries.delivery_send(delivery.pk) == DeliveryStatus.PENDING
    delivery.refresh_from_db()
    assert delivery.due_at >= before + timedelta(seconds=600)
    assert deliveries.delivery_send(delivery.pk, now=delivery.due_at) == DeliveryStatus.SENT


def test_a_network_failure_is_retried(merchant_a, monkeypatch):
    RobotChannelFactory(merchant=merchant_a)  # its address (the discard port) refuses connections
    _notify(merchant_a)
    monkeypatch.setattr(deliveries, "delivery_enqueue", lambda *a, **k: None)
    assert _send_all() == [DeliveryStatus.PENDING]
    assert Delivery.objects.get().error == "could not connect, or the connection broke"


def test_a_test_message_is_tried_once_in_the_requesters_language(merchant_a, serve, owner_actor):
    from merchant.services.notifications import robot_channel_test

    fake, server = _robot(serve, answers=[("503 Service Unavailable", {})])
    channel = _channel(merchant_a, server)
    delivery = robot_channel_test(channel=channel, actor=owner_actor, language="zh-hans")
    assert deliveries.delivery_send(delivery.pk) == DeliveryStatus.FAILED
    delivery.refresh_from_db()
    with translation.override("zh-hans"):
        assert delivery.error == gettext("the robot service failed (HTTP %(status)s)") % {"status": 503}
        assert fake.received[0]["json"]["markdown"]["title"] == gettext("Merchant Hub test message")
    assert delivery.attempts == 1


def test_a_disabled_robot_is_not_sent_what_was_queued_for_it(merchant_a, serve):
    fake, server = _robot(serve)
    channel = _channel(merchant_a, server)
    _notify(merchant_a)
    channel.is_enabled = False
    channel.save()
    assert _send_all() == [DeliveryStatus.FAILED]
    assert fake.received == []


def test_an_address_that_is_not_https_is_refused_when_sending(merchant_a, settings):
    settings.LANGUAGE_CODE = "en"  # deliveries are written in the site language
    channel = RobotChannelFactory(merchant=merchant_a, webhook_url="http://robot.example/robot/send?access_token=t")
    _notify(merchant_a)
    assert _send_all() == [DeliveryStatus.FAILED]
    assert Delivery.objects.get().error == "the robot's address may not be called; enter it again"
    assert channel.webhook_host == "robot.example"


def test_the_webhook_token_and_secret_never_reach_the_log(merchant_a, serve, caplog):
    fake, server = _robot(serve, "feishu", answers=[("500 Internal Server Error", {})])
    _channel(merchant_a, server, kind="feishu", secret="feishu-signing-secret")
    dead = RobotChannelFactory(merchant=merchant_a, kind="feishu",
                               webhook_url="http://127.0.0.1:9/open-apis/bot/v2/hook/tok-dead-feishu")
    _notify(merchant_a)
    with caplog.at_level(logging.DEBUG):
        _send_all()
    assert dead.token_hint == "ishu"
    for secret in ("tok-feishu-9abc", "feishu-signing-secret", "tok-dead-feishu"):
        assert secret not in caplog.text
