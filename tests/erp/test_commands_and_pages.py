"""ERP connections from the operator CLI, the dispatcher and the back office; the demo's sandbox ERP."""
import json
from io import StringIO

import django_rq
import pytest
from django.core.management import CommandError, call_command
from django.urls import reverse
from django.utils import timezone

from merchant.models import Module, ModuleSwitch, Product
from sync import schedule
from sync.erp.services import erp_connection_create
from sync.models import Connection, ConnectionKind, SyncRun
from sync.erp.sandbox.demo import demo_erp_connect
from sync.erp.sandbox.erp import activity_tick, erp_stock_change
from sync.erp.sandbox.models import SandboxErp, SandboxErpChange, SandboxErpOrder
from tests.factories import ConnectionFactory, ProductFactory

from .conftest import SECRET, pull

pytestmark = pytest.mark.usefixtures("english_pages")


@pytest.fixture
def sync_queue():
    queue = django_rq.get_queue("sync")
    queue.empty()
    yield queue
    queue.empty()


@pytest.fixture
def dispatch(django_capture_on_commit_callbacks):
    def run(now=None):
        with django_capture_on_commit_callbacks(execute=True):
            return schedule.dispatch(now)
    return run


# --- CLI -----------------------------------------------------------------------------------------------------------


def test_connection_add_erp_prints_the_id_and_stores_the_secret_encrypted(merchant_a):
    out = StringIO()
    call_command("connection_add", merchant_a.code, "erp", "--base-url", "https://erp.example.com/bridge",
                 "--key", "hub-key", "--secret", "bridge-s3cret", stdout=out)

    connection = Connection.objects.get(pk=int(out.getvalue().strip()))
    assert (connection.kind, connection.gateway_url, connection.app_key) == (
        ConnectionKind.ERP, "https://erp.example.com/bridge", "hub-key")
    assert connection.app_secret == "bridge-s3cret" and "bridge-s3cret" not in connection.app_secret_encrypted
    assert not connection.session_encrypted


def test_connection_add_names_what_a_kind_is_missing(merchant_a):
    with pytest.raises(CommandError, match="--secret"):
        call_command("connection_add", merchant_a.code, "erp", "--base-url", "https://erp.example.com",
                     "--key", "k")
    with pytest.raises(CommandError, match="--session"):
        call_command("connection_add", merchant_a.code, "top", "--gateway", "https://x/router/rest",
                     "--app-key", "k", "--app-secret", "s")
    assert not Connection.objects.exists()


def test_sync_run_pulls_and_hands_over_printing_one_json_line(connection, bridge, merchant_a, order):
    ProductFactory(merchant=merchant_a, erp_product_id="A1", stock=1)
    erp_stock_change(bridge, "A1", 17)

    pulled, handed = StringIO(), StringIO()
    call_command("sync_run", str(connection.pk), "erp_pull", stdout=pulled)
    call_command("sync_run", str(connection.pk), "erp_orders", stdout=handed)

    pulled, handed = json.loads(pulled.getvalue()), json.loads(handed.getvalue())
    assert (pulled["module"], pulled["outcome"], pulled["applied"]) == ("erp_pull", "ok", 1)
    assert (handed["module"], handed["outcome"], handed["accepted"]) == ("erp_orders", "ok", 1)
    assert Product.objects.get(erp_product_id="A1").stock == 17
    assert SandboxErpOrder.objects.filter(order_no=order.order_no).exists()


def test_sync_run_refuses_a_job_of_the_other_kind(merchant_a):
    top = ConnectionFactory(merchant=merchant_a)
    erp = erp_connection_create(merchant=merchant_a, actor=_system(), app_secret="s", name="ERP",
                                gateway_url="http://127.0.0.1:9/bridge", app_key="k")
    with pytest.raises(CommandError, match="does not apply"):
        call_command("sync_run", str(top.pk), "erp_pull")
    with pytest.raises(CommandError, match="does not apply"):
        call_command("sync_run", str(erp.pk), "orders")
    assert not SyncRun.objects.exists()


def _system():
    from merchant.models import AuditSource
    from merchant.permissions import Actor

    return Actor.system(AuditSource.SYSTEM)


# --- dispatcher ----------------------------------------------------------------------------------------------------


def test_the_dispatcher_queues_pull_and_handoff_for_active_erp_connections_once(merchant_a, sync_queue, dispatch):
    erp = erp_connection_create(merchant=merchant_a, actor=_system(), app_secret="s", name="ERP",
                                gateway_url="http://127.0.0.1:9/bridge", app_key="k", orders_interval=60)
    now = timezone.now()

    assert sorted(dispatch(now)) == [f"sync-{erp.pk}-erp_orders", f"sync-{erp.pk}-erp_pull"]
    assert dispatch(now) == []  # still waiting: not twice
    assert {job.func_name for job in sync_queue.get_jobs()} == {"sync.jobs.sync_erp_pull", "sync.jobs.sync_erp_orders"}


def test_a_stopped_erp_connection_gets_no_jobs(merchant_a, sync_queue, dispatch):
    erp = erp_connection_create(merchant=merchant_a, actor=_system(), app_secret="s", name="ERP",
                                gateway_url="http://127.0.0.1:9/bridge", app_key="k")
    Connection.objects.filter(pk=erp.pk).update(stopped_reason="HTTP 401 key_revoked")

    assert dispatch() == []


# --- back office ---------------------------------------------------------------------------------------------------


