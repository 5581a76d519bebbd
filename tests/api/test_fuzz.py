"""Fuzzing every operation of /api/v1/openapi.json against a live server, with valid signatures (SPEC N:
"a malformed or hostile API request gets a clear error and changes nothing").

Schemathesis generates requests from the document, valid ones and ones that break its constraints; each is
signed over its final method, path, query and body, so the requests get past authentication and exercise
the endpoints themselves. A test fails on any 5xx, and on an answer that does not match the document
(status code, content type, body schema).
"""
import os
import time
import uuid
from decimal import Decimal
from urllib.parse import parse_qsl, urlsplit

import pytest
import requests
import schemathesis
from openapi_schema_validator import OAS30Validator
from django.test import override_settings
from hypothesis import HealthCheck, settings
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance, response_schema_conformance, status_code_conformance,
)

from merchant.api import idempotency, signing
from merchant.api.openapi import document
from merchant.services.inbound_fields import item_from_json
from merchant.models import ErpStatus, IdempotencyRecord, Module, RefundStatus, SwitchKind
from merchant.permissions import Actor
from merchant.services.api_credentials import api_credential_create
from tests.factories import (
    BaseProductFactory, CustomerFactory, CustomerGroupFactory, ModuleSwitchFactory, OrderFactory, ProductFactory,
    RegionGroupFactory, SkuSwitchFactory,
)


def strict_response_conformance(ctx, response, case):
    """The body against the documented schema as OpenAPI 3.0.3 reads it: `nullable: true` allows null, but an
    `enum` restricts null too, so a nullable enum that does not list null refuses it. schemathesis' own schema
    check turns nullable into "or null" whatever the enum says, which is how six such enums went unnoticed while
    a strictly generated client crashed on them (issue 14)."""
    operation = DOCUMENT["paths"][case.operation.path].get(case.method.lower())  # none for a TRACE probe
    answer = operation and operation["responses"].get(str(response.status_code))
    if answer is None or "application/json" not in (response.headers.get("content-type") or [""])[0]:
        return None  # status_code_conformance and content_type_conformance report these
    if "$ref" in answer:
        answer = DOCUMENT["components"]["responses"][answer["$ref"].rsplit("/", 1)[1]]
    schema = answer.get("content", {}).get("application/json", {}).get("schema")
    if schema is None:
        return None
    validator = OAS30Validator({**schema, "components": DOCUMENT["components"]})
    problems = [f"{'/'.join(map(str, error.absolute_path))}: {error.message}"
                for error in validator.iter_errors(response.json())]
    if problems:
        raise AssertionError(f"the answer breaks the documented schema: {'; '.join(problems[:5])}")
    return True


CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance, response_schema_conformance,
          strict_response_conformance]
# Bounded so both CI passes stay quick: 50 generated requests per operation (plus the requests of schemathesis'
# example and coverage phases), from a fixed seed so a CI run is repeatable. Set API_FUZZ_EXAMPLES and
# API_FUZZ_SEED to search longer or elsewhere.
MAX_EXAMPLES = int(os.environ.get("API_FUZZ_EXAMPLES", "50"))
SEED = int(os.environ.get("API_FUZZ_SEED", "20260301"))


class SignedAuth(requests.auth.AuthBase):
    """Signs the prepared request, after schemathesis has serialized its body and query."""

    def __init__(self, key: str, secret: str):
        self.key, self.secret = key, secret

    def __call__(self, request: requests.PreparedRequest) -> requests.PreparedRequest:
        parts = urlsplit(request.url)
        body = request.body or b""
        if isinstance(body, str):
            body = body.encode()
        stamp, nonce = str(int(time.time())), uuid.uuid4().hex
        canonical = signing.canonical_string(
            method=request.method, path=parts.path, query_pairs=parse_qsl(parts.query, keep_blank_values=True),
            timestamp=stamp, nonce=nonce, body=body)
        request.headers.update({
            signing.HEADER_KEY: self.key, signing.HEADER_TIMESTAMP: stamp, signing.HEADER_NONCE: nonce,
            signing.HEADER_SIGNATURE: signing.signature(self.secret, canonical),
        })
        return request


