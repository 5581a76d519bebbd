"""The shared call budget (Redis) and the /metrics endpoint."""
import uuid

import pytest

from sync import stats
from sync.ratelimit import BudgetTimeout, CallBudget


@pytest.fixture
def budget_id():
    # Budgets are keyed by connection id in a Redis shared by test runs: use an id nobody else uses.
    return int(uuid.uuid4().int % 10**12) + 10**12


def test_budget_never_lets_more_calls_through_than_allowed_per_minute(budget_id):
    budget = CallBudget(budget_id, 3)
    assert [budget.try_acquire() for _ in range(3)] == [0, 0, 0]
    wait_ms = budget.try_acquire()
    assert 0 < wait_ms <= 60_000
    # A second worker sees the same budget.
    assert CallBudget(budget_id, 3).try_acquire() > 0


def test_acquire_waits_for_the_oldest_call_to_leave_the_window(budget_id):
    waits = []
    budget = CallBudget(budget_id, 1, sleep=waits.append)
    budget.acquire()
    with pytest.raises(BudgetTimeout):
        budget.acquire(max_wait=0.5)
    assert waits == []  # it did not sleep past what the caller allows


def test_a_ban_stops_every_worker_for_the_stated_seconds(budget_id):
    budget = CallBudget(budget_id, 100)
    budget.ban(30)
    assert 29 <= budget.banned_for() <= 30
    assert 29_000 <= CallBudget(budget_id, 100).try_acquire() <= 30_000


@pytest.mark.django_db
def test_metrics_need_the_token_and_speak_prometheus(client, settings, merchant_a):
    from sync.models import Connection

    connection = Connection.objects.create(merchant=merchant_a, name="shop", gateway_url="http://x/router/rest",
                                           app_key="k")
    stats.call_record(connection_id=connection.pk, method="taobao.trades.sold.get", outcome="ok", seconds=0.2)
    stats.call_record(connection_id=connection.pk, method="taobao.trades.sold.get", outcome="network", seconds=3)
    assert client.get("/metrics").status_code == 401
    assert client.get("/metrics", HTTP_AUTHORIZATION="Bearer wrong").status_code == 401
    response = client.get("/metrics", HTTP_AUTHORIZATION=f"Bearer {settings.METRICS_TOKEN}")
    assert response.status_code == 200
    text = response.content.decode()
    label = f'connection="{connection.pk}",method="taobao.trades.sold.get"'
    assert f'mh_top_calls_total{{{label},outcome="ok"}}' in text
    assert f'mh_top_calls_total{{{label},outcome="network"}}' in text
    assert (f'mh_top_call_duration_seconds_bucket{{connection="{connection.pk}",le="0.25",'
            'method="taobao.trades.sold.get"} 1.0') in text
    assert 'mh_queue_depth{queue="sync"}' in text
    assert f'mh_connection_breaker_open{{connection="{connection.pk}"}} 0.0' in text
    settings.METRICS_TOKEN = ""
    assert client.get("/metrics", HTTP_AUTHORIZATION="Bearer ").status_code == 404


@pytest.mark.django_db
def test_metrics_show_what_waits_to_be_pushed_and_what_failed(client, settings, merchant_a):
    from datetime import timedelta

    from django.utils import timezone

    from sync.models import Connection, Outbox
    from tests.factories import ProductFactory

    connection = Connection.objects.create(merchant=merchant_a, name="shop", gateway_url="http://x/router/rest",
                                           app_key="k")
    now = timezone.now()
    products = [ProductFactory(merchant=merchant_a) for _ in range(3)]
    Outbox.objects.create(connection=connection, kind="stock", product=products[0], pending=True,
                          dirty_since=now - timedelta(seconds=90), due_at=now)
    Outbox.objects.create(connection=connection, kind="stock", product=products[1], pending=True,
                          dirty_since=now - timedelta(seconds=10), due_at=now)
    Outbox.objects.create(connection=connection, kind="stock", product=products[2], pending=False, failed_at=now,
                          due_at=now, last_error="no such SKU")

    text = client.get("/metrics", HTTP_AUTHORIZATION=f"Bearer {settings.METRICS_TOKEN}").content.decode()

    label = f'connection="{connection.pk}",kind="stock"'
    assert f"mh_outbox_waiting{{{label}}} 2.0" in text
    assert f"mh_outbox_failed{{{label}}} 1.0" in text
    oldest = next(line for line in text.splitlines() if line.startswith(f"mh_outbox_oldest_waiting_seconds{{{label}}}"))
    assert 89 <= float(oldest.split()[-1]) < 600


def test_an_idle_message_channel_backs_off_so_polls_keep_their_budget():
    from sync.consumer import idle_sleep_next

    pauses, pause = [], 0.0
    for _ in range(5):
        pause = idle_sleep_next(pause, False, floor=0.5, ceiling=3.0)
        pauses.append(pause)
    assert pauses == [0.5, 1.0, 2.0, 3.0, 3.0]
    assert idle_sleep_next(3.0, True, floor=0.5, ceiling=3.0) == 0.0
