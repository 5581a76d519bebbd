"""The OpenAPI document (SPEC A3): served publicly, valid OpenAPI 3, built from the code (the import columns, the
limits, the error codes), and the server's real answers match it."""
import json
from decimal import Decimal

import pytest
from django.test import override_settings
from openapi_schema_validator import OAS30Validator
from openapi_spec_validator import validate

from merchant.api.catalog import ENDPOINT_KINDS
from merchant.api.openapi import document, error_codes
from merchant.models import Module
from merchant.services.inbound_fields import KIND_FIELDS
from tests.factories import ModuleSwitchFactory, ProductFactory

pytestmark = pytest.mark.django_db

ITEM_SCHEMAS = {"products": "ProductsItem", "prices": "PricesItem", "batches": "BatchesItem",
                "listing": "ListingItem", "stock": "StockItem", "customer_codes": "CustomerCodesItem"}


def conforms(doc: dict, name: str, instance) -> list[str]:
    """The ways `instance` breaks the schema components/schemas/name (empty: it conforms)."""
    validator = OAS30Validator({"$ref": f"#/components/schemas/{name}", "components": doc["components"]})
    return [error.message for error in validator.iter_errors(instance)]


def response_schema(doc: dict, path: str, method: str, status: str) -> dict:
    response = doc["paths"][path][method]["responses"][status]
    if "$ref" in response:
        response = doc["components"]["responses"][response["$ref"].rsplit("/", 1)[1]]
    return response["content"]["application/json"]["schema"]


def test_the_served_document_is_public_valid_openapi_3_and_the_one_the_code_builds(client):
    response = client.get("/api/v1/openapi.json")

    assert response.status_code == 200 and response["Content-Type"] == "application/json"
    served = response.json()
    validate(served)
    assert served == json.loads(json.dumps(document()))
    assert served["openapi"].startswith("3.")


def test_the_document_refuses_writes_with_the_error_format(client):
    response = client.post("/api/v1/openapi.json", data=b"{}", content_type="application/json")
    assert (response.status_code, response.json()["error"]["code"]) == (405, "method_not_allowed")


def test_every_endpoint_is_documented_with_the_security_scheme_and_error_answers():
    doc = document()
    expected = {"/api/v1/whoami", "/api/v1/products", "/api/v1/prices", "/api/v1/batches", "/api/v1/listing",
                "/api/v1/stock", "/api/v1/customers", "/api/v1/openapi.json"}
    assert expected <= set(doc["paths"])
    assert set(doc["security"][0]) == {"ApiKey", "ApiTimestamp", "ApiNonce", "ApiSignature"}
    assert {s["name"] for s in doc["components"]["securitySchemes"].values()} == {
        "X-Api-Key", "X-Api-Timestamp", "X-Api-Nonce", "X-Api-Signature"}
    signature = doc["components"]["securitySchemes"]["ApiSignature"]["description"]
    assert "METHOD\\nPATH\\nQUERY\\nTIMESTAMP\\nNONCE\\nBODY_SHA256" in signature
    stock = doc["paths"]["/api/v1/stock"]["post"]
    assert {"$ref": "#/components/parameters/IdempotencyKey"} in stock["parameters"]
    assert {"200", "400", "401", "405", "413", "422"} <= set(stock["responses"])
    assert doc["paths"]["/api/v1/openapi.json"]["get"]["security"] == []


def test_item_schemas_are_the_import_columns_with_their_rules():
    schemas = document()["components"]["schemas"]
    for kind, name in ITEM_SCHEMAS.items():
        schema = schemas[name]
        columns = {column.key: column for column in KIND_FIELDS[kind]}
        assert set(schema["properties"]) == set(columns)
        assert schema["required"] == [key for key, column in columns.items() if column.required == "always"]
        assert schema["additionalProperties"] is False
    products = schemas["ProductsItem"]["properties"]
    assert products["erp_product_id"] == {**products["erp_product_id"], "type": "string", "maxLength": 64,
                                          "minLength": 1}
    assert (products["name"]["maxLength"], products["name"]["x-required-when"]) == (200, "create")
    assert (products["stock"]["type"], products["stock"]["minimum"]) == ("integer", 0)
    assert products["default_price"]["exclusiveMinimum"] is True
    assert schemas["BatchesItem"]["properties"]["quantity"]["minimum"] == 0
    assert schemas["BatchesItem"]["properties"]["expiry_date"]["format"] == "date"
    assert schemas["ListingItem"]["properties"]["listed"]["type"] == "boolean"
    assert schemas["PricesItem"]["properties"]["price_type"]["enum"] == [
        "default", "suggested_retail", "region_group", "customer_group"]
    assert schemas["CustomerCodesItem"]["properties"]["uscc"]["maxLength"] == 18


@override_settings(API_MAX_ITEMS=20, API_MAX_BODY_BYTES=4096)
def test_limits_come_from_the_settings():
    doc = document()
    items = doc["paths"]["/api/v1/stock"]["post"]["requestBody"]["content"]["application/json"]["schema"]
    assert (items["properties"]["items"]["minItems"], items["properties"]["items"]["maxItems"]) == (1, 20)
    assert items["additionalProperties"] is False
    assert "at most 4096 bytes" in doc["info"]["description"]


