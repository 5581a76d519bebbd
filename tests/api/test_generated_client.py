"""A client generated from the served OpenAPI document with a strict generator (openapi-python-client, pinned in
requirements.txt) parses the real answers of every endpoint of a live server (issue 14: six nullable enums that
did not list null made such a client crash on GET /api/v1/orders).

The generator runs offline: it reads the document from a file and its formatting hooks are switched off."""
import importlib
import subprocess
import sys
import time
import uuid
from datetime import date
from urllib.parse import parse_qsl, urlsplit

import httpx
import pytest
import requests

from merchant.api import signing
from merchant.models import ErpStatus, OrderSource, RefundStatus
from merchant.permissions import Actor
from merchant.services.api_credentials import api_credential_create
from merchant.services.orders import ShipmentLine, order_shipment_add
from tests.factories import CarrierFactory, CustomerFactory, OrderFactory, ProductFactory

PACKAGE = "mh_generated_client"
CONFIG = f"post_hooks: []\nproject_name_override: {PACKAGE}\npackage_name_override: {PACKAGE}\n"


class Signed(httpx.Auth):
    """The API's signature over the request exactly as httpx sends it."""

    def __init__(self, key: str, secret: str):
        self.key, self.secret = key, secret

    def auth_flow(self, request):
        stamp, nonce = str(int(time.time())), uuid.uuid4().hex
        url = urlsplit(str(request.url))
        canonical = signing.canonical_string(
            method=request.method, path=url.path, query_pairs=parse_qsl(url.query, keep_blank_values=True),
            timestamp=stamp, nonce=nonce, body=request.read())
        request.headers.update({
            signing.HEADER_KEY: self.key, signing.HEADER_TIMESTAMP: stamp, signing.HEADER_NONCE: nonce,
            signing.HEADER_SIGNATURE: signing.signature(self.secret, canonical)})
        yield request


@pytest.fixture
def generated(live_server, tmp_path_factory):
    """The package generated from the document the live server serves, imported."""
    where = tmp_path_factory.mktemp("client")
    (where / "openapi.json").write_bytes(requests.get(f"{live_server.url}/api/v1/openapi.json", timeout=30).content)
    (where / "config.yaml").write_text(CONFIG)
    run = subprocess.run(
        [sys.executable, "-m", "openapi_python_client", "generate", "--path", "openapi.json", "--output-path",
         PACKAGE, "--meta", "none", "--config", "config.yaml", "--fail-on-warning"],
        cwd=where, capture_output=True, text=True, timeout=300)
    assert run.returncode == 0, run.stdout + run.stderr
    sys.path.insert(0, str(where))
    try:
        for name in [name for name in sys.modules if name == PACKAGE or name.startswith(f"{PACKAGE}.")]:
            del sys.modules[name]
        yield importlib.import_module(PACKAGE)
    finally:
        sys.path.remove(str(where))


@pytest.fixture
def world(transactional_db, merchant_a, owner):
    """Merchant A with what every endpoint answers about: products, a customer, orders with every nullable
    enum both null and set (ERP status, refund status of the order and of a line), a shipment with batch data."""
    carrier = CarrierFactory(code="SF", name="SF Express")
    product = ProductFactory(merchant=merchant_a, erp_product_id="SKU-0001")
    customer = CustomerFactory(uscc="91350100M000100Y43")
    plain = OrderFactory(merchant=merchant_a, order_no="PLAIN", customer=None, items=[{"product": product}])
    busy = OrderFactory(merchant=merchant_a, order_no="BUSY", customer=customer, source=OrderSource.STOREFRONT,
                        erp_status=ErpStatus.PICKING, refund_status=RefundStatus.REQUESTED,
                        items=[{"product": product, "quantity": 3, "refund_status": RefundStatus.PARTIAL}, {}])
    order_shipment_add(order=busy, carrier=carrier, tracking_no="SF1", actor=Actor.system(), lines=[
        ShipmentLine(order_item=busy.items.get(line_no=1), quantity=1, batch_no="B7",
                     production_date=date(2026, 1, 1), expiry_date=date(2028, 1, 1))])
    credential, secret = api_credential_create(merchant=merchant_a, actor=Actor.for_user(owner), name="generated")
    return {"plain": plain, "busy": busy, "auth": Signed(credential.key, secret), "key": credential.key}


