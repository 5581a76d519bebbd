"""The connections pages (SPEC M12): owners add, edit, test, enable/disable and run syncs; everyone else looks.
The app secret and the session token are stored encrypted and never reach a page."""
from datetime import timedelta

import django_rq
import pytest
from django.conf import settings
from django.db import connection as db_connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from sync.connection_tests import connection_test_run
from sync.models import (
    BreakerEvent, BreakerState, Checkpoint, Connection, ConnectionTestStatus, ReconcileReport, RunOutcome, SyncModule,
    SyncRun,
)
from sync.marketplaces.top.services import connection_create

from .factories import ConnectionFactory

pytestmark = pytest.mark.usefixtures("english_pages")

SECRET = "plain-app-secret-4f9a"
SESSION = "plain-session-token-77c1"
UNREACHABLE = "http://127.0.0.1:9/router/rest"


def form_data(**overrides) -> dict:
    data = {
        "name": "Tmall flagship", "gateway_url": UNREACHABLE, "app_key": "12345678", "app_secret": SECRET,
        "session": SESSION, "sign_method": "md5", "calls_per_minute": "100", "orders_interval": "60",
        "refunds_interval": "300", "messages_enabled": "on",
    }
    data.update(overrides)
    return data


@pytest.fixture
def connection(merchant_a, owner_actor):
    return connection_create(merchant=merchant_a, actor=owner_actor, app_secret=SECRET, session=SESSION,
                             name="Tmall flagship", gateway_url=UNREACHABLE, app_key="12345678")


# django-rq holds a job enqueued inside a transaction until the commit, and every non-transactional test runs
# inside one, so the tests that look at the queue after a "sync now" click commit for real.
enqueues = pytest.mark.django_db(transaction=True)


@pytest.fixture
def sync_queue():
    queue = django_rq.get_queue("sync")
    queue.empty()
    yield queue
    queue.empty()


def assert_no_secrets(response):
    body = response.content.decode()
    assert SECRET not in body
    assert SESSION not in body


# --- create / edit ------------------------------------------------------------------------------------------------


def test_owner_adds_a_connection_whose_secrets_are_stored_encrypted_and_never_shown(client_owner, merchant_a):
    response = client_owner.post(reverse("connection_add"), form_data())
    connection = Connection.objects.get(merchant=merchant_a)
    assert response.status_code == 302
    assert response["Location"] == reverse("connection_detail", args=[connection.pk])
    assert connection.name == "Tmall flagship"
    assert SECRET not in connection.app_secret_encrypted
    assert SESSION not in connection.session_encrypted
    assert connection.app_secret == SECRET and connection.session == SESSION

    for url in (reverse("connection_detail", args=[connection.pk]), reverse("connection_edit", args=[connection.pk]),
                reverse("connection_list"), reverse("connection_runs", args=[connection.pk]), reverse("dashboard")):
        response = client_owner.get(url)
        assert response.status_code == 200, url
        assert_no_secrets(response)
    detail = client_owner.get(reverse("connection_detail", args=[connection.pk])).content.decode()
    assert "stored" in detail


def test_a_rejected_form_does_not_echo_the_secrets_back(client_owner, merchant_a):
    response = client_owner.post(reverse("connection_add"), form_data(gateway_url="not a url"))
    assert response.status_code == 400
    assert_no_secrets(response)
    assert not Connection.objects.filter(merchant=merchant_a).exists()


def test_secret_and_session_are_required_when_adding(client_owner, merchant_a):
    response = client_owner.post(reverse("connection_add"), form_data(app_secret="", session=""))
    assert response.status_code == 400
    assert set(response.context["form"].errors) == {"app_secret", "session"}
    assert not Connection.objects.filter(merchant=merchant_a).exists()


def test_editing_with_blank_secret_and_session_keeps_the_stored_ones(client_owner, connection):
    response = client_owner.post(reverse("connection_edit", args=[connection.pk]),
                                 form_data(name="Renamed", app_secret="", session="", calls_per_minute="40"))
    assert response.status_code == 302
    connection.refresh_from_db()
    assert connection.name == "Renamed"
    assert connection.calls_per_minute == 40
    assert connection.app_secret == SECRET
    assert connection.session == SESSION


