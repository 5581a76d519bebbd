"""The one base set of named users (DESIGN.md): owner, operator and viewer of merchant A, and an outsider
who owns merchant B. Every user has a Membership; the client_* fixtures are logged in as them.

Shared data fixtures (`product`, `order`, `customer`, `carrier`, and the outsider's `outsider_product` /
`outsider_order` / `outsider_customer`) give view and service tests one object on each side of the
merchant boundary.
"""
import pytest
from django.test import Client
from django.utils import translation

from sync import anomalies, http
from tests import outbound_servers

from merchant.models import Role
from merchant.permissions import Actor

from .factories import (
    PASSWORD, CarrierFactory, CustomerFactory, ErpCustomerCodeFactory, MerchantFactory, OrderFactory,
    ProductFactory, member,
)


@pytest.fixture(autouse=True)
def fresh_answer_shapes():
    """Learned answer shapes are cached per process by connection id, and ids repeat between tests."""
    anomalies._cache.clear()
    yield
    anomalies._cache.clear()


@pytest.fixture
def english():
    """Run the test in English (the default language is Simplified Chinese), e.g. to assert on messages."""
    with translation.override("en"):
        yield


@pytest.fixture
def password():
    """The password of every factory-made user."""
    return PASSWORD


@pytest.fixture
def merchant_a(db):
    return MerchantFactory(code="merchant-a", name="Merchant A")


@pytest.fixture
def merchant_b(db):
    return MerchantFactory(code="merchant-b", name="Merchant B")


@pytest.fixture
def owner(merchant_a):
    return member(merchant_a, Role.OWNER, username="owner")


@pytest.fixture
def operator(merchant_a):
    return member(merchant_a, Role.OPERATOR, username="operator")


@pytest.fixture
def viewer(merchant_a):
    return member(merchant_a, Role.VIEWER, username="viewer")


@pytest.fixture
def outsider(merchant_b):
    """The owner of merchant B: allowed everything there, nothing in merchant A."""
    return member(merchant_b, Role.OWNER, username="outsider")


def _client_for(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


@pytest.fixture
def client_owner(owner):
    return _client_for(owner)


@pytest.fixture
def client_operator(operator):
    return _client_for(operator)


@pytest.fixture
def client_viewer(viewer):
    return _client_for(viewer)


@pytest.fixture
def client_outsider(outsider):
    return _client_for(outsider)


@pytest.fixture
def owner_actor(owner):
    return Actor.for_user(owner)


@pytest.fixture
def operator_actor(operator):
    return Actor.for_user(operator)


@pytest.fixture
def viewer_actor(viewer):
    return Actor.for_user(viewer)


@pytest.fixture
def carrier(db):
    return CarrierFactory(code="SF", name="SF Express")


@pytest.fixture
def product(merchant_a):
    """A listed product of merchant A with stock 10 and default price 12.50."""
    return ProductFactory(merchant=merchant_a)


@pytest.fixture
def outsider_product(merchant_b):
    return ProductFactory(merchant=merchant_b)


@pytest.fixture
def customer(merchant_a):
    """A customer of merchant A (it has merchant A's ERP code CUST-A1)."""
    c = CustomerFactory(name="Alpha Pharmacy")
    ErpCustomerCodeFactory(merchant=merchant_a, customer=c, code="CUST-A1")
    return c


@pytest.fixture
def outsider_customer(merchant_b):
    """A customer only merchant B deals with (merchant B's ERP code CUST-B1)."""
    c = CustomerFactory(name="Beta Pharmacy")
    ErpCustomerCodeFactory(merchant=merchant_b, customer=c, code="CUST-B1")
    return c


@pytest.fixture
def order(merchant_a, product, customer):
    """An order of merchant A awaiting shipment: line 1 is 3 x product, line 2 is 2 x another product."""
    other = ProductFactory(merchant=merchant_a)
    return OrderFactory(
        merchant=merchant_a, customer=customer,
        items=[{"product": product, "quantity": 3}, {"product": other, "quantity": 2}],
    )


@pytest.fixture
def outsider_order(merchant_b, outsider_product, outsider_customer):
    return OrderFactory(merchant=merchant_b, customer=outsider_customer, items=[{"product": outsider_product}])


@pytest.fixture
def english_pages(settings):
    """Pages render in English (modules use it with pytestmark = pytest.mark.usefixtures("english_pages"))."""
    settings.LANGUAGE_CODE = "en"


@pytest.fixture(params=["owner", "operator"])
def editor_client(request):
    """A logged-in client for each role allowed to edit (the test runs once per role)."""
    return request.getfixturevalue(f"client_{request.param}")


@pytest.fixture
def live_server(live_server, settings):
    """pytest-django's live server, allowed as an outbound destination for this test: outbound calls refuse
    loopback addresses unless they are on OUTBOUND_ALLOWED_HOSTS (sync/http.py)."""
    address = live_server.url.split("://", 1)[1]
    settings.OUTBOUND_ALLOWED_HOSTS = [*settings.OUTBOUND_ALLOWED_HOSTS, address]
    return live_server


@pytest.fixture
def serve(settings):
    """Start local servers (tests/outbound_servers.py) with a behaviour, allowed as outbound destinations unless
    allow=False; all are stopped after the test."""
    servers = []

    def start(behaviour, *, allow=True):
        server = outbound_servers.LocalServer(behaviour)
        servers.append(server)
        if allow:
            settings.OUTBOUND_ALLOWED_HOSTS = [*settings.OUTBOUND_ALLOWED_HOSTS, server.address]
        return server

    yield start
    for server in servers:
        server.close()
    http.session().close()


@pytest.fixture(scope="session")
def django_db_setup(django_db_setup, django_db_blocker):
    """pytest-django's test database, which on PostgreSQL is dropped at the end only once no other session
    uses it: a connection a live server thread kept open would otherwise leave the database behind."""
    yield
    from django.db import connection

    if connection.vendor == "postgresql":
        with django_db_blocker.unblock(), connection.cursor() as cursor:
            cursor.execute("SELECT pg_terminate_backend(pid) FROM pg_stat_activity"
                           " WHERE datname = current_database() AND pid <> pg_backend_pid()")
