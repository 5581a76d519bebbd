"""The OpenAPI 3 document of the ERP bridge contract (docs/erp-bridge.openapi.json; prose in
docs/erp-bridge.md), built from the code that speaks it, so the two cannot drift apart: item fields from
the Open API's item schemas (the import columns), orders from the Open API's order schema (the shape we
send), limits from the client. `python manage.py erp_bridge_openapi` writes it; a test checks it is current.
"""
from merchant.api import signing
from merchant.api.openapi import item_schema
from merchant.api.order_schemas import ORDER
from sync.erp.client import MAX_CURSOR_LENGTH, MAX_LIMIT, MAX_PAGE_ITEMS, ORDER_STATUSES, PAGE_LIMIT
from sync.erp.errors import DEFAULT_RETRY_AFTER

from .orders import BATCH
from .pull import ITEM_KIND

OPENAPI_VERSION = "3.0.3"
MAX_ORDERS = 100  # what a bridge must accept per POST /orders; we send at most orders.BATCH

FEED_TEXT = {
    "products": "Products created or changed in the ERP, upserted by `erp_product_id` with the rules of the "
                "Excel product import (a new product needs `name` and `default_price`).",
    "prices": "Prices by `erp_product_id` and `price_type` (group prices also need the platform's "
              "`group_code`).",
    "batches": "Batches (lots). The batches a page names for a product replace all of that product's batches, "
               "so a page carries the complete current set of every product it names, and never splits one "
               "product's set across pages (a page may run past `limit` for that). A batch whose stock is used "
               "up is sent with quantity 0.",
    "stock": "Stock by `erp_product_id` (not for batch-managed products: send their batches).",
    "customers": "Your ERP's code for platform customers, found by USCC or platform customer id.",
}


def _ref(name: str) -> dict:
    return {"$ref": f"#/components/schemas/{name}"}


def _item_name(feed: str) -> str:
    return f"{feed.capitalize()}Item"


def _error(description: str, codes: list[str], headers: dict | None = None) -> dict:
    response = {"description": description + (f" Codes: {', '.join(codes)}." if codes else ""),
                "content": {"application/json": {"schema": _ref("Error")}}}
    if headers:
        response["headers"] = headers
    return response


RETRY_AFTER = {"Retry-After": {
    "description": f"Seconds to wait (or an HTTP date). Without it the hub waits {DEFAULT_RETRY_AFTER} s.",
    "schema": {"type": "string"}}}

COMMON_ERRORS = {
    "401": _error("Not signed correctly, or the key is unknown or revoked. The hub stops the connection's jobs "
                  "until its owner updates the settings; not retried.",
                  ["missing_auth", "unknown_key", "key_revoked", "stale_timestamp", "bad_nonce", "bad_signature"]),
    "429": _error("Too many calls: the hub's workers all wait Retry-After, then call again.", ["rate_limited"],
                  RETRY_AFTER),
    "5XX": _error("The bridge or the ERP failed: retried with backoff (6 attempts in a run; the next run "
                  "starts again from the stored cursor).", []),
}


def _feed_operation(feed: str) -> dict:
    return {
        "get": {
            "operationId": f"changes_{feed}",
            "tags": ["changes"],
            "summary": f"{feed.capitalize()} changed since a cursor",
            "description": FEED_TEXT[feed],
            "parameters": [
                {"name": "cursor", "in": "query", "required": False,
                 "schema": {"type": "string", "maxLength": MAX_CURSOR_LENGTH},
                 "description": "The `next_cursor` of the last page the hub applied; left out on the very first "
                                "call (and after 410 cursor_expired), meaning from the start of the feed."},
                {"name": "limit", "in": "query", "required": False,
                 "schema": {"type": "integer", "minimum": 1, "maximum": MAX_LIMIT, "default": PAGE_LIMIT},
                 "description": "Items wanted; the bridge may answer fewer (or more, for a product's batches)."},
            ],
            "responses": {
                "200": {"description": "One page of the feed, oldest change first.",
                        "content": {"application/json": {"schema": _ref(f"{feed.capitalize()}Page")}}},
                **COMMON_ERRORS,
                "404": _error("The bridge serves no such feed: the hub skips it (a healthy answer).",
                              ["unsupported_kind"]),
                "410": _error("The changes after this cursor are no longer kept: the hub reads the feed again "
                              "from its start (applying is idempotent) and notes it in the run.", ["cursor_expired"]),
            },
        }
    }


def _page_schema(feed: str) -> dict:
    return {
        "type": "object",
        "properties": {
            "items": {"type": "array", "maxItems": MAX_PAGE_ITEMS, "items": _ref(_item_name(feed)),
                      "description": "Changes after the cursor, oldest first. Of several items naming one record "
                                     "the last wins."},
            "next_cursor": {"type": "string", "maxLength": MAX_CURSOR_LENGTH,
                            "description": "Opaque: names the position after the last item. The hub stores it "
                                           "only once the page is applied and sends it back as `cursor`. With no "
                                           "items, the cursor that was sent (or \"\")."},
            "has_more": {"type": "boolean", "description": "true when more changes follow right away; then "
                                                           "next_cursor must differ from the cursor sent."},
        },
        "required": ["items", "next_cursor", "has_more"],
    }