def test_edit_form_never_prefills_the_secrets(client_owner, connection):
    response = client_owner.get(reverse("connection_edit", args=[connection.pk]))
    assert_no_secrets(response)
    assert connection.app_secret_encrypted not in response.content.decode()
    assert "Leave blank to keep it" in response.content.decode()


def test_saving_a_new_session_token_resumes_a_stopped_connection(client_owner, connection):
    Connection.objects.filter(pk=connection.pk).update(stopped_reason="The marketplace session has expired")
    response = client_owner.post(reverse("connection_edit", args=[connection.pk]),
                                 form_data(app_secret="", session="fresh-session-token"))
    assert response.status_code == 302
    connection.refresh_from_db()
    assert connection.stopped_reason == ""
    assert connection.session == "fresh-session-token"
    assert connection.app_secret == SECRET


# --- enable / disable / test / sync now ---------------------------------------------------------------------------


def test_disabling_a_connection_asks_first_and_cancel_changes_nothing(client_owner, connection):
    ask = client_owner.post(reverse("connection_disable", args=[connection.pk]))
    assert ask.status_code == 200
    page = ask.content.decode()
    assert 'name="confirmed" value="1"' in page and connection.get_absolute_url() in page  # confirm, or go back
    connection.refresh_from_db()
    assert connection.is_enabled


def test_owner_disables_and_enables_a_connection(client_owner, connection):
    client_owner.post(reverse("connection_disable", args=[connection.pk]), {"confirmed": "1"})
    connection.refresh_from_db()
    assert not connection.is_enabled
    page = client_owner.get(reverse("connection_detail", args=[connection.pk])).content.decode()
    assert 'id="disabled-alert"' in page and 'id="enable-connection"' in page

    Connection.objects.filter(pk=connection.pk).update(stopped_reason="session expired")
    client_owner.post(reverse("connection_enable", args=[connection.pk]))
    connection.refresh_from_db()
    assert connection.is_enabled
    assert connection.stopped_reason == ""  # enabling clears a stop so the next run tells whether it is fixed


def test_testing_an_unreachable_gateway_shows_a_fixed_refusal_once_a_worker_ran_it(client_owner, connection):
    response = client_owner.post(reverse("connection_test", args=[connection.pk]), follow=True)
    assert [str(m) for m in response.context["messages"]] == [
        "The connection test is queued; its result appears below."]
    assert response.context["last_test"].status == ConnectionTestStatus.QUEUED

    connection_test_run(test_id=response.context["last_test"].pk)  # what the sync worker runs
    page = client_owner.get(reverse("connection_detail", args=[connection.pk]))
    test = page.context["last_test"]
    assert test.status == ConnectionTestStatus.FAILED
    assert test.message == "The marketplace refused the call: could not connect, or the connection broke"
    assert test.message in page.content.decode()
    for detail in ("ConnectionError", "Errno", "Connection refused", "127.0.0.1"):
        assert detail not in test.message  # nothing that tells a viewer how the port answered
    assert_no_secrets(page)


@enqueues
@pytest.mark.parametrize("job, func, kwargs", [
    ("orders", "sync.jobs.sync_orders", {"full": False, "trigger": "manual"}),
    ("orders_full", "sync.jobs.sync_orders", {"full": True, "trigger": "manual"}),
    ("refunds", "sync.jobs.sync_refunds", {"trigger": "manual"}),
])
def test_sync_now_queues_the_job(client_owner, connection, sync_queue, job, func, kwargs):
    response = client_owner.post(reverse("connection_sync", args=[connection.pk]), {"job": job}, follow=True)
    assert "queued" in " ".join(str(m) for m in response.context["messages"])
    jobs = sync_queue.get_jobs()
    assert len(jobs) == 1
    assert jobs[0].func_name == func
    assert jobs[0].args == (connection.pk,)
    assert jobs[0].kwargs == kwargs


@enqueues
def test_check_for_missed_orders_queues_the_chosen_days(client_owner, connection, sync_queue):
    today = timezone.localdate()
    first, last = today - timedelta(days=3), today - timedelta(days=2)
    client_owner.post(reverse("connection_sync", args=[connection.pk]),
                      {"job": "reconcile", "first": first.isoformat(), "last": last.isoformat()})
    (job,) = sync_queue.get_jobs()
    assert job.func_name == "sync.jobs.sync_reconcile"
    assert job.kwargs == {"trigger": "manual", "first": first, "last": last}


