"""Connection health on the dashboard (SPEC M2, S6): state, breaker, lag, call error rates, stopped alerts,
recent failures and the 24-hour charts, from the numbers in sync.selectors."""
from datetime import timedelta

import pytest
from django.db import connection as db_connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from sync import selectors
from sync.models import ApiCall, BreakerState, CallOutcome, Checkpoint, RunOutcome, SyncModule, SyncRun

from .factories import ConnectionFactory

pytestmark = pytest.mark.usefixtures("english_pages")


def calls(connection, at, *outcomes):
    ApiCall.objects.bulk_create([
        ApiCall(connection=connection, method="taobao.trades.sold.increment.get", at=at, duration_ms=80,
                outcome=outcome) for outcome in outcomes
    ])


@pytest.fixture
def shop(merchant_a):
    return ConnectionFactory(merchant=merchant_a, name="Tmall flagship")


def test_health_counts_failed_calls_per_hour_and_day_and_the_lag(shop):
    now = timezone.now()
    calls(shop, now - timedelta(minutes=10), CallOutcome.OK, CallOutcome.OK, CallOutcome.OK, CallOutcome.NETWORK)
    # A business error is the marketplace refusing one item, not the connection failing.
    calls(shop, now - timedelta(minutes=20), CallOutcome.BUSINESS)
    calls(shop, now - timedelta(hours=3), CallOutcome.RATE_LIMITED, CallOutcome.OK, CallOutcome.OK)
    calls(shop, now - timedelta(hours=30), CallOutcome.PERMANENT)  # outside both windows
    Checkpoint.objects.create(connection=shop, module=SyncModule.ORDERS, position=now - timedelta(minutes=12))

    (health,) = selectors.connections_health([shop], now=now)
    assert (health.calls_hour, health.failed_hour) == (5, 1)
    assert health.error_rate_hour == 20.0
    assert (health.calls_day, health.failed_day) == (8, 2)
    assert health.error_rate_day == 25.0
    assert health.lag == timedelta(minutes=12)


def test_an_erp_connections_lag_is_its_change_feeds_not_an_order_pull(merchant_a):
    now = timezone.now()
    erp = ConnectionFactory(merchant=merchant_a, name="ERP bridge", kind="erp")
    Checkpoint.objects.create(connection=erp, module=SyncModule.ERP_PULL, position=now - timedelta(minutes=3))

    (health,) = selectors.connections_health([erp], now=now)

    assert health.lag == timedelta(minutes=3)


def test_health_of_a_connection_that_never_ran(shop):
    (health,) = selectors.connections_health([shop])
    assert health.lag is None and health.error_rate_hour is None and health.calls_day == 0


def test_hourly_series_has_24_buckets_with_error_rate_and_lag(shop):
    # Half past the hour, so "a minute ago" is in the current bucket whenever the test runs.
    now = timezone.now().replace(minute=30, second=0, microsecond=0)
    calls(shop, now - timedelta(minutes=1), CallOutcome.OK, CallOutcome.NETWORK)
    calls(shop, now - timedelta(hours=5), CallOutcome.OK, CallOutcome.OK, CallOutcome.OK, CallOutcome.RETRYABLE)
    # An incremental run that brought the checkpoint up to 2 minutes before its end, 3 hours ago.
    done = now - timedelta(hours=3)
    SyncRun.objects.create(connection=shop, module=SyncModule.ORDERS, mode="incremental", outcome=RunOutcome.OK,
                           started_at=done - timedelta(seconds=5), finished_at=done,
                           window_to=done - timedelta(minutes=2))

    series = selectors.connections_series([shop], now=now)[shop.pk]
    assert len(series.error_rate) == len(series.lag) == 24
    rates = [rate for _start, rate in series.error_rate]
    assert rates[-1] == 50.0
    assert 25.0 in rates
    assert sum(1 for r in rates if r) == 2
    lags = [lag for _start, lag in series.lag]
    # Before the run there is no position yet; afterwards the lag grows with time; now it is ~3 h 2 min.
    assert lags[0] == 0
    assert lags[-1] == pytest.approx(182, abs=0.1)
    assert lags[-2] < lags[-1]