def test_a_strictly_generated_client_parses_every_endpoints_real_answers(generated, world, live_server):
    models = importlib.import_module(f"{PACKAGE}.models")
    client = generated.Client(
        base_url=live_server.url, raise_on_unexpected_status=True, httpx_args={"auth": world["auth"]})

    def call(module: str, **kwargs):
        operation = importlib.import_module(f"{PACKAGE}.api.{module}")
        response = operation.sync_detailed(client=client, **kwargs)
        assert response.status_code == 200, response.content
        assert response.parsed is not None and not isinstance(response.parsed, models.Error)
        return response.parsed

    assert call("account.whoami").key == world["key"]
    assert call("account.openapi_document") is not None

    page = call("orders.orders_query", limit=10)
    by_no = {order.order_no: order for order in page.orders}
    assert set(by_no) == {"PLAIN", "BUSY"}
    assert by_no["PLAIN"].basic.erp_status is None and by_no["PLAIN"].basic.refund_status is None
    assert by_no["PLAIN"].items[0].refund_status is None
    assert by_no["BUSY"].basic.erp_status.value == "picking"
    assert by_no["BUSY"].basic.refund_status.value == "requested"
    assert by_no["BUSY"].items[0].refund_status.value == "partial"
    assert by_no["BUSY"].shipping.shipments[0].tracking_no == "SF1"
    assert page.take_id.startswith("tk_")

    again = call("orders.orders_take", take_id=page.take_id)
    assert [order.order_no for order in again.orders] == [order.order_no for order in page.orders]
    assert [carrier.code for carrier in call("orders.carriers").carriers] == ["SF"]

    bodies = {
        "products_write": {"items": [{"erp_product_id": "NEW-1", "name": "New", "default_price": 3}]},
        "prices_write": {"items": [{"erp_product_id": "SKU-0001", "price_type": "default", "price": 9}]},
        "batches_write": {"items": [{"erp_product_id": "SKU-0001", "batch_no": "B1", "quantity": 1,
                                     "production_date": "2026-01-01", "expiry_date": "2027-01-01"}]},
        "listing_write": {"items": [{"erp_product_id": "NOPE", "listed": True}]},
        "stock_write": {"items": [{"erp_product_id": "SKU-0001", "stock": 5}]},
        "customers_write": {"items": [{"uscc": "91350100M000100Y43", "erp_customer_code": "C1"},
                                      {"uscc": "91110000000000000X", "erp_customer_code": "C2"}]},
    }
    for name, body in bodies.items():
        body_model = getattr(models, "".join(part.capitalize() for part in name.split("_")) + "Body")
        answer = call(f"catalog.{name}", body=body_model.from_dict(body), idempotency_key=uuid.uuid4().hex)
        assert len(answer.results) == len(body["items"]), name
    assert call("catalog.products_write", body=models.ProductsWriteBody.from_dict(bodies["products_write"])) \
        .results[0].changed is False  # sent again: already in force

    uploads = {
        "orders_erp_status": ("OrdersErpStatusBody", {"items": [{"order_no": "PLAIN", "status": "submitted"}]}),
        "orders_shipments": ("OrdersShipmentsBody", {"items": [{"order_no": "BUSY", "lines": [
            {"line_no": 1, "quantity": 1, "batch_no": "B8"}]}]}),
        "orders_logistics": ("OrdersLogisticsBody", {"items": [
            {"order_no": "PLAIN", "carrier_code": "SF", "tracking_no": "SF2"},
            {"order_no": "NOPE", "carrier_code": "SF", "tracking_no": "SF3"}]}),
    }
    for name, (model, body) in uploads.items():
        answer = call(f"orders.{name}", body=getattr(models, model).from_dict(body))
        assert answer.counts.invalid == (1 if name == "orders_logistics" else 0), name


def test_the_generated_client_parses_error_answers(generated, world, live_server):
    models = importlib.import_module(f"{PACKAGE}.models")
    whoami = importlib.import_module(f"{PACKAGE}.api.account.whoami")
    take = importlib.import_module(f"{PACKAGE}.api.orders.orders_take")
    unsigned = generated.Client(base_url=live_server.url)
    signed = generated.Client(base_url=live_server.url, httpx_args={"auth": world["auth"]})

    refused = whoami.sync_detailed(client=unsigned)
    unknown = take.sync_detailed(client=signed, take_id="tk_nope")

    assert refused.status_code == 401 and isinstance(refused.parsed, models.Error)
    assert refused.parsed.error.code.value == "missing_auth"
    assert unknown.status_code == 404 and unknown.parsed.error.code.value == "unknown_take"
