"""The OpenAPI 3 document of the Open API (SPEC A3), built from the code on every request so it cannot drift
from what the server does: item fields from the import columns (merchant/services/inbound_fields.py), limits
from settings and the auth module, error codes from the ApiError raised in this package, and the order
schemas from merchant/api/order_schemas.py when that module is there.
"""
import ast
import copy
import importlib
import re
from functools import cache
from pathlib import Path

from django.conf import settings
from django.http import JsonResponse
from django.utils import translation
from django.utils.translation import gettext as _
from django.views.decorators.csrf import csrf_exempt

from merchant.models.catalog import MONEY
from merchant.services.inbound_fields import KIND_FIELDS, json_type

from . import auth, idempotency, signing
from .auth import ApiError
from .catalog import ENDPOINT_KINDS
from .language import api_language
from .views import error_response, unknown_parameters_check

OPENAPI_VERSION = "3.0.3"
PREFIX = "/api/v1"
INT_MAX = 2**31 - 1  # cells.to_int refuses anything larger
MONEY_MAX = float(10 ** (MONEY["max_digits"] - MONEY["decimal_places"])) - 0.01
EMPTY_BODY_SHA256 = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"

# Title, description and example of the columns whose import labels are empty (the listing kind exists only
# for automatic channels, not as an import).
FIELD_TEXT = {
    ("listing", "erp_product_id"): ("ERP product id", "The product's id in your ERP.", "SKU-0001"),
    ("listing", "listed"): ("Listed", "true lists the product, false delists it. Listing is refused, with the "
                                      "reason, for a product pending review or without stock.", True),
    # Programs send the codes; the words of the Excel template are for people (and are read as well).
    ("prices", "price_type"): ("Price type", "default, suggested_retail, region_group or customer_group (the words "
                                             "of the Excel template are read too).", "region_group"),
    ("prices", "group_code"): ("Group code", "For group prices: the group's code, as the platform defines it (its "
                                             "name is read too).", "south"),
}
# Whole numbers that count things may be 0; ids start at 1.
NON_NEGATIVE = {"stock", "quantity"}

KIND_TEXT = {
    "products": (
        "Create or update products",
        "Upserts products by `erp_product_id`, with the rules of the Excel product import: a new product needs "
        "`name` and `default_price`; a field left out (or null, or \"\") leaves the stored value unchanged; blank "
        "stock means 0 for a new product. Base-product matching: an explicit `base_product_id` wins, otherwise an "
        "exact match on barcode + approval number + spec + manufacturer links one; no match means "
        "`pending_review`. A matched product with stock above 0 becomes `listed`, with stock 0 `ready`. "
        "A batch-managed product's stock comes from its batches and cannot be sent here.",
    ),
    "prices": (
        "Set prices",
        "Default, suggested retail, region-group and customer-group prices by `erp_product_id` and `price_type`; "
        "group prices also need the platform's `group_code`. Above 0, at most 2 decimal places.",
    ),
    "batches": (
        "Replace batches",
        "Batches (lots) by `erp_product_id`: the batches sent for a product replace all of its batches (send every "
        "on-sale batch of the product in one request). The product becomes batch-managed, and its stock is the "
        "sum of its on-sale batches. If one batch of a product is invalid, none of that product's batches apply.",
    ),
    "listing": (
        "List or delist products",
        "Lists or delists products by `erp_product_id`.",
    ),
    "stock": (
        "Set stock",
        "The stock in force by `erp_product_id`. Not for batch-managed products (send their batches instead).",
    ),
    "customer_codes": (
        "Set ERP customer codes",
        "Your ERP's code for each platform customer, found by USCC (unified social credit code) or by platform "
        "customer id. One code per customer and one customer per code. USCCs that match no platform customer "
        "are answered as invalid and also listed in `unmatched`. A platform customer id finds only a customer "
        "the merchant already deals with (orders from it, or an ERP code already set): link a new customer by "
        "its USCC. Each answer's `key` is what the item sent (the USCC, else the id).",
    ),
}
STATUS_TEXT = {
    400: "The request as a whole is malformed; nothing was written.",
    401: "The request is not correctly signed; nothing was written.",
    403: "This key may not do that; nothing was written.",
    404: "No such endpoint, or no such record of this merchant.",
    405: "Wrong HTTP method.",
    409: "Conflict with the stored state; nothing was written.",
    413: "The request is too large; nothing was written.",
    422: "The request cannot be processed as sent; nothing was written.",
    429: "Too many requests with this key in the current window; nothing was written. Wait the seconds "
         "Retry-After gives.",
}


