"""Signing vectors from top-protocol.md, the error table, GMT+8 times and the response envelope."""
from datetime import datetime, timezone

import pytest

from sync.marketplaces.top.client import response_key, router_url
from sync.marketplaces.top.errors import ban_seconds, error_from_envelope
from sync.marketplaces.top.signing import sign, sign_matches
from sync.marketplaces.top.times import from_top, to_top
from sync.errors import BusinessError, Permanent, RateLimited, Retryable, SessionExpired

VECTOR = {
    "app_key": "12345678", "end_modified": "2024-01-01 23:59:59", "fields": "tid,status,modified",
    "format": "json", "method": "taobao.trades.sold.increment.get", "page_no": "1", "page_size": "100",
    "session": "test-session", "sign_method": "md5", "start_modified": "2024-01-01 00:00:00",
    "timestamp": "2024-01-01 12:00:00", "use_has_next": "true", "v": "2.0",
}


@pytest.mark.parametrize("method, expected", [
    ("md5", "1E1770060469342B527FD7ED86844408"),
    ("hmac", "1BA87DB6354DB2FAC6838975A9386F6F"),
    ("hmac-sha256", "28F1569EA4F4CF5CD8EA9CDB1D8060DE6403634B8438DD53175F14BEDAAE4FF7"),
])
def test_signing_matches_the_documented_vectors(method, expected):
    assert sign({**VECTOR, "sign_method": method}, "test", method) == expected


def test_empty_values_do_not_change_the_signature():
    assert sign({**VECTOR, "buyer_nick": ""}, "test", "md5") == "1E1770060469342B527FD7ED86844408"


def test_sign_matches_checks_the_sign_param_and_refuses_unknown_methods():
    signed = {**VECTOR, "sign": "1E1770060469342B527FD7ED86844408"}
    assert sign_matches(signed, "test")
    assert not sign_matches(signed, "other-secret")
    assert not sign_matches({**signed, "sign_method": "sha1"}, "test")
    with pytest.raises(ValueError):
        sign(VECTOR, "test", "sha1")


def test_times_are_gmt8_at_the_boundary_and_utc_inside():
    moment = from_top("2024-01-01 08:00:00")
    assert moment == datetime(2024, 1, 1, 0, 0, tzinfo=timezone.utc)
    assert to_top(datetime(2024, 1, 1, 16, 0, 30, 999, tzinfo=timezone.utc)) == "2024-01-02 00:00:30"
    with pytest.raises(ValueError):
        to_top(datetime(2024, 1, 1))
    with pytest.raises(ValueError):
        from_top("2024/01/01")


@pytest.mark.parametrize("envelope, kind", [
    ({"code": 7, "sub_code": "accesscontrol.limited-by-app-access-count",
      "sub_msg": "This ban will last for 17 more seconds"}, RateLimited),
    ({"code": 15, "sub_code": "isp.top-remote-connection-timeout"}, Retryable),
    ({"code": 10, "sub_code": "isp.top-remote-service-unavailable"}, Retryable),
    ({"code": 15, "sub_code": "isv.trade-not-exist"}, BusinessError),
    ({"code": 25, "msg": "Invalid signature"}, Permanent),
    ({"code": 27, "sub_code": "session-expired"}, SessionExpired),
    ({"code": 26, "msg": "Missing session"}, SessionExpired),
    ({"code": 11, "msg": "Insufficient isv permissions"}, Permanent),
    ({"code": 22, "msg": "Invalid method"}, Permanent),
    ({"code": 41, "sub_code": "isv.invalid-parameter"}, Permanent),
    ({"code": 31, "msg": "Invalid timestamp"}, Permanent),
])
def test_error_envelope_maps_to_typed_errors(envelope, kind):
    error = error_from_envelope({**envelope, "request_id": "r-1"})
    assert type(error) is kind
    assert error.request_id == "r-1"
    assert "r-1" in str(error)


def test_ban_seconds_come_from_the_message():
    assert error_from_envelope({"code": 7, "sub_msg": "This ban will last for 17 more seconds"}).seconds == 17
    assert ban_seconds("no number here") == 60


def test_response_key_and_router_url():
    assert response_key("taobao.trades.sold.increment.get") == "trades_sold_increment_get_response"
    assert response_key("tmall.item.price.update") == "tmall_item_price_update_response"
    assert router_url("http://gw.example/router/rest") == "http://gw.example/router/rest"
    assert router_url("http://gw.example/") == "http://gw.example/router/rest"
