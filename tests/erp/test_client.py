"""The ERP bridge client against the sandbox bridge over real HTTP: signing, paging, typed errors, records."""
from decimal import Decimal

import pytest

from sync.erp.client import ErpClient
from sync.erp.errors import CursorExpired, UnsupportedKind, retry_after_seconds
from sync.errors import MalformedAnswer, NetworkError, Permanent, Retryable
from sync.models import ApiCall, Connection
from sync.erp.sandbox.erp import (
    erp_batches_change, erp_change, erp_log_truncate, erp_price_change, erp_stock_change,
)
from sync.erp.sandbox.models import SandboxErpCall

from .conftest import faults, fast_client


def outcomes(connection) -> list[str]:
    return list(ApiCall.objects.filter(connection=connection).order_by("pk").values_list("outcome", flat=True))


def statuses(bridge) -> list[int]:
    return list(SandboxErpCall.objects.filter(erp=bridge).order_by("pk").values_list("status", flat=True))


def test_a_signed_page_is_read_with_money_as_decimal_and_the_call_recorded(connection, bridge):
    erp_stock_change(bridge, "A1", 40)
    erp_price_change(bridge, "A1", "12.50")
    erp_change(bridge, "prices", {"erp_product_id": "A1", "price_type": "default", "price": "9.90"})

    stock = fast_client(connection).changes("stock")
    prices = fast_client(connection).changes("prices")

    assert stock.items == [{"erp_product_id": "A1", "stock": 40}]
    assert (stock.has_more, stock.next_cursor != "") == (False, True)
    # Numbers are read as Decimal (never float); a numeric string, which the contract also allows, stays text.
    assert [item["price"] for item in prices.items] == [Decimal("12.5"), "9.90"]
    calls = ApiCall.objects.filter(connection=connection).order_by("pk")
    assert [(c.method, c.outcome) for c in calls] == [("GET /changes/stock", "ok"), ("GET /changes/prices", "ok")]


def test_paging_follows_the_cursor_and_never_splits_a_products_batches(connection, bridge):
    erp_stock_change(bridge, "A1", 1)
    erp_batches_change(bridge, "A1", [
        {"batch_no": f"B{n}", "production_date": "2026-01-01", "expiry_date": "2028-01-01", "quantity": n}
        for n in range(1, 4)])
    erp_batches_change(bridge, "A2", [
        {"batch_no": "C1", "production_date": "2026-01-01", "expiry_date": "2028-01-01", "quantity": 5}])
    client = fast_client(connection)

    first = client.changes("batches", limit=2)
    second = client.changes("batches", cursor=first.next_cursor, limit=2)
    third = client.changes("batches", cursor=second.next_cursor, limit=2)

    assert [i["batch_no"] for i in first.items] == ["B1", "B2", "B3"] and first.has_more
    assert [i["batch_no"] for i in second.items] == ["C1"] and not second.has_more
    assert (third.items, third.has_more, third.next_cursor) == ([], False, second.next_cursor)


def test_a_wrong_secret_is_a_permanent_error_naming_the_bridges_code(connection, bridge):
    connection.app_secret = "not-the-secret"

    with pytest.raises(Permanent) as caught:
        ErpClient(connection).changes("stock")

    assert caught.value.code == "HTTP 401 bad_signature"
    assert outcomes(connection) == ["permanent"]


def test_a_revoked_key_is_permanent_too(connection, bridge):
    faults(bridge, unauthorized=True)

    with pytest.raises(Permanent, match="key_revoked"):
        fast_client(connection).changes_with_retry("stock")

    assert statuses(bridge) == [401]  # not retried


def test_a_429_is_waited_out_as_long_as_retry_after_says(connection, bridge):
    erp_stock_change(bridge, "A1", 3)
    faults(bridge, rate_limit_next_seconds=1)

    page = fast_client(connection).changes_with_retry("stock")

    assert page.items == [{"erp_product_id": "A1", "stock": 3}]
    assert statuses(bridge) == [429, 200]
    assert outcomes(connection) == ["rate_limited", "ok"]


def test_server_errors_are_retried_until_an_answer_comes(connection, bridge):
    erp_stock_change(bridge, "A1", 3)
    faults(bridge, fail_next=2)

    page = fast_client(connection).changes_with_retry("stock")

    assert len(page.items) == 1
    assert statuses(bridge) == [503, 503, 200]
    assert outcomes(connection) == ["retryable", "retryable", "ok"]


def test_server_errors_past_the_attempts_are_raised(connection, bridge):
    faults(bridge, fail_next=10)

    with pytest.raises(Retryable):
        fast_client(connection).changes_with_retry("stock")

    assert len(statuses(bridge)) == 6


def test_a_malformed_answer_is_a_failed_call_and_is_retried(connection, bridge):
    erp_stock_change(bridge, "A1", 3)
    faults(bridge, malformed_next=1)
    client = fast_client(connection)

    with pytest.raises(MalformedAnswer):
        client.changes("stock")
    page = client.changes_with_retry("stock")

    assert len(page.items) == 1
    assert outcomes(connection) == ["malformed", "ok"]


def test_a_slow_answer_times_out_and_the_retry_gets_the_page(connection, bridge):
    erp_stock_change(bridge, "A1", 3)
    faults(bridge, slow_next=1, slow_seconds=1.0)
    client = fast_client(connection, timeout=(2.0, 0.3))

    page = client.changes_with_retry("stock")

    assert len(page.items) == 1
    assert outcomes(connection) == ["network", "ok"]


def test_an_unreachable_bridge_is_a_network_error(connection):
    Connection.objects.filter(pk=connection.pk).update(gateway_url="http://127.0.0.1:9/bridge")
    connection.refresh_from_db()

    with pytest.raises(NetworkError):
        fast_client(connection).changes("stock")


def test_feed_errors_the_pipeline_acts_on_are_typed(connection, bridge):
    faults(bridge, unsupported_kinds="batches")
    first = erp_stock_change(bridge, "A1", 3)
    erp_log_truncate(bridge)
    client = fast_client(connection)

    with pytest.raises(UnsupportedKind):
        client.changes("batches")
    with pytest.raises(CursorExpired):
        client.changes("stock", cursor=str(first.pk - 1))
    # Neither counts against the connection: the bridge answered as the contract says.
    assert outcomes(connection) == ["business", "business"]


def test_orders_are_answered_one_by_one(connection, bridge):
    faults(bridge, refuse_products="BLOCKED")
    order = {"order_no": "N1", "items": [{"erp_product_id": "A1", "quantity": 1}]}
    blocked = {"order_no": "N2", "items": [{"erp_product_id": "BLOCKED", "quantity": 1}]}
    client = fast_client(connection)

    first = client.orders_send([order, blocked])
    again = client.orders_send([order])

    assert [(a.order_no, a.status) for a in first] == [("N1", "accepted"), ("N2", "rejected")]
    assert "BLOCKED" in first[1].message
    assert [(a.order_no, a.status) for a in again] == [("N1", "duplicate")]


def test_ping_answers_the_bridges_name(connection):
    assert fast_client(connection).ping()["name"] == "Test ERP"


def test_retry_after_is_read_as_seconds_or_a_date_and_bounded():
    from datetime import datetime, timezone

    now = datetime(2026, 3, 1, 12, 0, 0, tzinfo=timezone.utc)
    assert retry_after_seconds("7") == 7
    assert retry_after_seconds("Sun, 01 Mar 2026 12:00:30 GMT", now) == 30
    assert retry_after_seconds("soon") == 60
    assert retry_after_seconds(None) == 60
    assert retry_after_seconds("999999") == 3600