def _ref(name: str) -> dict:
    return {"$ref": f"#/components/schemas/{name}"}


def _max_length(column) -> int | None:
    keywords = getattr(column.parse, "keywords", None) or {}
    return keywords.get("max_length")


def field_schema(kind: str, column) -> dict:
    """The JSON Schema of one item field, as strict as the server's parser (type, length, range)."""
    title, description, example = FIELD_TEXT.get((kind, column.key), (column.en, column.note_en, column.example))
    schema = {"title": title}
    value_type = json_type(column)
    if value_type == "boolean":
        schema["type"] = "boolean"
    elif value_type == "integer":
        schema.update(type="integer", minimum=0 if column.key in NON_NEGATIVE else 1, maximum=INT_MAX)
    elif value_type == "number":
        # Decimal on the server (never float): more than 2 decimal places is refused, not rounded.
        schema.update(type="number", minimum=0, exclusiveMinimum=True, maximum=MONEY_MAX)
        description = " ".join(filter(None, [description, "A JSON number, or a numeric string such as \"12.50\"."]))
    elif value_type == "date":
        schema.update(type="string", format="date")
    else:
        schema["type"] = "string"
        if column.choices:
            schema["enum"] = list(column.choices)
        if _max_length(column):
            schema["maxLength"] = _max_length(column)
        if column.required == "always":
            schema["minLength"] = 1
    if column.required == "create":
        schema["x-required-when"] = "create"
        if "required" not in (description or "").lower():
            description = " ".join(filter(None, [description, "Required when the record is created."]))
    if column.required != "always":
        schema["nullable"] = True  # null, like "" or leaving the field out, means "not given"
    if description:
        schema["description"] = description
    if example is not None:
        schema["example"] = example
    return schema


def item_schema(kind: str) -> dict:
    columns = KIND_FIELDS[kind]
    schema = {
        "type": "object",
        "properties": {column.key: field_schema(kind, column) for column in columns},
        "required": [column.key for column in columns if column.required == "always"],
        # Unknown fields are refused per item, so a misspelt name is never silently ignored.
        "additionalProperties": False,
    }
    if kind == "customer_codes":
        schema["description"] = ("Give `uscc` or `platform_customer_id` (either finds the customer; an id finds only "
                                 "a customer the merchant already deals with).")
        schema["anyOf"] = [{"required": ["uscc"]}, {"required": ["platform_customer_id"]}]
    return schema


def batch_request_schema(kind: str) -> dict:
    return {
        "type": "object",
        "properties": {"items": {
            "type": "array", "minItems": 1, "maxItems": settings.API_MAX_ITEMS, "items": _ref(_item_name(kind)),
            "description": f"1 to {settings.API_MAX_ITEMS} items; each is answered on its own, in order.",
        }},
        "required": ["items"],
        "additionalProperties": False,
    }


def _item_name(kind: str) -> str:
    return "".join(part.capitalize() for part in kind.split("_")) + "Item"


# Error codes ---------------------------------------------------------------------------------------------

def _constant(module, node):
    """The value of a module-level name such as HEADER or signing.HEADER_KEY, else None."""
    if isinstance(node, ast.Name):
        value = getattr(module, node.id, None)
    elif isinstance(node, ast.Attribute):
        if isinstance(node.value, ast.Name) and node.value.id == "settings":
            return None  # may differ per deployment (and the result is cached)
        owner = _constant(module, node.value) if not isinstance(node.value, ast.Name) else \
            getattr(module, node.value.id, None)
        value = getattr(owner, node.attr, None)
    else:
        return None
    return value if isinstance(value, (str, int)) else None