@pytest.fixture
def seeded(transactional_db, merchant_a, owner):
    """Merchant A with products (short ids that generated strings hit: "0", "a"; one batch-managed, one whose
    stock sync is paused), groups, customers and the listing module paused, so writes reach the real paths:
    applied, held per SKU field, held whole, and refused per item."""
    BaseProductFactory(barcode="6900000000001", approval_number="H1", spec="10mg", manufacturer="M")
    for erp_id in ("SKU-0001", "0", "a", "A"):
        ProductFactory(merchant=merchant_a, erp_product_id=erp_id, default_price=Decimal("12.50"))
    ProductFactory(merchant=merchant_a, erp_product_id="BATCHED", batch_managed=True, stock=0)
    paused = ProductFactory(merchant=merchant_a, erp_product_id="PAUSED")
    SkuSwitchFactory(product=paused, kind=SwitchKind.STOCK, enabled=False)
    ModuleSwitchFactory(merchant=merchant_a, module=Module.LISTING, enabled=False)
    RegionGroupFactory(code="south")  # the document's examples name these
    CustomerGroupFactory(code="a")
    CustomerFactory(uscc="91350100M000100Y43")
    CustomerFactory()
    # Orders with every nullable enum null and set, so the strict check sees both in the order query's answers.
    OrderFactory(merchant=merchant_a, order_no="0", customer=None)
    OrderFactory(merchant=merchant_a, order_no="a", erp_status=ErpStatus.PICKING, refund_status=RefundStatus.REQUESTED,
                 items=[{"refund_status": RefundStatus.PARTIAL}])
    credential, secret = api_credential_create(merchant=merchant_a, actor=Actor.for_user(owner), name="fuzz")
    # Hundreds of requests a minute: the rate limit would answer most of them 429 before they reach the endpoint.
    with override_settings(API_RATE_LIMIT=0):
        yield SignedAuth(credential.key, secret)


# The document the live server serves at /api/v1/openapi.json (test_openapi.py checks they are the same), loaded
# at collection so that each operation is a test of its own. (schemathesis' lazy loading from a fixture does not
# work with pytest 9.2.)
DOCUMENT = document()
schema = schemathesis.openapi.from_dict(DOCUMENT, config=schemathesis.Config(seed=SEED))


@schema.parametrize()
@settings(max_examples=MAX_EXAMPLES, deadline=None, database=None, suppress_health_check=list(HealthCheck))
def test_every_operation_answers_without_server_errors_and_as_documented(case, live_server, seeded):
    key = (case.headers or {}).get(idempotency.HEADER)
    if key is not None and idempotency.KEY.match(key):
        # Generated keys repeat ("0", "a"), and a reused key is refused before the body is read: a fresh key
        # per request lets the bodies reach the endpoint (reuse has its own tests in test_catalog_endpoints.py).
        case.headers[idempotency.HEADER] = f"{uuid.uuid4().hex}{key}"[:100]
    case.call_and_validate(base_url=live_server.url, auth=seeded, checks=CHECKS)


# What the fuzzing found, kept as plain tests -------------------------------------------------------------------

@pytest.mark.parametrize("path, item", [
    ("stock", {"stock": 1}),
    ("listing", {"listed": True}),
    ("batches", {"batch_no": "B1", "production_date": "2026-01-01", "expiry_date": "2027-01-01", "quantity": 1}),
    ("prices", {"price_type": "default", "price": 3}),
    ("products", {"name": "x", "default_price": 3}),
])
@pytest.mark.parametrize("blank", ["\u001f", "\r", " \u3000 "])
def test_a_key_that_is_blank_once_normalised_is_required_not_a_server_error(erp, merchant_a, path, item, blank):
    ProductFactory(merchant=merchant_a, erp_product_id="SKU-0001")

    status, answer = erp.items(path, {**item, "erp_product_id": blank})

    assert status == 200
    assert answer["results"][0]["status"] == "invalid"
    assert answer["results"][0]["errors"] == [{"field": "items[0].erp_product_id", "message": "required"}]


@pytest.mark.parametrize("path, body, where", [
    ("products", {"items": [{"erp_product_id": "A", "name": "A\u0000"}]}, "items[0].name"),
    ("stock", {"items": [{"erp_product_id": "\ud800A", "stock": 1}]}, "items[0].erp_product_id"),
    ("customers", {"items": [{"uscc": "91350100M000100Y43", "erp_customer_code": "C1", "customer_name": "\ud800"}]},
     "items[0].customer_name"),
    ("orders/erp-status", {"items": [{"order_no": "X", "status": "picking", "note": "\ud800"}]}, "items[0].note"),
    ("orders/logistics", {"items": [{"order_no": "X", "carrier_code": "SF", "tracking_no": "T", "\u0000": 1}]},
     "items[0] (a field name)"),
])
def test_text_no_database_can_store_is_refused_with_where_it_is(erp, merchant_a, path, body, where):
    """JSON escapes carry NUL and unpaired surrogates; PostgreSQL stores neither, so they never reach a lookup,
    a row or a stored idempotent answer (the fuzzing found 500s on customers, logistics and erp-status)."""
    ProductFactory(merchant=merchant_a, erp_product_id="A")

    response = erp.post(path, body, headers={"Idempotency-Key": "hostile-1"})

    assert response.status_code == 400
    error = response.json()["error"]
    assert error["code"] == "malformed_json" and f"the text at {where} holds a NUL" in error["message"]
    assert not IdempotencyRecord.objects.exists()


@pytest.mark.usefixtures("english")
def test_items_from_other_channels_refuse_such_text_per_field():
    """The ERP bridge hands its JSON to item_from_json directly: there it is a field error, and an unknown field
    name is echoed escaped."""
    item = item_from_json("products", 0, {"erp_product_id": "A", "name": "A\u0000", "s\u0000\ud800": 2})

    assert item.errors["name"].startswith("contains a character")
    assert item.errors["s\\x00\\ud800"] == "unknown field"
    assert "name" not in item.values
