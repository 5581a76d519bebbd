"""The field tables of docs/api.md, written from the OpenAPI document (openapi.document()), which is built from the
code the server checks requests with. `python manage.py api_docs` rewrites the marked section of docs/api.md;
tests/api/test_docs_tables.py fails when the file and the schema differ."""
from pathlib import Path

from django.conf import settings

from .openapi import document

BEGIN = "<!-- BEGIN generated field tables: python manage.py api_docs (do not edit by hand) -->"
END = "<!-- END generated field tables -->"
DOC_PATH = Path(settings.BASE_DIR) / "docs" / "api.md"

# (method, path) of each endpoint whose body takes items, with the item schema shown.
WRITES = [
    ("POST", "/api/v1/products", "ProductsItem"),
    ("POST", "/api/v1/prices", "PricesItem"),
    ("POST", "/api/v1/batches", "BatchesItem"),
    ("POST", "/api/v1/listing", "ListingItem"),
    ("POST", "/api/v1/stock", "StockItem"),
    ("POST", "/api/v1/customers", "CustomerCodesItem"),
    ("POST", "/api/v1/orders/logistics", "LogisticsItem"),
    ("POST", "/api/v1/orders/shipments", "ShipmentItem"),
    ("POST", "/api/v1/orders/erp-status", "ErpStatusItem"),
]
NESTED = {"ShipmentItem": [("lines[]", "ShipmentLine")]}


def _cell(text) -> str:
    return str(text).replace("|", "\\|").replace("\n", " ").strip()


def _value(value) -> str:
    return "null" if value is None else "true" if value is True else "false" if value is False else str(value)


def _type(schema: dict, schemas: dict) -> str:
    if "$ref" in schema:
        return f"object ({schema['$ref'].rsplit('/', 1)[1]})"
    kind = schema.get("type", "object")
    if kind == "array":
        return f"array of {_type(schema.get('items', {}), schemas)}"
    if schema.get("format"):
        kind = f"{kind} ({schema['format']})"
    return kind


def _rules(schema: dict) -> str:
    rules = []
    if "enum" in schema:
        rules.append("one of " + ", ".join(f"`{_value(v)}`" for v in schema["enum"]))
    if "minLength" in schema or "maxLength" in schema:
        rules.append(f"{schema.get('minLength', 0)}-{schema['maxLength']} characters" if "maxLength" in schema
                     else f"at least {schema['minLength']} character(s)")
    if "minimum" in schema or "maximum" in schema:
        low = schema.get("minimum")
        sign = ">" if schema.get("exclusiveMinimum") else ">="
        low_text = "" if low is None else f"{sign} {_value(low)}"
        high = schema.get("maximum")
        rules.append(", ".join(filter(None, [low_text, None if high is None else f"<= {_value(high)}"])))
    if "minItems" in schema or "maxItems" in schema:
        rules.append(f"{schema.get('minItems', 0)}-{schema.get('maxItems', 'any')} entries")
    if "pattern" in schema:
        rules.append(f"pattern `{schema['pattern']}`")
    if schema.get("nullable"):
        rules.append("null means not given")
    return "; ".join(rules)


def _required(name: str, schema: dict, field: dict) -> str:
    if name in schema.get("required", []):
        return "yes"
    if field.get("x-required-when") == "create":
        return "to create"
    return "no"


def field_table(schema: dict, schemas: dict) -> list[str]:
    lines = ["| field | type | required | rules | meaning |", "|---|---|---|---|---|"]
    for name, field in schema["properties"].items():
        title = field.get("title") if field.get("title") not in (None, name) else ""
        description = ": ".join(filter(None, [title, field.get("description", "")]))
        if "example" in field:
            description = " ".join(filter(None, [description and description.rstrip(".") + ".",
                                                 f"Example: `{_value(field['example'])}`."]))
        lines.append("| " + " | ".join(_cell(part) for part in (
            f"`{name}`", _type(field, schemas), _required(name, schema, field), _rules(field), description)) + " |")
    if "anyOf" in schema:
        options = [" + ".join(f"`{name}`" for name in option["required"]) for option in schema["anyOf"]]
        lines.append("")
        lines.append(f"Give at least one of: {', '.join(options)}.")
    return lines


