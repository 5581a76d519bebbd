"""The Douyin client over HTTP against a scripted gateway that checks signatures: the wire format, and the access
token refreshed before it expires, when it expires mid-run, and once only when two workers need it."""
import json
from datetime import timedelta

import pytest
from django.utils import timezone

from sync.errors import SessionExpired
from sync.marketplaces.douyin.client import DouyinClient
from sync.marketplaces.douyin.errors import TokenExpired
from sync.models import ApiCall, Connection

from .conftest import APP_KEY, no_sleep
from .gateway import error, ok

SEARCH = "/order/searchList"
NEW_TOKEN = ok({"access_token": "access-new", "refresh_token": "refresh-new", "expires_in": 604800,
                "shop_id": 4463798, "shop_name": "测试店"})


def client_for(connection):
    return DouyinClient(connection, sleep=no_sleep)


def with_token(token, data=None):
    """An answer that succeeds only for `token` (as the platform refuses any other)."""
    def reply(record):
        if record["query"].get("access_token") != token:
            return error(40003, "isv.access-token-expired")
        return ok(data or {"shop_order_list": [], "total": 0})
    return reply


def test_a_call_is_a_signed_post_with_system_params_in_the_query_and_param_json_as_body(gateway, douyin_connection):
    scripted, url = gateway({SEARCH: [ok({"shop_order_list": [], "total": 0})]})
    connection = douyin_connection(url)
    data = client_for(connection).call(SEARCH, {"size": 100, "page": 0, "order_by": "update_time"})
    assert data == {"shop_order_list": [], "total": 0}
    [sent] = scripted.calls(SEARCH)
    assert sent["body"] == '{"order_by":"update_time","page":0,"size":100}'
    query = sent["query"]
    assert query["app_key"] == APP_KEY and query["method"] == "order.searchList" and query["v"] == "2"
    assert query["sign_method"] == "hmac-sha256" and query["access_token"] == "access-old"
    assert abs(int(query["timestamp"]) - timezone.now().timestamp()) < 60  # epoch seconds, as the Go SDK sends
    assert sent["headers"]["x-open-no-old-err-code"] == "1"
    assert ApiCall.objects.get(connection=connection).request_id == "202612040000000000001"


def test_a_token_expired_mid_run_is_refreshed_once_and_the_call_repeated(gateway, douyin_connection):
    scripted, url = gateway({SEARCH: [with_token("access-new")], "/token/refresh": [NEW_TOKEN]})
    connection = douyin_connection(url)
    client = client_for(connection)
    assert client.call(SEARCH, {"page": 0}) == {"shop_order_list": [], "total": 0}
    [refresh] = scripted.calls("/token/refresh")
    assert "access_token" not in refresh["query"]
    assert json.loads(refresh["body"]) == {"grant_type": "refresh_token", "refresh_token": "refresh-old"}
    assert [c["query"]["access_token"] for c in scripted.calls(SEARCH)] == ["access-old", "access-new"]
    stored = Connection.objects.get(pk=connection.pk)
    assert (stored.session, stored.refresh_token) == ("access-new", "refresh-new")
    assert stored.token_expires_at > timezone.now() + timedelta(days=6)
    assert "access-new" not in stored.session_encrypted  # kept encrypted
    # The next call uses the new token straight away.
    client.call(SEARCH, {"page": 1})
    assert len(scripted.calls("/token/refresh")) == 1


def test_a_token_expiring_within_the_hour_is_refreshed_before_the_call(gateway, douyin_connection):
    scripted, url = gateway({SEARCH: [with_token("access-new")], "/token/refresh": [NEW_TOKEN]})
    connection = douyin_connection(url, expires_in=timedelta(minutes=30))
    client_for(connection).call(SEARCH, {"page": 0})
    assert [r["path"] for r in scripted.received] == ["/token/refresh", SEARCH]


def test_a_refresh_the_platform_fails_leaves_a_still_valid_token_in_use(gateway, douyin_connection):
    scripted, url = gateway({SEARCH: [with_token("access-old")], "/token/refresh": [error(20000, "isp.service-error")]})
    connection = douyin_connection(url, expires_in=timedelta(minutes=30))
    client_for(connection).call(SEARCH, {"page": 0})
    assert scripted.calls(SEARCH)[0]["query"]["access_token"] == "access-old"
    assert Connection.objects.get(pk=connection.pk).session == "access-old"


def test_a_refused_refresh_token_stops_the_connection_as_session_expired(gateway, douyin_connection):
    _scripted, url = gateway({SEARCH: [error(40003, "isv.access-token-expired")],
                             "/token/refresh": [error(40004, "isv.refresh-token-expired")]})
    connection = douyin_connection(url)
    with pytest.raises(SessionExpired, match="refused the access token request \\(/token/refresh\\)"):
        client_for(connection).call(SEARCH, {"page": 0})
    assert Connection.objects.get(pk=connection.pk).session == "access-old"
    # The refused refresh is on record (not rolled back with the lock's transaction).
    assert ApiCall.objects.filter(connection=connection, method="token.refresh", outcome="business").exists()


def test_a_token_refused_again_after_the_refresh_is_raised(gateway, douyin_connection):
    scripted, url = gateway({SEARCH: [error(40003, "isv.access-token-no-existed")], "/token/refresh": [NEW_TOKEN]})
    connection = douyin_connection(url)
    with pytest.raises(TokenExpired):
        client_for(connection).call(SEARCH, {"page": 0})
    assert len(scripted.calls(SEARCH)) == 2 and len(scripted.calls("/token/refresh")) == 1


def test_a_token_another_worker_already_refreshed_is_taken_without_refreshing_again(gateway, douyin_connection):
    scripted, url = gateway({SEARCH: [with_token("access-other")], "/token/refresh": [NEW_TOKEN]})
    connection = douyin_connection(url)
    client = client_for(connection)
    # Another worker refreshed after this client loaded the connection.
    other = Connection.objects.get(pk=connection.pk)
    other.session, other.refresh_token = "access-other", "refresh-other"
    other.token_expires_at = timezone.now() + timedelta(days=7)
    other.save()
    client.call(SEARCH, {"page": 0})
    assert scripted.calls("/token/refresh") == []
    assert [c["query"]["access_token"] for c in scripted.calls(SEARCH)] == ["access-old", "access-other"]


def test_a_bad_signature_is_permanent(gateway, douyin_connection):
    from sync.errors import Permanent

    scripted, url = gateway({SEARCH: [ok()]})
    connection = douyin_connection(url)
    connection.app_secret = "wrong-secret"
    with pytest.raises(Permanent, match="invalid signature"):
        client_for(connection).call_with_retry(SEARCH, {"page": 0})
    assert len(scripted.received) == 1  # not retried


def test_obtaining_a_self_use_token_stores_it(gateway, douyin_connection):
    from sync.marketplaces.douyin.tokens import token_obtain

    scripted, url = gateway({"/token/create": [NEW_TOKEN]})
    connection = douyin_connection(url)
    token_obtain(client_for(connection))
    [create] = scripted.calls("/token/create")
    assert json.loads(create["body"]) == {"code": "", "grant_type": "authorization_self", "shop_id": "4463798"}
    assert Connection.objects.get(pk=connection.pk).session == "access-new"
