"""Testing a connection runs on a sync worker, never inside the web request; changing a connection's URL needs
its credentials entered again; gateway and bridge URLs to local or private addresses are refused on save; and
what a remote side says never reaches a page."""
from datetime import timedelta

import django_rq
import pytest
from django.core.exceptions import ValidationError
from django.urls import reverse
from django.utils import timezone

from sync.connection_tests import connection_test_run
from sync.erp.client import ErpClient
from sync.marketplaces.top.errors import error_from_envelope
from sync.erp.services import erp_connection_create, erp_connection_update
from sync.errors import Permanent
from sync.models import Connection, ConnectionTest, ConnectionTestStatus
from sync.marketplaces.top.services import connection_create, connection_update
from tests.outbound_servers import fixed

pytestmark = pytest.mark.usefixtures("english_pages")

SECRET = "plain-app-secret-4f9a"
SESSION = "plain-session-token-77c1"
TOP_OK = b'{"trades_sold_increment_get_response": {"total_results": 0, "request_id": "req-1"}}'


@pytest.fixture
def sync_queue():
    queue = django_rq.get_queue("sync")
    queue.empty()
    yield queue
    queue.empty()


def top_connection(merchant, actor, url):
    return connection_create(merchant=merchant, actor=actor, app_secret=SECRET, session=SESSION, name="Shop",
                             gateway_url=f"{url}/router/rest", app_key="12345678")


# --- 3: the test runs on a worker --------------------------------------------------------------------------------


@pytest.mark.django_db(transaction=True)  # django-rq sends a job enqueued in a transaction only on commit
def test_pressing_test_queues_the_call_and_the_web_request_opens_no_connection(
        client_owner, merchant_a, owner_actor, serve, sync_queue):
    gateway = serve(fixed("200 OK", TOP_OK))
    connection = top_connection(merchant_a, owner_actor, gateway.url)

    response = client_owner.post(reverse("connection_test", args=[connection.pk]))

    assert response.status_code == 302 and response["Location"].endswith("#connection-test")
    assert gateway.connections == 0  # the request returned without calling out
    (job,) = sync_queue.get_jobs()
    test = ConnectionTest.objects.get(connection=connection)
    assert (job.func_name, job.args) == ("sync.jobs.connection_test_run", (test.pk,))
    assert test.status == ConnectionTestStatus.QUEUED and test.requested_by.username == "owner"

    job.perform()  # what the sync worker does with it
    test.refresh_from_db()
    assert gateway.connections == 1
    assert test.status == ConnectionTestStatus.OK and test.finished_at
    assert test.message == "Connected. The marketplace answered (request id req-1)."


def test_the_page_follows_the_test_and_says_when_no_worker_picked_it_up(client_owner, client_viewer, merchant_a,
                                                                        owner_actor, serve):
    connection = top_connection(merchant_a, owner_actor, serve(fixed("200 OK", TOP_OK)).url)
    client_owner.post(reverse("connection_test", args=[connection.pk]))
    status_url = reverse("connection_test_status", args=[connection.pk])

    page = client_owner.get(reverse("connection_detail", args=[connection.pk])).content.decode()
    assert f'data-test-url="{status_url}"' in page and "js/connection_test.js" in page
    assert '<div class="warning-box" id="test-stalled" hidden>' in page
    assert client_viewer.get(status_url).json() == {
        "status": "queued", "label": "Waiting for a worker", "finished": False, "stalled": False, "message": ""}

    ConnectionTest.objects.update(requested_at=timezone.now() - timedelta(minutes=5))
    assert client_viewer.get(status_url).json()["stalled"] is True
    page = client_owner.get(reverse("connection_detail", args=[connection.pk])).content.decode()
    assert '<div class="warning-box" id="test-stalled">' in page and "No worker has picked up the test" in page


def test_a_test_runs_once_even_when_its_job_is_delivered_twice(merchant_a, owner_actor, serve):
    gateway = serve(fixed("200 OK", TOP_OK))
    connection = top_connection(merchant_a, owner_actor, gateway.url)
    test = ConnectionTest.objects.create(connection=connection, requested_at=timezone.now())

    assert connection_test_run(test_id=test.pk).status == ConnectionTestStatus.OK
    assert connection_test_run(test_id=test.pk) is None
    assert gateway.connections == 1