def _parameters(parameters: list[dict]) -> list[str]:
    lines = ["| query parameter | type | rules | meaning |", "|---|---|---|---|"]
    for parameter in parameters:
        schema = parameter["schema"]
        rules = _rules(schema)
        if "default" in schema:
            rules = "; ".join(filter(None, [rules, f"default `{_value(schema['default'])}`"]))
        lines.append("| " + " | ".join(_cell(part) for part in (
            f"`{parameter['name']}`", _type(schema, {}), rules, parameter.get("description", ""))) + " |")
    return lines


def _layout(schema: dict, schemas: dict, prefix: str = "") -> list[str]:
    """Rows for every field of a nested answer, dotted (`basic.erp_status`, `items[].shipments[].batch_no`)."""
    rows = []
    for name, field in schema.get("properties", {}).items():
        path = f"{prefix}{name}"
        if "$ref" in field:
            field = schemas[field["$ref"].rsplit("/", 1)[1]]
        nested = field.get("items") if field.get("type") == "array" else field
        if "$ref" in (nested or {}):
            nested = schemas[nested["$ref"].rsplit("/", 1)[1]]
        if field.get("type") == "array" and (nested or {}).get("type") == "object":
            rows.append((path, "array of objects", _rules(field), field.get("description", "")))
            rows.extend(_layout(nested, schemas, f"{path}[]."))
        elif field.get("type") == "object" and "properties" in field:
            rows.append((path, "object" + (", or null" if field.get("nullable") else ""), "",
                         field.get("description", "")))
            rows.extend(_layout(field, schemas, f"{path}."))
        else:
            rows.append((path, _type(field, schemas) + (", or null" if field.get("nullable") else ""),
                         _rules({k: v for k, v in field.items() if k != "nullable"}), field.get("description", "")))
    return rows


def tables() -> str:
    """The generated section, without its markers."""
    doc = document()
    schemas = doc["components"]["schemas"]
    out = ["### Item fields of each write", "",
           "Every field is checked as this table says; a field not listed is refused (the item is invalid), so a "
           "misspelt name never goes unnoticed. Send the items as `{\"items\": [ ... ]}`.", ""]
    for method, path, name in WRITES:
        out += [f"#### `{method} {path}`: items of `{name}`", "", *field_table(schemas[name], schemas), ""]
        for field, nested in NESTED.get(name, []):
            out += [f"Each of `{field}` (`{nested}`):", "", *field_table(schemas[nested], schemas), ""]
    query = doc["paths"]["/api/v1/orders"]["get"]
    out += ["### `GET /api/v1/orders`: query parameters", "",
            "Any other query parameter is refused (`400 unknown_parameter`).", "",
            *_parameters(query["parameters"]), ""]
    out += ["### The answer of `GET /api/v1/orders` and `GET /api/v1/orders/takes/{take_id}`", "",
            "| field | type | rules | meaning |", "|---|---|---|---|"]
    out += ["| " + " | ".join(_cell(part) for part in (f"`{row[0]}`", *row[1:])) + " |"
            for row in _layout(schemas["OrdersPage"], schemas)]
    out.append("")
    return "\n".join(out)


def with_tables(text: str) -> str:
    """`text` (docs/api.md) with the marked section rewritten; raises ValueError without the markers."""
    start, end = text.find(BEGIN), text.find(END)
    if start < 0 or end < start:
        raise ValueError(f"docs/api.md has no section between {BEGIN!r} and {END!r}")
    return text[: start + len(BEGIN)] + "\n\n" + tables() + "\n" + text[end:]