def _message_template(module, node) -> str:
    """A message as written (in English), with the parts only known at run time shown as "…"."""
    if isinstance(node, ast.BinOp) and isinstance(node.op, ast.Mod):  # _("... %(name)s ...") % {...}
        known = {}
        if isinstance(node.right, ast.Dict):
            known = {key.value: _constant(module, value) for key, value in zip(node.right.keys, node.right.values)
                     if isinstance(key, ast.Constant)}
        return re.sub(r"%\(([a-z_]+)\)s", lambda m: "…" if known.get(m[1]) is None else str(known[m[1]]),
                      _message_template(module, node.left))
    if isinstance(node, ast.Call) and getattr(node.func, "id", None) in ("_", "gettext") and node.args:
        return _message_template(module, node.args[0])
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return node.value
    if isinstance(node, ast.JoinedStr):
        parts = []
        for part in node.values:
            if isinstance(part, ast.Constant):
                parts.append(str(part.value))
            else:
                value = _constant(module, part.value) if part.format_spec is None else None
                parts.append("…" if value is None else str(value))
        return "".join(parts)
    return ""


@cache
def error_codes() -> dict[str, dict]:
    """code -> {"status", "messages"} for every `ApiError(status, code, message)` written in this package.

    Read from the source rather than listed by hand, so a new error code is documented when it is written."""
    found: dict[str, dict] = {}
    for path in sorted(Path(__file__).parent.glob("*.py")):
        tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
        module = None
        for node in ast.walk(tree):
            if not (isinstance(node, ast.Call) and getattr(node.func, "id", getattr(node.func, "attr", None))
                    == "ApiError"):
                continue
            args = dict(zip(("status", "code", "message"), node.args))
            args.update({keyword.arg: keyword.value for keyword in node.keywords if keyword.arg})
            status, code = args.get("status"), args.get("code")
            if not (isinstance(status, ast.Constant) and isinstance(code, ast.Constant)):
                continue
            entry = found.setdefault(code.value, {"status": status.value, "messages": []})
            module = module or importlib.import_module(f"{__package__}.{path.stem}")
            message = _message_template(module, args.get("message"))
            if message and message not in entry["messages"]:
                entry["messages"].append(message)
    return dict(sorted(found.items()))


def codes_by_status() -> dict[int, list[str]]:
    by_status: dict[int, list[str]] = {}
    for code, entry in error_codes().items():
        by_status.setdefault(entry["status"], []).append(code)
    return dict(sorted(by_status.items()))


def _error_response(status: int, codes: list[str]) -> dict:
    lines = [STATUS_TEXT.get(status, ""), "", "Codes:"]
    for code in codes:
        lines.append(f"- `{code}`: {' / '.join(error_codes()[code]['messages'])}")
    return {
        "description": "\n".join(lines),
        # The same codes and messages as data, for the back office's reference page.
        "x-codes": {code: error_codes()[code]["messages"] for code in codes},
        "content": {"application/json": {"schema": {
            "allOf": [_ref("Error")],
            "properties": {"error": {"properties": {"code": {"enum": codes}}}},
        }}},
    }


def _error_responses(statuses) -> dict:
    available = codes_by_status()
    return {str(status): {"$ref": f"#/components/responses/Error{status}"} for status in statuses
            if status in available}


# Operations ----------------------------------------------------------------------------------------------

def _write_operation(name: str, kind: str) -> dict:
    summary, description = KIND_TEXT[kind]
    result = "CustomersResult" if kind == "customer_codes" else "BatchResult"
    return {"post": {
        "operationId": f"{name}_write",
        "tags": ["catalog"],
        "summary": summary,
        "description": description,
        "parameters": [{"$ref": "#/components/parameters/IdempotencyKey"}],
        "requestBody": {
            "required": True,
            "description": f"At most {settings.API_MAX_BODY_BYTES} bytes (413 body_too_large).",
            "content": {"application/json": {"schema": batch_request_schema(kind)}},
        },
        "responses": {
            "200": {
                "description": "Each item answered on its own: ok (applied; `changed` says whether anything "
                               "changed), held (auto-sync is off; kept and applied when it is on again) or "
                               "invalid (per field, nothing of this item written).",
                "headers": {"Idempotent-Replayed": {"$ref": "#/components/headers/IdempotentReplayed"}},
                "content": {"application/json": {"schema": _ref(result)}},
            },
            **_error_responses((400, 401, 403, 405, 413, 422, 429)),
        },
    }}


