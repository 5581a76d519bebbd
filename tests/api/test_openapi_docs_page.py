"""The Open API reference in the back office: rendered from the OpenAPI document for every role, with a worked
signing example computed by the server's signing code."""
import re

import pytest
from django.test import Client
from django.urls import reverse

from merchant.api import signing
from merchant.api.openapi import document, error_codes
from merchant.views.api_docs import EXAMPLE, operations, schema_rows

pytestmark = pytest.mark.usefixtures("english_pages")


@pytest.mark.parametrize("role", ["owner", "operator", "viewer"])
def test_every_role_reads_the_reference(request, role):
    response = request.getfixturevalue(f"client_{role}").get(reverse("api_docs"))
    assert response.status_code == 200
    assert 'href="/api/v1/openapi.json"' in response.content.decode()


def test_visitors_who_are_not_logged_in_are_sent_to_the_login_page(client):
    response = client.get(reverse("api_docs"))
    assert response.status_code == 302 and reverse("login") in response["Location"]


def test_the_navigation_links_the_reference(client_viewer):
    page = client_viewer.get(reverse("dashboard")).content.decode()
    assert f'href="{reverse("api_docs")}"' in page


def test_the_page_shows_every_operation_its_fields_and_the_error_codes(client_viewer):
    page = client_viewer.get(reverse("api_docs")).content.decode()
    doc = document()
    for path, item in doc["paths"].items():
        for method in item:
            assert f"<code>{path}</code>" in page, path
            assert f'id="op-{item[method]["operationId"]}"' in page
    for code in error_codes():
        assert f"<code>{code}</code>" in page
    for field in ("items[].erp_product_id", "items[].stock", "items[].expiry_date", "results[].errors[].field",
                  "Idempotency-Key"):
        assert f"<code>{field}</code>" in page
    assert "1-500 items" in page
    assert "at most 64 characters" in page or "1-64 characters" in page


def test_the_worked_example_is_what_the_signing_code_computes(client_viewer):
    page = client_viewer.get(reverse("api_docs")).content.decode()
    canonical = signing.canonical_string(method="POST", path="/api/v1/stock", query_pairs=[],
                                         timestamp=EXAMPLE["timestamp"], nonce=EXAMPLE["nonce"], body=EXAMPLE["body"])
    assert re.search(r'<pre class="code" id="example-canonical">(.*?)</pre>', page, re.S).group(1) == canonical
    assert f"X-Api-Signature: {signing.signature(EXAMPLE['secret'], canonical)}" in page


def test_a_worked_example_request_really_is_accepted(merchant_a, owner):
    """The example's algorithm, followed with a real key, passes the server's check (only the key, the secret,
    the time and the nonce differ)."""
    from merchant.permissions import Actor
    from merchant.services.api_credentials import api_credential_create
    from tests.api.signed import signed_headers

    credential, secret = api_credential_create(merchant=merchant_a, actor=Actor.for_user(owner))
    response = Client().post(EXAMPLE["path"], data=EXAMPLE["body"], content_type="application/json",
                             **signed_headers(credential.key, secret, "POST", EXAMPLE["path"], EXAMPLE["body"]))
    assert response.status_code == 200


def test_fields_are_flattened_with_their_rules():
    doc = document()
    products = next(op for op in operations(doc) if op["path"] == "/api/v1/products")
    body = {row["name"]: row for row in products["body"]}
    assert body["items"]["constraints"] == ["1-500 items"]
    assert body["items[].erp_product_id"]["required"] == "always"
    assert body["items[].name"]["required"] == "create"
    assert "no other fields" not in body["items[].stock"]["constraints"]
    results = {row["name"]: row for row in schema_rows(doc, {"$ref": "#/components/schemas/BatchResult"})}
    assert results["results[].status"]["enum"] == ["ok", "held", "invalid"]
    assert {"results[].changed", "results[].held", "results[].errors[].message", "counts.ok"} <= set(results)