def erp_form(**overrides) -> dict:
    data = {"kind": "erp", "name": "Warehouse ERP", "gateway_url": "https://erp.example.com/bridge",
            "app_key": "hub-key", "app_secret": "bridge-s3cret", "calls_per_minute": "100", "orders_interval": "60"}
    data.update(overrides)
    return data


def test_owner_adds_an_erp_connection_without_the_marketplace_only_settings(client_owner, merchant_a):
    page = client_owner.get(reverse("connection_add") + "?kind=erp").content.decode()
    assert "Bridge base URL" in page and 'name="session"' not in page and 'name="sign_method"' not in page

    response = client_owner.post(reverse("connection_add"), erp_form())

    connection = Connection.objects.get(merchant=merchant_a)
    assert response.status_code == 302
    assert (connection.kind, connection.app_key, connection.app_secret) == (ConnectionKind.ERP, "hub-key",
                                                                            "bridge-s3cret")
    detail = client_owner.get(reverse("connection_detail", args=[connection.pk])).content.decode()
    assert 'id="sync-erp-pull"' in detail and 'id="sync-orders"' not in detail
    assert "ERP change feeds" in detail and "bridge-s3cret" not in detail


def test_editing_an_erp_connection_keeps_a_blank_secret_and_clears_a_stop(client_owner, merchant_a):
    connection = erp_connection_create(merchant=merchant_a, actor=_system(), app_secret="old-secret", name="ERP",
                                       gateway_url="https://erp.example.com/bridge", app_key="k")
    Connection.objects.filter(pk=connection.pk).update(stopped_reason="HTTP 401 bad_signature")

    response = client_owner.post(reverse("connection_edit", args=[connection.pk]),
                                 erp_form(app_secret="", app_key="new-key", kind="top"))

    assert response.status_code == 302
    connection.refresh_from_db()
    assert (connection.kind, connection.app_key, connection.app_secret) == (ConnectionKind.ERP, "new-key",
                                                                            "old-secret")
    assert connection.stopped_reason == ""


@pytest.mark.django_db(transaction=True)  # django-rq sends jobs enqueued in a transaction only on commit
def test_sync_now_runs_the_erp_jobs_and_refuses_marketplace_ones(client_owner, merchant_a, sync_queue):
    connection = erp_connection_create(merchant=merchant_a, actor=_system(), app_secret="s", name="ERP",
                                       gateway_url="https://erp.example.com/bridge", app_key="k")
    url = reverse("connection_sync", args=[connection.pk])

    client_owner.post(url, {"job": "erp_pull"})
    client_owner.post(url, {"job": "erp_orders"})
    refused = client_owner.post(url, {"job": "orders"}, follow=True)

    assert [job.func_name for job in sync_queue.get_jobs()] == ["sync.jobs.sync_erp_pull", "sync.jobs.sync_erp_orders"]
    assert all(job.kwargs == {"trigger": "manual"} for job in sync_queue.get_jobs())
    assert "does not apply" in " ".join(str(m) for m in refused.context["messages"])


def _test_on_a_worker(client, connection):
    """Press "test the connection", run the queued test as the sync worker does, and return the page after."""
    from sync.connection_tests import connection_test_run

    response = client.post(reverse("connection_test", args=[connection.pk]), follow=True)
    assert response.context["last_test"].status == "queued"
    connection_test_run(test_id=response.context["last_test"].pk)
    return client.get(reverse("connection_detail", args=[connection.pk]))


def test_testing_an_erp_connection_pings_the_bridge(client_owner, connection):
    page = _test_on_a_worker(client_owner, connection)
    assert page.context["last_test"].message == "Connected. The ERP bridge answered."
    assert "Test ERP answered" not in page.content.decode()  # the bridge's own name is never echoed

    Connection.objects.filter(pk=connection.pk).update(app_key="unknown")
    page = _test_on_a_worker(client_owner, connection)
    assert page.context["last_test"].status == "failed"
    assert "unknown_key" in page.context["last_test"].message
    assert SECRET not in page.content.decode()


# --- demo ----------------------------------------------------------------------------------------------------------


def test_the_demo_erp_sends_values_that_arrive_or_are_held(live_server, merchant_a, transactional_db):
    for n in range(3):
        ProductFactory(merchant=merchant_a, erp_product_id=f"D{n}", stock=5)
    ModuleSwitch.objects.create(merchant=merchant_a, module=Module.PRICES, enabled=False)

    result = demo_erp_connect(merchant=merchant_a, base_url=f"{live_server.url}/sandbox/erp")
    again = demo_erp_connect(merchant=merchant_a, base_url=f"{live_server.url}/sandbox/erp")
    erp = SandboxErp.objects.get(pk=result["erp"])
    ticks = sum(activity_tick(erp) for _ in range(10))
    summary = pull(Connection.objects.get(pk=result["connection"]))

    assert again["connection"] == result["connection"] and again["changes_seeded"] == 0
    assert erp.demo_activity and SandboxErpChange.objects.filter(erp=erp).count() == result["changes_seeded"] + ticks
    assert summary["outcome"] == "ok" and summary["applied"] >= 4
    assert summary["kinds"]["prices"]["held"] == 3  # the price module is paused
    assert Product.objects.filter(merchant=merchant_a, erp_product_id="ERP-NEW-0001").exists()
    from sync.erp.sandbox import bridge as sandbox_bridge

    assert sandbox_bridge.wait_until_idle()