def test_views_start_no_outbound_call():
    """Every page that starts work queues it: no view module uses a connector, the HTTP layer or a service that
    calls out."""
    from pathlib import Path

    import merchant.views

    sources = sorted(Path(merchant.views.__file__).parent.glob("*.py"))
    assert any(path.name == "connections.py" for path in sources)
    for path in sources:
        source = path.read_text()
        for name in ("TopClient", "ErpClient", "sync.http", "import http", "services.connection_test",
                     "erp_connection_test"):
            assert name not in source, (path.name, name)


# --- 5: a changed URL needs the credentials again ------------------------------------------------------------------


def test_changing_only_the_gateway_url_is_refused_and_nothing_reaches_the_new_host(client_owner, merchant_a,
                                                                                   owner_actor, serve):
    old, new = serve(fixed("200 OK", TOP_OK)), serve(fixed("200 OK", TOP_OK))
    connection = top_connection(merchant_a, owner_actor, old.url)
    data = {"name": "Shop", "gateway_url": f"{new.url}/router/rest", "app_key": "12345678", "app_secret": "",
            "session": "", "sign_method": "md5", "calls_per_minute": "100", "orders_interval": "60",
            "refunds_interval": "300"}

    response = client_owner.post(reverse("connection_edit", args=[connection.pk]), data)

    assert response.status_code == 400
    assert response.context["form"].errors["gateway_url"] == [
        "A new gateway URL needs the app secret and the session token entered again."]
    connection.refresh_from_db()
    assert connection.gateway_url == f"{old.url}/router/rest"
    client_owner.post(reverse("connection_test", args=[connection.pk]))
    connection_test_run(test_id=ConnectionTest.objects.get().pk)
    assert new.connections == 0 and old.connections == 1

    with pytest.raises(ValidationError):  # the secret alone is not enough either
        connection_update(connection=connection, actor=owner_actor, app_secret="new-secret",
                          gateway_url=f"{new.url}/router/rest")
    connection_update(connection=connection, actor=owner_actor, app_secret="new-secret", session="new-session",
                      gateway_url=f"{new.url}/router/rest")
    connection.refresh_from_db()
    assert (connection.gateway_url, connection.session) == (f"{new.url}/router/rest", "new-session")


def test_saving_the_same_url_keeps_the_stored_credentials(merchant_a, owner_actor, serve):
    connection = top_connection(merchant_a, owner_actor, serve(fixed("200 OK")).url)

    connection_update(connection=connection, actor=owner_actor, gateway_url=connection.gateway_url + "/", name="New")

    connection.refresh_from_db()
    assert (connection.name, connection.app_secret, connection.session) == ("New", SECRET, SESSION)


def test_changing_only_the_bridge_url_is_refused(merchant_a, owner_actor, serve):
    old, new = serve(fixed("200 OK")), serve(fixed("200 OK"))
    connection = erp_connection_create(merchant=merchant_a, actor=owner_actor, app_secret=SECRET, name="ERP",
                                       gateway_url=f"{old.url}/bridge", app_key="k")

    with pytest.raises(ValidationError) as error:
        erp_connection_update(connection=connection, actor=owner_actor, gateway_url=f"{new.url}/bridge")

    assert error.value.message_dict["gateway_url"] == ["A new bridge URL needs the secret entered again."]
    assert Connection.objects.get(pk=connection.pk).gateway_url == f"{old.url}/bridge"
    erp_connection_update(connection=connection, actor=owner_actor, gateway_url=f"{new.url}/bridge",
                          app_secret="new-secret")
    assert Connection.objects.get(pk=connection.pk).gateway_url == f"{new.url}/bridge"


# --- 4: local and private URLs are refused when saved --------------------------------------------------------------