def _orders_operation() -> dict:
    return {
        "post": {
            "operationId": "orders_receive",
            "tags": ["orders"],
            "summary": "Receive new orders",
            "description": "Orders paid and waiting to be shipped, oldest first, in the shape of the Open API's "
                           f"order query; at most {BATCH} per call from the hub. Keyed by `order_no` (with `source`): "
                           "an order the bridge already has is answered `duplicate`, never stored twice, because "
                           "the hub sends a batch again when it did not get the answer.",
            "requestBody": {"required": True,
                            "content": {"application/json": {"schema": _ref("OrdersRequest")}}},
            "responses": {
                "200": {"description": "One result per order received.",
                        "content": {"application/json": {"schema": _ref("OrdersAnswer")}}},
                **COMMON_ERRORS,
                "400": _error("The body cannot be read: a hub defect; the hub stops the connection and says why.",
                              ["malformed_json", "bad_orders"]),
            },
        }
    }


def document() -> dict:
    """The OpenAPI document (a dict ready for JSON)."""
    schemas = {
        **{_item_name(feed): item_schema(kind) for feed, kind in ITEM_KIND.items()},
        **{f"{feed.capitalize()}Page": _page_schema(feed) for feed in ITEM_KIND},
        "Order": ORDER,
        "OrdersRequest": {"type": "object", "required": ["orders"], "properties": {
            "orders": {"type": "array", "minItems": 1, "maxItems": MAX_ORDERS, "items": _ref("Order")}}},
        "OrderResult": {"type": "object", "required": ["order_no", "status"], "properties": {
            "order_no": {"type": "string"},
            "status": {"type": "string", "enum": list(ORDER_STATUSES),
                       "description": "accepted: stored now; duplicate: stored before; both mark the order taken "
                                      "by the ERP. rejected: not taken; offered again an hour later."},
            "message": {"type": "string", "maxLength": 300, "description": "Why it was rejected."}}},
        "OrdersAnswer": {"type": "object", "required": ["results"], "properties": {
            "results": {"type": "array", "items": _ref("OrderResult"),
                        "description": "An order left out stays untaken and is sent again."}}},
        "Ping": {"type": "object", "properties": {"name": {"type": "string"}},
                 "description": "Any JSON object; `name` is shown when the owner tests the connection."},
        "Error": {"type": "object", "required": ["error"], "properties": {"error": {
            "type": "object", "required": ["code"], "properties": {
                "code": {"type": "string", "description": "Stable; the hub branches on it."},
                "message": {"type": "string"},
                "request_id": {"type": "string", "description": "For support (or send X-Request-Id)."}}}}},
    }
    signed = "See docs/erp-bridge.md, Signing: the Open API's scheme with the connection's key and secret."
    return {
        "openapi": OPENAPI_VERSION,
        "info": {
            "title": "Merchant Hub ERP bridge",
            "version": "1",
            "description": "The HTTP JSON contract an ERP bridge implements so that Merchant Hub's workers can poll "
                           "it for catalog and customer changes and hand it new orders (SPEC S9). Merchant Hub is "
                           "the client; the bridge is the server. Prose, rules and examples: docs/erp-bridge.md.",
        },
        "servers": [{"url": "{base}", "variables": {"base": {
            "default": "https://erp.example.com/hub-bridge",
            "description": "The connection's bridge base URL, as entered in the back office."}}}],
        "tags": [{"name": "changes", "description": "Change feeds, pulled in the order products, prices, batches, "
                                                    "stock, customers."},
                 {"name": "orders", "description": "Orders handed to the ERP."}],
        "security": [{"ApiKey": [], "ApiTimestamp": [], "ApiNonce": [], "ApiSignature": []}],
        "paths": {
            "/ping": {"get": {"operationId": "ping", "summary": "Check the key and secret",
                              "responses": {"200": {"description": "Signed correctly.", "content": {
                                  "application/json": {"schema": _ref("Ping")}}}, "401": COMMON_ERRORS["401"]}}},
            **{f"/changes/{feed}": _feed_operation(feed) for feed in ITEM_KIND},
            "/orders": _orders_operation(),
        },
        "components": {
            "schemas": schemas,
            "securitySchemes": {
                "ApiKey": {"type": "apiKey", "in": "header", "name": signing.HEADER_KEY,
                           "description": "The connection's key."},
                "ApiTimestamp": {"type": "apiKey", "in": "header", "name": signing.HEADER_TIMESTAMP,
                                 "description": "Unix time in seconds; refuse more than 5 minutes off."},
                "ApiNonce": {"type": "apiKey", "in": "header", "name": signing.HEADER_NONCE,
                             "description": "8-64 letters, digits, - or _; new for every request."},
                "ApiSignature": {"type": "apiKey", "in": "header", "name": signing.HEADER_SIGNATURE,
                                 "description": "Lowercase hex HMAC-SHA256 of the canonical string. " + signed},
            },
        },
    }