def test_check_for_missed_orders_defaults_to_yesterday_on_the_page(client_owner, connection):
    page = client_owner.get(reverse("connection_detail", args=[connection.pk])).content.decode()
    yesterday = (timezone.localdate() - timedelta(days=1)).isoformat()
    assert f'name="first" value="{yesterday}"' in page
    assert f'name="last" value="{yesterday}"' in page


@pytest.mark.parametrize("data", [
    {"job": "reconcile", "first": "2024-03-05", "last": "2024-03-01"},  # backwards
    {"job": "reconcile", "first": timezone.localdate().isoformat()},  # today is not over yet
    {"job": "delete_everything"},
    {},
])
def test_an_invalid_sync_request_queues_nothing(client_owner, connection, sync_queue, data):
    response = client_owner.post(reverse("connection_sync", args=[connection.pk]), data, follow=True)
    assert response.status_code == 200
    assert [m.level_tag for m in response.context["messages"]] and all(
        m.level_tag == "error" for m in response.context["messages"])
    assert sync_queue.count == 0


@enqueues
def test_sync_now_on_a_stopped_connection_warns_that_it_will_not_run(client_owner, connection, sync_queue):
    Connection.objects.filter(pk=connection.pk).update(stopped_reason="session expired")
    response = client_owner.post(reverse("connection_sync", args=[connection.pk]), {"job": "orders"}, follow=True)
    assert "will do nothing" in " ".join(str(m) for m in response.context["messages"])


# --- roles and merchants ------------------------------------------------------------------------------------------


ACTIONS = [("connection_enable", {}), ("connection_disable", {}), ("connection_test", {}),
           ("connection_sync", {"job": "orders"}), ("connection_edit", form_data(name="Hijacked"))]


@pytest.mark.parametrize("role", ["operator", "viewer"])
def test_operators_and_viewers_see_connections_read_only(request, role, connection, sync_queue):
    client = request.getfixturevalue(f"client_{role}")
    for name in ("connection_list", "connection_detail", "connection_runs"):
        args = [] if name == "connection_list" else [connection.pk]
        response = client.get(reverse(name, args=args))
        assert response.status_code == 200, name
        page = response.content.decode()
        assert reverse("connection_edit", args=[connection.pk]) not in page
        assert reverse("connection_sync", args=[connection.pk]) not in page
        assert reverse("connection_add") not in page
        assert_no_secrets(response)
    assert client.get(reverse("connection_add")).status_code == 403
    assert client.post(reverse("connection_add"), form_data()).status_code == 403
    assert client.get(reverse("connection_edit", args=[connection.pk])).status_code == 403
    for name, data in ACTIONS:
        assert client.post(reverse(name, args=[connection.pk]), data).status_code == 403, name
    connection.refresh_from_db()
    assert connection.is_enabled and connection.name == "Tmall flagship"
    assert sync_queue.count == 0


def test_owner_sees_the_action_buttons(client_owner, connection):
    page = client_owner.get(reverse("connection_detail", args=[connection.pk])).content.decode()
    for element in ("edit-connection", "test-connection", "disable-connection", "sync-orders", "sync-full",
                    "sync-refunds", "sync-reconcile"):
        assert f'id="{element}"' in page, element
    assert reverse("connection_add") in client_owner.get(reverse("connection_list")).content.decode()


def test_another_merchants_owner_gets_404_for_the_connection(client_outsider, connection, sync_queue):
    for name in ("connection_detail", "connection_edit", "connection_runs"):
        assert client_outsider.get(reverse(name, args=[connection.pk])).status_code == 404, name
    for name, data in ACTIONS:
        assert client_outsider.post(reverse(name, args=[connection.pk]), data).status_code == 404, name
    assert sync_queue.count == 0
    assert "Tmall flagship" not in client_outsider.get(reverse("connection_list")).content.decode()


def test_the_list_shows_only_the_merchants_own_connections(client_owner, connection, merchant_b):
    ConnectionFactory(merchant=merchant_b, name="Other shop")
    response = client_owner.get(reverse("connection_list"))
    assert [h.connection for h in response.context["healths"]] == [connection]
    assert "Other shop" not in response.content.decode()


