"""The dispatcher, the run lease, and the operator commands."""
import json
from datetime import timedelta
from io import StringIO

import django_rq
import pytest
from django.contrib.auth import get_user_model
from django.core.management import CommandError, call_command
from django.utils import timezone

from merchant.models import Membership, Merchant, Role
from sync.models import BreakerState, Checkpoint, Connection, SyncModule
from sync.runs import LeaseTaken, run_of
from sync import schedule

pytestmark = pytest.mark.django_db


@pytest.fixture
def dispatch(django_capture_on_commit_callbacks):
    """The dispatcher, with its enqueues (sent on commit) really sent inside the test's transaction."""
    def run(now=None):
        with django_capture_on_commit_callbacks(execute=True):
            return schedule.dispatch(now)
    return run


@pytest.fixture
def queue():
    q = django_rq.get_queue("sync")
    q.empty()
    yield q
    q.empty()


@pytest.fixture
def connection(merchant_a):
    return Connection.objects.create(merchant=merchant_a, name="shop", gateway_url="http://127.0.0.1:9/router/rest",
                                     app_key="k")


def test_first_dispatch_queues_the_full_pull_once(connection, queue, dispatch):
    now = timezone.now()
    first = dispatch(now)
    assert first == [f"sync-{connection.pk}-orders_full"]
    assert dispatch(now) == []  # still queued: not twice
    assert queue.count == 1


def test_after_the_full_pull_orders_and_refunds_are_due_on_their_intervals(connection, queue, dispatch):
    now = timezone.now()
    Checkpoint.objects.create(connection=connection, module=SyncModule.ORDERS_FULL, completed_at=now,
                              last_run_at=now)
    Checkpoint.objects.create(connection=connection, module=SyncModule.ORDERS, position=now,
                              last_run_at=now - timedelta(seconds=30))
    Checkpoint.objects.create(connection=connection, module=SyncModule.RECONCILE, last_run_at=now)
    Checkpoint.objects.create(connection=connection, module=SyncModule.ITEMS, position=now, last_run_at=now)
    Checkpoint.objects.create(connection=connection, module=SyncModule.TRACE, last_run_at=now)
    Checkpoint.objects.create(connection=connection, module=SyncModule.STOCK_CHECK, last_run_at=now)
    assert dispatch(now) == [f"sync-{connection.pk}-refunds"]
    later = now + timedelta(seconds=40)
    assert [j.split("-")[2] for j in dispatch(later)] == ["orders"]


def test_stock_checks_run_once_items_are_mapped_then_every_interval(connection, queue, dispatch, settings):
    settings.STOCK_CHECK_INTERVAL = 3600
    now = timezone.now()
    Checkpoint.objects.create(connection=connection, module=SyncModule.ORDERS_FULL, completed_at=now, last_run_at=now)
    assert not any(j.endswith("-stock_check") for j in dispatch(now))
    Checkpoint.objects.create(connection=connection, module=SyncModule.ITEMS, position=now, last_run_at=now)
    assert f"sync-{connection.pk}-stock_check" in dispatch(now)
    queue.empty()
    Checkpoint.objects.create(connection=connection, module=SyncModule.STOCK_CHECK, last_run_at=now)
    assert not any(j.endswith("-stock_check") for j in dispatch(now + timedelta(minutes=50)))
    assert any(j.endswith("-stock_check") for j in dispatch(now + timedelta(minutes=61)))
    settings.STOCK_CHECK_INTERVAL = 0
    queue.empty()
    assert not any(j.endswith("-stock_check") for j in dispatch(now + timedelta(hours=3)))


def test_carrier_traces_are_read_after_the_first_pull_then_every_ten_minutes(connection, queue, dispatch):
    now = timezone.now()
    full = Checkpoint.objects.create(connection=connection, module=SyncModule.ORDERS_FULL, last_run_at=now)
    assert not any(j.endswith("-trace") for j in dispatch(now))
    Checkpoint.objects.filter(pk=full.pk).update(completed_at=now)
    assert f"sync-{connection.pk}-trace" in dispatch(now)
    queue.empty()
    Checkpoint.objects.create(connection=connection, module=SyncModule.TRACE, last_run_at=now)
    assert not any(j.endswith("-trace") for j in dispatch(now + timedelta(minutes=9)))
    assert any(j.endswith("-trace") for j in dispatch(now + timedelta(minutes=10)))


def test_the_shops_items_are_read_after_the_first_pull_then_every_six_hours(connection, queue, dispatch):
    now = timezone.now()
    full = Checkpoint.objects.create(connection=connection, module=SyncModule.ORDERS_FULL, last_run_at=now)
    assert not any(j.endswith("-items") for j in dispatch(now))
    Checkpoint.objects.filter(pk=full.pk).update(completed_at=now)
    assert f"sync-{connection.pk}-items" in dispatch(now)
    queue.empty()
    # A complete refresh moves the position past its start; the next is due six hours later.
    Checkpoint.objects.create(connection=connection, module=SyncModule.ITEMS, last_run_at=now, position=now)
    assert not any(j.endswith("-items") for j in dispatch(now + timedelta(hours=5)))
    assert any(j.endswith("-items") for j in dispatch(now + timedelta(hours=6)))
    queue.empty()
    # One that left items unread (position behind its start) runs again within minutes.
    Checkpoint.objects.filter(connection=connection, module=SyncModule.ITEMS).update(
        last_run_at=now, position=now - timedelta(hours=1))
    assert any(j.endswith("-items") for j in dispatch(now + timedelta(minutes=5)))


