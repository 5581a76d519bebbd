"""The Open API reference in the back office, rendered from the same OpenAPI document that /api/v1/openapi.json
serves (so the page and the document cannot disagree), and a worked signing example computed by the server's
own signing code."""
import hashlib
import json
from urllib.parse import urlencode

from django.conf import settings
from django.shortcuts import render

from merchant.api import openapi, signing
from merchant.views.common import merchant_view

METHODS = ("get", "post", "put", "patch", "delete")
MAX_DEPTH = 6  # nested objects shown on the page (order schemas nest items in orders)

# Not a real key: the numbers of the worked example, the same as in docs/api.md.
EXAMPLE = {
    "key": "mh_0123456789abcdef0123456789abcdef",
    "secret": "example-secret-not-a-real-one",
    "method": "POST",
    "path": "/api/v1/stock",
    "timestamp": "1767225600",
    "nonce": "4f9c2b7e1a3d4c5b9e8f7a6b5c4d3e2f",
    "body": b'{"items":[{"erp_product_id":"SKU-0001","stock":120}]}',
}
EXAMPLE_QUERY = [("sync_status", "not_taken"), ("created_from", "2026-03-01T08:00:00+08:00"), ("limit", "50")]


def signing_example() -> dict:
    """The worked example: every intermediate value of signing one request."""
    canonical = signing.canonical_string(method=EXAMPLE["method"], path=EXAMPLE["path"], query_pairs=[],
                                         timestamp=EXAMPLE["timestamp"], nonce=EXAMPLE["nonce"], body=EXAMPLE["body"])
    return {
        **EXAMPLE,
        "body": EXAMPLE["body"].decode(),
        "body_sha256": hashlib.sha256(EXAMPLE["body"]).hexdigest(),
        "canonical": canonical,
        "signature": signing.signature(EXAMPLE["secret"], canonical),
        "query_raw": urlencode(EXAMPLE_QUERY, safe=":"),
        "query_canonical": signing.canonical_query(EXAMPLE_QUERY),
    }


def _resolve(document: dict, node: dict) -> dict:
    seen = 0
    while isinstance(node, dict) and "$ref" in node and seen < 20:
        target = document
        for part in node["$ref"].lstrip("#/").split("/"):
            target = target[part]
        node, seen = target, seen + 1
    return node


def _merged(document: dict, schema: dict) -> dict:
    """allOf parts folded into one schema (enough for display)."""
    schema = _resolve(document, schema)
    if "allOf" not in schema:
        return schema
    merged = {key: value for key, value in schema.items() if key != "allOf"}
    for part in schema["allOf"]:
        part = _merged(document, part)
        for key, value in part.items():
            if key == "properties":
                merged["properties"] = {**value, **merged.get("properties", {})}
            elif key == "required":
                merged["required"] = list(dict.fromkeys([*merged.get("required", []), *value]))
            else:
                merged.setdefault(key, value)
    return merged


def type_text(schema: dict) -> str:
    kind = schema.get("type", "")
    if kind == "array":
        items = schema.get("items", {})
        inner = items.get("type") or items.get("$ref", "").rsplit("/", 1)[-1] or "any"
        return f"array of {inner}"
    if "format" in schema:
        return f"{kind} ({schema['format']})"
    if not kind and "oneOf" in schema:
        return " | ".join(part.get("$ref", "").rsplit("/", 1)[-1] or part.get("type", "") for part in schema["oneOf"])
    return kind or "object"


def _number(value) -> str:
    return str(int(value)) if float(value).is_integer() else f"{value:.2f}"


def constraints_text(schema: dict) -> list[str]:
    parts = []
    if "enum" in schema:
        parts.append("one of: " + ", ".join(json.dumps(value, ensure_ascii=False) for value in schema["enum"]))
    if "minLength" in schema and "maxLength" in schema:
        parts.append(f"{schema['minLength']}-{schema['maxLength']} characters")
    elif "maxLength" in schema:
        parts.append(f"at most {schema['maxLength']} characters")
    elif "minLength" in schema:
        parts.append(f"at least {schema['minLength']} characters")
    if "pattern" in schema:
        parts.append(f"pattern {schema['pattern']}")
    if "minimum" in schema:
        parts.append(f"{'>' if schema.get('exclusiveMinimum') else '≥'} {_number(schema['minimum'])}")
    if "maximum" in schema:
        parts.append(f"{'<' if schema.get('exclusiveMaximum') else '≤'} {_number(schema['maximum'])}")
    if "maxItems" in schema:
        parts.append(f"{schema.get('minItems', 0)}-{schema['maxItems']} items")
    elif "minItems" in schema:
        parts.append(f"at least {schema['minItems']} item{'s' if schema['minItems'] != 1 else ''}")
    if schema.get("additionalProperties") is False:
        parts.append("no other fields")
    if schema.get("nullable"):
        parts.append("null allowed")
    return parts