@pytest.mark.parametrize("url, message", [
    ("http://127.0.0.1:6379/", "This address is on a local or private network."),
    ("http://127.0.0.1:5432/router/rest", "This address is on a local or private network."),
    ("http://[::1]/router/rest", "This address is on a local or private network."),
    ("http://localhost:6379/", "This address is on a local or private network."),
    ("http://10.0.0.5/router/rest", "This address is on a local or private network."),
    ("http://169.254.169.254/latest/meta-data/", "This address is on a local or private network."),
    ("http://100.100.100.200/latest/meta-data/", "This address is on a local or private network."),
    ("http://user:pw@gw.example.com/router/rest", "The address must not contain a user name or password."),
    ("ftp://gw.example.com/router/rest", "Enter an address starting with http:// or https://."),
])
@pytest.mark.parametrize("kind", ["top", "erp"])
def test_adding_a_connection_to_a_local_or_private_url_is_refused(client_owner, url, message, kind):
    data = {"kind": kind, "name": "Shop", "gateway_url": url, "app_key": "k", "app_secret": SECRET,
            "session": SESSION, "sign_method": "md5", "calls_per_minute": "100", "orders_interval": "60",
            "refunds_interval": "300"}

    response = client_owner.post(reverse("connection_add"), data)

    assert response.status_code == 400
    assert response.context["form"].errors["gateway_url"][0].startswith(message)
    assert not Connection.objects.exists()


def test_the_services_refuse_them_too(merchant_a, owner_actor):
    for url in ("http://127.0.0.1:6379/", "http://u:p@gw.example.com/", "gopher://gw.example.com/"):
        with pytest.raises(ValidationError) as error:
            connection_create(merchant=merchant_a, actor=owner_actor, app_secret=SECRET, session=SESSION,
                              name="Shop", gateway_url=url, app_key="k")
        assert "gateway_url" in error.value.message_dict


def test_an_allowed_internal_address_may_be_saved(merchant_a, owner_actor, settings):
    settings.OUTBOUND_ALLOWED_HOSTS = ["10.0.0.0/8"]

    connection = connection_create(merchant=merchant_a, actor=owner_actor, app_secret=SECRET, session=SESSION,
                                   name="Shop", gateway_url="http://10.1.2.3/router/rest", app_key="k")

    assert connection.pk


# --- 4: what the remote side says never reaches a page -------------------------------------------------------------


def test_an_erp_4xx_body_message_is_not_repeated(db, merchant_a, owner_actor, serve):
    body = b'{"error": {"code": "unknown_key", "message": "redis_version:7.2.4 at 10.0.0.3", "request_id": "r-9"}}'
    bridge = serve(fixed("401 Unauthorized", body))
    connection = erp_connection_create(merchant=merchant_a, actor=owner_actor, app_secret=SECRET, name="ERP",
                                       gateway_url=f"{bridge.url}/bridge", app_key="k")

    with pytest.raises(Permanent) as error:
        ErpClient(connection).ping()

    assert str(error.value) == "ERP bridge answered HTTP 401 unknown_key to GET /ping (request id r-9)"


def test_an_erp_test_does_not_repeat_the_name_an_internal_service_answers(merchant_a, owner_actor, serve):
    bridge = serve(fixed("200 OK", b'{"name": "postgres 16.2 on db-internal-7", "version": "x"}'))
    connection = erp_connection_create(merchant=merchant_a, actor=owner_actor, app_secret=SECRET, name="ERP",
                                       gateway_url=f"{bridge.url}/bridge", app_key="k")
    test = ConnectionTest.objects.create(connection=connection, requested_at=timezone.now())

    test = connection_test_run(test_id=test.pk)

    assert test.message == "Connected. The ERP bridge answered."


def test_a_top_error_envelope_keeps_its_codes_but_not_its_words():
    error = error_from_envelope({"code": 27, "sub_code": "session-expired", "msg": "Invalid session",
                                 "sub_msg": "internal host db-7 port 5432 open", "request_id": "r-1"})

    assert str(error) == "TOP error 27 session-expired: session invalid or expired (request id r-1)"
    odd = error_from_envelope({"code": 15, "sub_code": "<script>alert(1)</script>", "msg": "x"})
    assert str(odd) == "TOP error 15: remote service error"