def test_reconciliation_is_queued_nightly_after_3_am_once_a_day(connection, queue, dispatch):
    from sync.marketplaces.top.times import TOP_TZ

    night = timezone.now().astimezone(TOP_TZ).replace(hour=2, minute=30)
    Checkpoint.objects.create(connection=connection, module=SyncModule.ORDERS_FULL, completed_at=night,
                              last_run_at=night)
    assert not any("reconcile" in j for j in dispatch(night))
    after = night.replace(hour=3, minute=1)
    assert any("reconcile" in j for j in dispatch(after))
    Checkpoint.objects.filter(connection=connection, module=SyncModule.RECONCILE).update_or_create(
        connection=connection, module=SyncModule.RECONCILE, defaults={"last_run_at": after})
    assert not any("reconcile" in j for j in dispatch(after + timedelta(hours=2)))


def test_an_open_breaker_swaps_incremental_for_an_hourly_full_pull(connection, queue, dispatch):
    now = timezone.now()
    Checkpoint.objects.create(connection=connection, module=SyncModule.ORDERS_FULL, completed_at=now)
    Checkpoint.objects.create(connection=connection, module=SyncModule.ORDERS, position=now,
                              last_run_at=now - timedelta(minutes=5))
    Connection.objects.filter(pk=connection.pk).update(breaker_state=BreakerState.OPEN, breaker_changed_at=now)
    assert not any(j.endswith("-orders") for j in dispatch(now))  # an hour has not passed
    assert any(j.endswith("-orders") for j in dispatch(now + timedelta(hours=1)))


def test_stopped_or_disabled_connections_get_no_jobs(connection, queue, dispatch):
    Connection.objects.filter(pk=connection.pk).update(stopped_reason="session expired")
    assert dispatch() == []
    Connection.objects.filter(pk=connection.pk).update(stopped_reason="", is_enabled=False)
    assert dispatch() == []


def test_never_two_runs_of_one_module_at_once(connection):
    with run_of(connection, SyncModule.ORDERS):
        with pytest.raises(LeaseTaken):
            with run_of(connection, SyncModule.ORDERS):
                pass
        with run_of(connection, SyncModule.REFUNDS):  # another module may run
            pass
    with run_of(connection, SyncModule.ORDERS):  # released afterwards
        pass


def test_a_lease_left_by_a_killed_worker_expires(connection):
    Checkpoint.objects.create(connection=connection, module=SyncModule.ORDERS, lease_token="dead",
                              lease_until=timezone.now() - timedelta(seconds=1))
    with run_of(connection, SyncModule.ORDERS) as run:
        assert run.token != "dead"


def test_merchant_create_makes_the_merchant_and_its_owner():
    out = StringIO()
    call_command("merchant_create", "acme", "--name", "Acme 药业", "--owner", "acme_owner",
                 "--password", "a-Long-pass-2026", stdout=out)
    assert json.loads(out.getvalue())["merchant"] == "acme"
    membership = Membership.objects.get(user__username="acme_owner")
    assert membership.merchant == Merchant.objects.get(code="acme") and membership.role == Role.OWNER
    assert get_user_model().objects.get(username="acme_owner").check_password("a-Long-pass-2026")
    with pytest.raises(CommandError, match="already exists"):
        call_command("merchant_create", "acme2", "--name", "x", "--owner", "acme_owner", "--password", "a-Long-pass-2026")
    with pytest.raises(CommandError, match="password"):
        call_command("merchant_create", "acme3", "--name", "x", "--owner", "new_user", "--password", "123")
    assert not Merchant.objects.filter(code__in=["acme2", "acme3"]).exists()


def test_connection_add_prints_the_id_and_stores_the_secret_encrypted(merchant_a):
    out = StringIO()
    call_command("connection_add", merchant_a.code, "top", "--gateway", "https://eco.taobao.com/router/rest",
                 "--app-key", "12345678", "--app-secret", "s3cret-value", "--session", "sess-token",
                 "--sign-method", "hmac-sha256", "--calls-per-minute", "50", stdout=out)
    connection = Connection.objects.get(pk=int(out.getvalue().strip()))
    assert connection.merchant == merchant_a and connection.sign_method == "hmac-sha256"
    assert connection.calls_per_minute == 50
    assert connection.app_secret == "s3cret-value" and "s3cret-value" not in connection.app_secret_encrypted
    assert connection.session == "sess-token" and "sess-token" not in connection.session_encrypted
    with pytest.raises(CommandError, match="no merchant"):
        call_command("connection_add", "nope", "top", "--gateway", "https://x/router/rest", "--app-key", "k",
                     "--app-secret", "s", "--session", "t")


def test_sync_run_prints_one_json_line_even_when_the_gateway_is_down(connection):
    out = StringIO()
    with pytest.raises(SystemExit):
        call_command("sync_run", str(connection.pk), "refunds", stdout=out)
    summary = json.loads(out.getvalue())
    assert summary["outcome"] == "failed" and summary["module"] == "refunds"
    assert summary["calls"] >= 1 and "could not connect" in summary["errors"][0]
    with pytest.raises(CommandError, match="no connection"):
        call_command("sync_run", "999999", "orders")