def schema_rows(document: dict, schema: dict, prefix: str = "", depth: int = 0, rows=None) -> list[dict]:
    """One row per field, nested fields as `items[].stock`; variants of a oneOf share their common fields."""
    rows = [] if rows is None else rows
    schema = _merged(document, schema)
    if depth > MAX_DEPTH:
        return rows
    if "oneOf" in schema:
        _variant_rows(document, schema, prefix, depth, rows)
        if "properties" not in schema:
            return rows
    if schema.get("type") == "array":
        return schema_rows(document, schema.get("items", {}), f"{prefix}[]", depth + 1, rows)
    required = set(schema.get("required", []))
    known = {row["name"]: row for row in rows}
    for name, prop in schema.get("properties", {}).items():
        path = f"{prefix}.{name}" if prefix else name
        prop = _merged(document, prop)
        if path in known:
            row = known[path]
            for value in prop.get("enum", []):
                if value not in row["enum"]:
                    row["enum"].append(value)
                    row["constraints"] = constraints_text({**prop, "enum": row["enum"]})
            continue
        row = {
            "name": path, "type": type_text(prop), "enum": list(prop.get("enum", [])),
            "required": "always" if name in required else prop.get("x-required-when", ""),
            "constraints": constraints_text(prop), "description": prop.get("description", ""),
            "example": json.dumps(prop["example"], ensure_ascii=False) if "example" in prop else "",
        }
        rows.append(row)
        known[path] = row
        if prop.get("type") in ("object", "array") or "properties" in prop or "oneOf" in prop:
            schema_rows(document, prop, path, depth + 1, rows)
    return rows


def _variant_rows(document: dict, schema: dict, prefix: str, depth: int, rows: list) -> None:
    """The fields of a oneOf's variants (such as the ok, held and invalid item results): a field that only some
    variants have is marked with the discriminator values it comes with ("status: ok")."""
    discriminator = schema.get("discriminator", {}).get("propertyName")
    variants = []
    for variant in schema["oneOf"]:
        variant_rows = schema_rows(document, variant, prefix, depth + 1)
        resolved = _merged(document, variant)
        label = ", ".join(resolved.get("properties", {}).get(discriminator, {}).get("enum", [])) if discriminator \
            else ""
        variants.append((label, variant_rows))
    seen = {row["name"]: row for row in rows}
    for label, variant_rows in variants:
        for row in variant_rows:
            holders = [other for other, other_rows in variants if any(r["name"] == row["name"] for r in other_rows)]
            if row["name"] in seen:
                existing = seen[row["name"]]
                for value in row["enum"]:
                    if value not in existing["enum"]:
                        existing["enum"].append(value)
                        existing["constraints"] = [c for c in existing["constraints"] if not c.startswith("one of")]
                        existing["constraints"].insert(0, "one of: " + ", ".join(
                            json.dumps(v, ensure_ascii=False) for v in existing["enum"]))
                continue
            if len(holders) < len(variants) and discriminator:
                row = {**row, "when": f"{discriminator}: {', '.join(holders)}"}
            rows.append(row)
            seen[row["name"]] = row


def _parameter(document: dict, parameter: dict) -> dict:
    parameter = _resolve(document, parameter)
    schema = _merged(document, parameter.get("schema", {}))
    return {"name": parameter["name"], "location": parameter["in"], "required": parameter.get("required", False),
            "type": type_text(schema), "constraints": constraints_text(schema),
            "description": parameter.get("description", "")}


def _response(document: dict, status: str, response: dict) -> dict:
    response = _resolve(document, response)
    content = response.get("content", {}).get("application/json", {})
    codes = response.get("x-codes", {})
    is_error = not status.startswith("2")
    return {
        "status": status,
        "description": response.get("description", "").split("\n\n")[0],
        "codes": codes,
        "fields": [] if is_error or "schema" not in content else schema_rows(document, content["schema"]),
        "headers": sorted(response.get("headers", {})),
    }


def operations(document: dict) -> list[dict]:
    """The document's operations in the order they are written, each ready for the template."""
    result = []
    for path, item in document["paths"].items():
        for method in METHODS:
            if method not in item:
                continue
            op = item[method]
            body = op.get("requestBody", {}).get("content", {}).get("application/json", {})
            result.append({
                "id": op.get("operationId", f"{method}-{path}"),
                "method": method.upper(), "path": path, "summary": op.get("summary", ""),
                "description": op.get("description", ""), "tags": op.get("tags", []),
                "signed": op.get("security", document.get("security")) != [],
                "parameters": [_parameter(document, p) for p in op.get("parameters", [])],
                "body": schema_rows(document, body["schema"]) if "schema" in body else [],
                "body_note": op.get("requestBody", {}).get("description", ""),
                "responses": [_response(document, status, response) for status, response in op["responses"].items()],
            })
    return result


def error_table(document: dict) -> list[dict]:
    rows = []
    for name, response in document["components"].get("responses", {}).items():
        if not name.startswith("Error"):
            continue
        status = name.removeprefix("Error")
        for code, messages in response.get("x-codes", {}).items():
            rows.append({"status": status, "code": code, "messages": messages})
    return rows


@merchant_view()
def api_docs(request):
    """The Open API reference: every role may read it (the keys themselves are on the owners' API keys page)."""
    document = openapi.document()
    schemes = document["components"]["securitySchemes"]
    return render(request, "merchant/api_docs/reference.html", {
        "document": document,
        "overview": document["info"]["description"],
        "schemes": [{"name": scheme["name"], "description": scheme["description"]} for scheme in schemes.values()],
        "operations": operations(document),
        "errors": error_table(document),
        "example": signing_example(),
        "max_items": settings.API_MAX_ITEMS,
        "max_body_bytes": settings.API_MAX_BODY_BYTES,
        "window_seconds": int(openapi.auth.WINDOW.total_seconds()),
    })