def test_error_codes_are_read_from_the_code_with_their_status():
    codes = error_codes()
    assert codes["missing_auth"]["status"] == 401
    assert codes["key_revoked"]["status"] == 401
    assert codes["idempotency_key_reused"]["status"] == 422
    assert codes["too_many_items"]["status"] == 413
    assert codes["malformed_json"]["status"] == 400
    assert codes["bad_idempotency_key"]["messages"] == ["Idempotency-Key must be 1-100 printable ASCII characters"]
    doc = document()
    assert set(doc["components"]["schemas"]["Error"]["properties"]["error"]["properties"]["code"]["enum"]) == \
        set(codes)
    unauthorized = doc["components"]["responses"]["Error401"]
    assert {"missing_auth", "bad_signature", "replayed_nonce", "stale_timestamp"} <= set(unauthorized["x-codes"])


def test_real_answers_match_the_documented_schemas(erp, merchant_a):
    doc = document()
    ProductFactory(merchant=merchant_a, erp_product_id="A1", stock=1)
    ProductFactory(merchant=merchant_a, erp_product_id="A2", stock=1)
    ModuleSwitchFactory(merchant=merchant_a, module=Module.LISTING, enabled=False)

    _status, stock = erp.items("stock", {"erp_product_id": "A1", "stock": 5}, {"erp_product_id": "A2", "stock": -1})
    _status, listing = erp.items("listing", {"erp_product_id": "A1", "listed": False})
    _status, customers = erp.items("customers", {"uscc": "91350100M000100Y43", "erp_customer_code": "C1"})
    refused = erp.post("stock", {"items": []})

    assert [r["status"] for r in stock["results"]] + [listing["results"][0]["status"]] == ["ok", "invalid", "held"]
    for name, answer in (("BatchResult", stock), ("BatchResult", listing), ("CustomersResult", customers)):
        assert conforms(doc, name, json.loads(json.dumps(answer, default=float))) == []
    assert customers["unmatched"] == ["91350100M000100Y43"]
    error = refused.json()
    assert error["error"]["code"] in response_schema(doc, "/api/v1/stock", "post", "400")["properties"]["error"][
        "properties"]["code"]["enum"]
    assert conforms(doc, "Error", error) == []


def test_the_schemas_refuse_what_the_server_refuses():
    doc = document()
    assert conforms(doc, "StockItem", {"erp_product_id": "A1", "stock": 3}) == []
    assert conforms(doc, "StockItem", {"erp_product_id": "A1", "stock": -1})
    assert conforms(doc, "StockItem", {"erp_product_id": "A1", "stock": 3, "stok": 4})
    assert conforms(doc, "StockItem", {"stock": 3})
    assert conforms(doc, "ProductsItem", {"erp_product_id": "x" * 65})
    assert conforms(doc, "ProductsItem", {"erp_product_id": "A1", "default_price": Decimal("0")})
    assert conforms(doc, "CustomerCodesItem", {"erp_customer_code": "C1"})
    assert conforms(doc, "CustomerCodesItem", {"erp_customer_code": "C1", "platform_customer_id": 3}) == []


@override_settings(API_MAX_BODY_BYTES=4096)
def test_every_catalog_write_names_the_body_limit():
    doc = document()
    for name in ENDPOINT_KINDS:
        body = doc["paths"][f"/api/v1/{name}"]["post"]["requestBody"]
        assert body["description"].startswith("At most 4096 bytes"), name


def _schemas(node):
    """Every schema object of the document (any dict), depth first."""
    stack = [node]
    while stack:
        value = stack.pop()
        if isinstance(value, dict):
            yield value
            stack.extend(value.values())
        elif isinstance(value, list):
            stack.extend(value)


def test_every_nullable_enum_lists_null_so_strict_clients_accept_a_null():
    doc = document()
    nullable_enums = [schema for schema in _schemas(doc) if schema.get("nullable") is True and "enum" in schema]

    assert nullable_enums and all(None in schema["enum"] for schema in nullable_enums)
    basic = doc["components"]["schemas"]["Order"]["properties"]["basic"]["properties"]
    line = doc["components"]["schemas"]["Order"]["properties"]["items"]["items"]["properties"]
    assert None in basic["erp_status"]["enum"] and None in basic["refund_status"]["enum"]
    assert None in line["refund_status"]["enum"]
    for item in ("LogisticsItem", "ShipmentItem", "ErpStatusItem"):
        assert None in doc["components"]["schemas"][item]["properties"]["source"]["enum"]
    assert conforms(doc, "Order", {**_any_order(), "basic": {**_any_order()["basic"], "erp_status": None}}) == []


def _any_order():
    from merchant.api.order_json import order_json
    from tests.factories import OrderFactory

    return json.loads(json.dumps(order_json(OrderFactory(customer=None), {})))


def test_the_document_names_its_server_and_license_and_every_operation_its_4xx_answers():
    doc = document()

    assert doc["servers"] == [{"url": "/", "description": doc["servers"][0]["description"]}]
    assert doc["info"]["license"]["name"]
    for path, operations in doc["paths"].items():
        for method, operation in operations.items():
            client_errors = [status for status in operation["responses"] if status.startswith("4")]
            assert "400" in client_errors and "405" in client_errors, (method, path)
            if operation.get("security") != []:
                assert {"401", "429"} <= set(client_errors), (method, path)