# --- what the detail page says ------------------------------------------------------------------------------------


def test_detail_shows_the_stop_reason_and_the_breaker_with_its_history(client_viewer, connection):
    now = timezone.now()
    Connection.objects.filter(pk=connection.pk).update(
        stopped_reason="The marketplace session has expired or is invalid: invalid-sessionkey",
        breaker_state=BreakerState.OPEN, breaker_changed_at=now,
        breaker_reason="25 of 40 calls failed in the last 5 minutes (62%, over 5%); most often isp.timeout.",
    )
    BreakerEvent.objects.create(connection=connection, at=now, from_state=BreakerState.CLOSED,
                                to_state=BreakerState.OPEN, reason="tripped for the test")
    page = client_viewer.get(reverse("connection_detail", args=[connection.pk])).content.decode()
    assert 'id="stopped-alert"' in page
    assert "Jobs are stopped:" in page
    assert "invalid-sessionkey" in page
    assert "update the session token and save to resume" in page.lower()
    assert 'id="breaker-alert"' in page
    assert "most often isp.timeout" in page
    assert "tripped for the test" in page


def test_detail_shows_checkpoints_runs_and_reconciliation_reports(client_owner, connection):
    now = timezone.now()
    Checkpoint.objects.create(connection=connection, module=SyncModule.ORDERS, position=now - timedelta(minutes=7),
                              last_run_at=now)
    SyncRun.objects.create(connection=connection, module=SyncModule.ORDERS, mode="incremental",
                           started_at=now - timedelta(minutes=1), finished_at=now, outcome=RunOutcome.FAILED,
                           calls=12, failed_calls=3, fetched=40, created=5, updated=6, unchanged=29,
                           errors=["isp.remote-service-timeout on page 3"])
    ReconcileReport.objects.create(connection=connection, day=timezone.localdate() - timedelta(days=1), theirs=120,
                                   ours=118, missing=2, stale=1, refetched=3, extra=0,
                                   sample={"missing": ["4100000000001", "4100000000002"], "stale": ["4100000000009"],
                                           "extra": []})
    response = client_owner.get(reverse("connection_detail", args=[connection.pk]))
    page = response.content.decode()
    assert "isp.remote-service-timeout on page 3" in page
    assert "4100000000002" in page and "4100000000009" in page
    assert response.context["health"].lag_minutes == pytest.approx(7, abs=0.2)
    # A failed run can be run again by the owner.
    assert "Run again" in page


def test_recorded_errors_quoting_the_request_url_do_not_show_the_session(client_owner, connection):
    leaked = (f"ConnectionError: Max retries exceeded with url: /router/rest?method=x&session={SESSION}"
              f"&sign=7E202B343B18F962627E02CC7CAC1F23 (Connection refused)")
    Connection.objects.filter(pk=connection.pk).update(last_error=leaked, stopped_reason=leaked[:300])
    SyncRun.objects.create(connection=connection, module=SyncModule.ORDERS, started_at=timezone.now(),
                           outcome=RunOutcome.FAILED, errors=[leaked])
    for url in (reverse("connection_detail", args=[connection.pk]), reverse("connection_runs", args=[connection.pk]),
                reverse("connection_list"), reverse("dashboard")):
        page = client_owner.get(url).content.decode()
        assert SESSION not in page, url
        assert "7E202B343B18F962627E02CC7CAC1F23" not in page, url
        assert "session=***" in page, url


def test_run_history_is_paginated(client_viewer, connection):
    start = timezone.now() - timedelta(days=1)
    SyncRun.objects.bulk_create([
        SyncRun(connection=connection, module=SyncModule.ORDERS, mode="incremental", outcome=RunOutcome.OK,
                started_at=start + timedelta(minutes=i), finished_at=start + timedelta(minutes=i, seconds=5))
        for i in range(settings.PAGE_SIZE + 3)
    ])
    first = client_viewer.get(reverse("connection_runs", args=[connection.pk]))
    assert len(first.context["page"].object_list) == settings.PAGE_SIZE
    assert first.context["page"].object_list[0].started_at == start + timedelta(minutes=settings.PAGE_SIZE + 2)
    second = client_viewer.get(reverse("connection_runs", args=[connection.pk]), {"page": 2})
    assert len(second.context["page"].object_list) == 3