def _whoami_operation() -> dict:
    return {"get": {
        "operationId": "whoami",
        "tags": ["account"],
        "summary": "Which merchant and key signed this request",
        "description": "The first call to make when setting up an integration: it checks the signing code.",
        "responses": {
            "200": {"description": "The merchant and key.", "content": {"application/json": {"schema": {
                "type": "object",
                "properties": {"merchant": {"type": "string", "description": "The merchant's code."},
                               "key": {"type": "string", "description": "The API key that signed the request."}},
                "required": ["merchant", "key"],
                "additionalProperties": False,
            }}}},
            **_error_responses((400, 401, 403, 405, 413, 429)),
        },
    }}


def _document_operation() -> dict:
    return {"get": {
        "operationId": "openapi_document",
        "tags": ["account"],
        "summary": "This document",
        "description": "The OpenAPI 3 document of the API. Public: no signature needed.",
        "security": [],
        "responses": {"200": {"description": "The document.", "content": {"application/json": {
            "schema": {"type": "object"}}}}, **_error_responses((400, 405))},
    }}


def _order_paths() -> tuple[dict, dict]:
    """(paths, component schemas) of the order endpoints, from merchant/api/order_schemas.py when it exists."""
    try:
        module = importlib.import_module("merchant.api.order_schemas")
    except ModuleNotFoundError as error:
        if error.name != "merchant.api.order_schemas":
            raise
        return {}, {}
    builder = getattr(module, "openapi_paths", None)
    if builder is None:
        return {}, {}
    return builder()


# Schemas and text ----------------------------------------------------------------------------------------

def _components(order_schemas: dict) -> dict:
    schemas = {_item_name(kind): item_schema(kind) for kind in ENDPOINT_KINDS.values()}
    schemas.update({
        "Error": {
            "type": "object",
            "properties": {"error": {
                "type": "object",
                "properties": {
                    "code": {"type": "string", "enum": list(error_codes()),
                             "description": "Stable: branch on it."},
                    "message": {"type": "string", "description": "For people; may change, and follows "
                                                                 "Accept-Language (English by default)."},
                },
                "required": ["code", "message"],
                "additionalProperties": False,
            }},
            "required": ["error"],
            "additionalProperties": False,
        },
        "FieldError": {
            "type": "object",
            "properties": {
                "field": {"type": "string", "example": "items[3].stock",
                          "description": "The item (`items[3]`) or its field (`items[3].stock`)."},
                "message": {"type": "string"},
            },
            "required": ["field", "message"],
            "additionalProperties": False,
        },
        "OkResult": _result_schema("ok", {"changed": {
            "type": "boolean", "description": "false when the values sent were already in force."}}, optional={
            "note": {"type": "string", "description": "Why a valid item was left out: a batch the merchant's "
                                                      "batch policy (latest or largest batch only) does not keep."}}),
        "HeldResult": _result_schema("held", {
            "reason": {"type": "string", "description": "Which switch is off, and until when."},
            "held": {"type": "array", "items": {"type": "string"},
                     "description": "The fields held; the others of the item were applied."},
        }),
        "InvalidResult": _result_schema("invalid", {"errors": {
            "type": "array", "minItems": 1, "items": _ref("FieldError")}}),
        "ItemResult": {
            "oneOf": [_ref("OkResult"), _ref("HeldResult"), _ref("InvalidResult")],
            "discriminator": {"propertyName": "status", "mapping": {
                "ok": "#/components/schemas/OkResult", "held": "#/components/schemas/HeldResult",
                "invalid": "#/components/schemas/InvalidResult"}},
        },
        "Counts": {
            "type": "object",
            "properties": {name: {"type": "integer", "minimum": 0} for name in ("ok", "held", "invalid")},
            "required": ["ok", "held", "invalid"],
            "additionalProperties": False,
        },
        "BatchResult": {
            "type": "object",
            "properties": {"results": {"type": "array", "items": _ref("ItemResult")}, "counts": _ref("Counts")},
            "required": ["results", "counts"],
            "additionalProperties": False,
        },
        "CustomersResult": {
            "type": "object",
            "properties": {
                "results": {"type": "array", "items": _ref("ItemResult")},
                "counts": _ref("Counts"),
                "unmatched": {"type": "array", "items": {"type": "string"},
                              "description": "The USCCs sent that match no platform customer."},
            },
            "required": ["results", "counts", "unmatched"],
            "additionalProperties": False,
        },
    })
    schemas.update(order_schemas)
    return {
        "securitySchemes": security_schemes(),
        "parameters": {"IdempotencyKey": {
            "name": idempotency.HEADER, "in": "header", "required": False,
            "schema": {"type": "string", "minLength": 1, "maxLength": 100, "pattern": r"^[\x21-\x7e]{1,100}$"},
            "description": f"Optional on writes: 1-100 printable ASCII characters, unique per request (a UUID). "
                           f"Retrying with the same key and the same request returns the first answer again, with "
                           f"`Idempotent-Replayed: true`, and writes nothing twice. The same key on a different "
                           f"request is refused (422 `idempotency_key_reused`). A request that failed (4xx) "
                           f"does not use up its key. Keys are kept for "
                           f"{int(idempotency.KEEP.total_seconds() // 3600)} hours.",
        }},
        "headers": {"IdempotentReplayed": {
            "description": "`true` when this answer is the stored answer to an earlier request with the same "
                           "Idempotency-Key.",
            "schema": {"type": "string", "enum": ["true"]},
        }},
        "responses": {f"Error{status}": _error_response(status, codes) for status, codes in codes_by_status().items()},
        "schemas": schemas,
    }