def test_dashboard_shows_connection_health(client_viewer, shop):
    now = timezone.now()
    calls(shop, now - timedelta(minutes=5), CallOutcome.OK, CallOutcome.OK, CallOutcome.OK, CallOutcome.NETWORK)
    Checkpoint.objects.create(connection=shop, module=SyncModule.ORDERS, position=now - timedelta(minutes=30))
    type(shop).objects.filter(pk=shop.pk).update(
        last_success_at=now, breaker_state=BreakerState.OPEN,
        breaker_reason="9 of 30 calls failed in the last 5 minutes (30%, over 5%); most often isp.timeout.",
    )
    response = client_viewer.get(reverse("dashboard"))
    assert response.status_code == 200
    page = response.content.decode()
    assert shop.get_absolute_url() in page
    assert "Tmall flagship" in page
    assert "Open (degraded to hourly full pull)" in page
    assert "most often isp.timeout" in page
    assert "25.0%" in page
    assert "30\xa0minutes" in page or "30 minutes" in page
    (health, error_chart, lag_chart) = response.context["connections"][0]
    assert health.error_rate_hour == 25.0
    assert len(error_chart) == len(lag_chart) == 24
    assert page.count('<svg class="chart"') >= 5  # the 3 existing charts and 2 for the connection


def test_dashboard_alerts_when_a_connection_is_stopped(client_viewer, shop):
    type(shop).objects.filter(pk=shop.pk).update(
        stopped_reason="The marketplace session has expired or is invalid: session-expired")
    page = client_viewer.get(reverse("dashboard")).content.decode()
    alerts = page.split(">Alerts<", 1)[1]
    assert "Connection Tmall flagship: jobs are stopped." in alerts
    assert "session-expired" in alerts
    assert "An owner must update the session token" in alerts


def test_dashboard_without_stopped_connections_has_no_stop_alert(client_viewer, shop):
    assert "stopped-alert" not in client_viewer.get(reverse("dashboard")).content.decode()


def test_dashboard_lists_the_last_five_failed_runs(client_viewer, shop, merchant_b):
    now = timezone.now()
    for i in range(7):
        SyncRun.objects.create(connection=shop, module=SyncModule.ORDERS, started_at=now - timedelta(minutes=i),
                               outcome=RunOutcome.FAILED, errors=[f"failure number {i}"])
    SyncRun.objects.create(connection=shop, module=SyncModule.REFUNDS, started_at=now, outcome=RunOutcome.OK)
    other = ConnectionFactory(merchant=merchant_b)
    SyncRun.objects.create(connection=other, module=SyncModule.ORDERS, started_at=now, outcome=RunOutcome.STOPPED,
                           errors=["merchant b failure"])
    response = client_viewer.get(reverse("dashboard"))
    failures = list(response.context["recent_failures"])
    assert [r.errors[0] for r in failures] == [f"failure number {i}" for i in range(5)]
    page = response.content.decode()
    assert "failure number 4" in page and "failure number 5" not in page
    assert "merchant b failure" not in page


def test_dashboard_queries_do_not_grow_with_the_number_of_connections(client_viewer, merchant_a):
    def queries() -> int:
        with CaptureQueriesContext(db_connection) as ctx:
            assert client_viewer.get(reverse("dashboard")).status_code == 200
        return len(ctx.captured_queries)

    ConnectionFactory(merchant=merchant_a)
    one = queries()
    for _ in range(3):
        c = ConnectionFactory(merchant=merchant_a)
        calls(c, timezone.now(), CallOutcome.OK, CallOutcome.NETWORK)
        Checkpoint.objects.create(connection=c, module=SyncModule.ORDERS, position=timezone.now())
    assert queries() == one


def test_outsider_dashboard_does_not_show_merchant_a_connections(client_outsider, shop):
    type(shop).objects.filter(pk=shop.pk).update(stopped_reason="merchant a is stopped")
    page = client_outsider.get(reverse("dashboard")).content.decode()
    assert "Tmall flagship" not in page
    assert "merchant a is stopped" not in page