def test_run_history_filters_by_outcome(client_viewer, connection):
    now = timezone.now()
    for outcome in (RunOutcome.OK, RunOutcome.FAILED, RunOutcome.STOPPED):
        SyncRun.objects.create(connection=connection, module=SyncModule.ORDERS, started_at=now, outcome=outcome)
    response = client_viewer.get(reverse("connection_runs", args=[connection.pk]), {"outcome": "failed"})
    assert [r.outcome for r in response.context["page"].object_list] == [RunOutcome.FAILED]


def test_connections_link_is_in_the_navigation_for_every_role(client_viewer):
    page = client_viewer.get(reverse("dashboard")).content.decode()
    assert f'href="{reverse("connection_list")}"' in page


# --- marketplace orders that came in through a connection ---------------------------------------------------------


@pytest.fixture
def marketplace_order(merchant_a, product, connection):
    from merchant.models import OrderSource

    from .factories import OrderFactory

    return OrderFactory(
        merchant=merchant_a, source=OrderSource.MARKETPLACE, connection=connection, order_no="4100000000123",
        is_presale=True, presale_status="FRONT_PAID_FINAL_NOPAID", refund_status="partial", has_unmapped_lines=True,
        items=[{"product": product, "external_id": "9001"},
               {"product": None, "erp_product_id": "NO-SUCH-SKU", "item_name": "Mystery balm", "external_id": "9002"}],
    )


def test_order_detail_shows_connection_presale_refund_and_unmapped_lines(client_viewer, marketplace_order):
    page = client_viewer.get(reverse("order_detail", args=[marketplace_order.pk])).content.decode()
    assert 'id="order-connection"' in page and "Tmall flagship" in page
    assert "FRONT_PAID_FINAL_NOPAID" in page
    assert 'id="refund-badge"' in page and "Partly refunded" in page
    assert 'id="unmapped-warning"' in page
    # Only the line without a product is flagged, with the ERP product id it came with.
    assert page.count(">unmapped line<") == 1
    row = page.split("NO-SUCH-SKU", 1)[1].split("</tr>", 1)[0]
    assert "Mystery balm" in row


def test_storefront_order_lines_without_a_product_are_not_flagged(client_viewer, merchant_a):
    from .factories import OrderFactory

    order = OrderFactory(merchant=merchant_a, items=[{"product": None, "erp_product_id": "LEGACY-1"}])
    page = client_viewer.get(reverse("order_detail", args=[order.pk])).content.decode()
    assert "unmapped line" not in page and 'id="unmapped-warning"' not in page


def test_order_list_shows_the_badges_and_filters_unmapped_orders(client_viewer, marketplace_order, order):
    response = client_viewer.get(reverse("order_list"))
    page = response.content.decode()
    row = page.split(marketplace_order.order_no + "</a>", 1)[1].split("</tr>", 1)[0]
    assert "Tmall flagship" in row
    assert 'class="badge presale"' in row and 'class="badge refund"' in row and 'class="badge unmapped"' in row
    plain = page.split(order.order_no + "</a>", 1)[1].split("</tr>", 1)[0]
    assert "badge presale" not in plain and "badge unmapped" not in plain

    only = client_viewer.get(reverse("order_list"), {"unmapped": "yes"})
    assert [o.pk for o in only.context["page"].object_list] == [marketplace_order.pk]
    none = client_viewer.get(reverse("order_list"), {"unmapped": "no"})
    assert [o.pk for o in none.context["page"].object_list] == [order.pk]


def test_order_list_loads_the_connection_names_without_a_query_per_order(client_viewer, marketplace_order,
                                                                        merchant_a, connection,
                                                                        django_assert_max_num_queries):
    from merchant.models import OrderSource

    from .factories import OrderFactory

    client_viewer.get(reverse("order_list"))  # warm up sessions and the like
    with CaptureQueriesContext(db_connection) as one:
        client_viewer.get(reverse("order_list"))
    for _ in range(5):
        OrderFactory(merchant=merchant_a, source=OrderSource.MARKETPLACE, connection=connection, items=1)
    with django_assert_max_num_queries(len(one.captured_queries)):
        client_viewer.get(reverse("order_list"))