def _result_schema(status: str, extra: dict, optional: dict | None = None) -> dict:
    return {
        "type": "object",
        "properties": {
            "index": {"type": "integer", "minimum": 0, "description": "The item's position in `items`."},
            "key": {"type": "string", "description": "The record the item names (such as its ERP product id)."},
            "status": {"type": "string", "enum": [status]},
            **extra, **(optional or {}),
        },
        "required": ["index", "key", "status", *extra],
        "additionalProperties": False,
    }


def canonical_string_text() -> str:
    window = int(auth.WINDOW.total_seconds())
    return (
        "X-Api-Signature is the lowercase hex HMAC-SHA256 of the canonical string, keyed with the secret "
        "(both UTF-8). The canonical string is six lines joined by \"\\n\" (no trailing newline):\n"
        "\n"
        "    METHOD\\nPATH\\nQUERY\\nTIMESTAMP\\nNONCE\\nBODY_SHA256\n"
        "\n"
        "- METHOD: the HTTP method in upper case (GET, POST).\n"
        "- PATH: the URL path, without scheme, host or query string, e.g. /api/v1/stock.\n"
        "- QUERY: the query parameters as decoded key/value pairs (a repeated key gives one pair per value; "
        "`+` in a query string decodes to a space), sorted by key and then by value (Unicode code point order), "
        "each key and value percent-encoded as RFC 3986 says (letters, digits and -_.~ stay as they are; "
        "a space is %20; UTF-8 bytes otherwise), written key=value and joined by &. Empty when there is no "
        "query string.\n"
        f"- TIMESTAMP: the X-Api-Timestamp header: Unix time in whole seconds; refused when more than "
        f"{window} s from the server's clock.\n"
        "- NONCE: the X-Api-Nonce header: 8-64 letters, digits, - or _, new for every request (a UUID's hex); "
        "a nonce already used with the key is refused.\n"
        "- BODY_SHA256: the lowercase hex SHA-256 of the exact body bytes sent; for an empty body (GET) "
        f"{EMPTY_BODY_SHA256}."
    )


def security_schemes() -> dict:
    return {
        "ApiKey": {"type": "apiKey", "in": "header", "name": signing.HEADER_KEY,
                   "description": "The API key (public: it says which secret signed the request). An owner creates "
                                  "keys in the back office (API keys); the secret is shown once."},
        "ApiTimestamp": {"type": "apiKey", "in": "header", "name": signing.HEADER_TIMESTAMP,
                         "description": "Unix time in seconds when the request was signed, e.g. 1767225600."},
        "ApiNonce": {"type": "apiKey", "in": "header", "name": signing.HEADER_NONCE,
                     "description": "A value used once per key: 8-64 letters, digits, - or _."},
        "ApiSignature": {"type": "apiKey", "in": "header", "name": signing.HEADER_SIGNATURE,
                         "description": canonical_string_text()},
    }


def overview_text() -> str:
    return (
        "The Open API lets a merchant's ERP push its catalog (products, prices, batches, listing, stock) and "
        "customer codes, and take orders and report their fulfilment. JSON in, JSON out, UTF-8.\n"
        "\n"
        f"Every request is signed with an API key and its secret (see the security scheme ApiSignature). "
        f"Writes take 1 to {settings.API_MAX_ITEMS} items and a body of at most {settings.API_MAX_BODY_BYTES} "
        f"bytes; each item is answered on its own, in order, as ok, held or invalid, with counts. An item is "
        f"held when automatic sync of its module, or the stock or price sync of its SKU, is switched off in "
        f"the back office: the value is kept, shown beside the value in force, and applied when sync is "
        f"turned back on. Money is a number with at most 2 decimal places (never rounded: 12.345 is "
        f"refused); dates are YYYY-MM-DD.\n"
        "\n"
        "Errors of the request as a whole are {\"error\": {\"code\", \"message\"}} with a stable code, for "
        "every /api/ path (404 `not_found` for a path no endpoint serves). Every message, of the request and of "
        "each item, is in English unless Accept-Language prefers Chinese by q-value (zh, zh-hans, zh-cn; `*` "
        "means English). Query parameters other than an endpoint's own are refused (400 `unknown_parameter`). "
        f"At most {settings.API_RATE_LIMIT or 'unlimited'} requests per key every {settings.API_RATE_WINDOW} s: "
        "past that, 429 `rate_limited` with Retry-After. Send an Idempotency-Key with every write and reuse it "
        "when retrying, so a retry after a timeout never applies twice."
    )


def document() -> dict:
    """The OpenAPI document (a dict ready for JSON)."""
    order_paths, order_schemas = _order_paths()
    paths = {
        f"{PREFIX}/whoami": _whoami_operation(),
        **{f"{PREFIX}/{name}": _write_operation(name, kind) for name, kind in ENDPOINT_KINDS.items()},
        **order_paths,
        f"{PREFIX}/openapi.json": _document_operation(),
    }
    # A copy: the order schemas are module constants, and the null is added to the document, not to them.
    return nullable_enums_list_null(copy.deepcopy({
        "openapi": OPENAPI_VERSION,
        "info": {"title": "Merchant Hub Open API", "version": "1", "description": overview_text(),
                 "license": {"name": "Proprietary: for integrations with a Merchant Hub merchant account"}},
        # Relative: the server that serves this document (OpenAPI resolves it against the document's URL).
        "servers": [{"url": "/", "description": "The Merchant Hub server that serves this document."}],
        "tags": [
            {"name": "account", "description": "Keys and this document."},
            {"name": "catalog", "description": "Batched catalog and customer-code writes."},
            *([{"name": "orders", "description": "Orders taken by the ERP and their fulfilment."}]
              if order_paths else []),
        ],
        "security": [{"ApiKey": [], "ApiTimestamp": [], "ApiNonce": [], "ApiSignature": []}],
        "paths": paths,
        "components": _components(order_schemas),
    }))


def nullable_enums_list_null(node):
    """Every `nullable: true` schema with an `enum` lists null in it (in place; returns `node`). OpenAPI 3.0.3
    says an enum restricts null too, so strict generators (openapi-python-client) refuse a null the enum does
    not list; the schemas say nullable once, and this keeps the enums from contradicting it."""
    stack = [node]
    while stack:
        value = stack.pop()
        if isinstance(value, dict):
            if value.get("nullable") is True and "enum" in value and None not in value["enum"]:
                value["enum"] = [*value["enum"], None]
            stack.extend(value.values())
        elif isinstance(value, list):
            stack.extend(value)
    return node


@csrf_exempt  # a public read; no session is involved
def openapi_view(request):
    """GET /api/v1/openapi.json: public, unsigned."""
    with translation.override(api_language(request)):
        try:
            if request.method not in ("GET", "HEAD"):
                raise ApiError(405, "method_not_allowed", _("use %(methods)s") % {"methods": "GET"})
            unknown_parameters_check(request, ())
        except ApiError as error:
            return error_response(error)
    return JsonResponse(document(), json_dumps_params={"ensure_ascii": False, "indent": 1})
