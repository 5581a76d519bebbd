"""docs/api.md stays what the server enforces: its field tables are the generated ones, and its order example is
an answer the schema accepts."""
import json
import re
from io import StringIO

import pytest
from django.core.management import CommandError, call_command
from openapi_schema_validator import OAS30Validator

from merchant.api.docs_tables import BEGIN, DOC_PATH, END, tables, with_tables
from merchant.api.openapi import document


def test_the_field_tables_in_docs_api_md_are_the_ones_the_schema_gives():
    text = DOC_PATH.read_text(encoding="utf-8")

    assert with_tables(text) == text, "docs/api.md is out of date: run python manage.py api_docs"


def test_a_drifted_table_is_caught_and_the_command_rewrites_it(tmp_path, monkeypatch):
    drifted = DOC_PATH.read_text(encoding="utf-8").replace("| `tracking_no` | string | yes |",
                                                           "| `tracking_number` | string | yes |")
    copy = tmp_path / "api.md"
    copy.write_text(drifted, encoding="utf-8")
    monkeypatch.setattr("merchant.management.commands.api_docs.DOC_PATH", copy)

    with pytest.raises(CommandError, match="out of date"):
        call_command("api_docs", "--check", stdout=StringIO())
    call_command("api_docs", stdout=StringIO())

    assert copy.read_text(encoding="utf-8") == DOC_PATH.read_text(encoding="utf-8")


def test_every_write_field_and_the_cursor_parameter_are_in_the_tables():
    schemas = document()["components"]["schemas"]
    generated = tables()
    for name in ("ProductsItem", "PricesItem", "BatchesItem", "ListingItem", "StockItem", "CustomerCodesItem",
                 "LogisticsItem", "ShipmentItem", "ShipmentLine", "ErpStatusItem"):
        for field in schemas[name]["properties"]:
            assert f"| `{field}` |" in generated, (name, field)
    for real in ("default_price", "carrier_code", "tracking_no", "cursor", "orders[].basic.erp_status"):
        assert f"`{real}`" in generated
    assert generated.count(BEGIN) == generated.count(END) == 0


def test_the_order_example_of_docs_api_md_is_an_answer_the_schema_accepts():
    text = DOC_PATH.read_text(encoding="utf-8")
    layout = text[text.index("### The order layout"):text.index("## Field reference")]
    example = json.loads(re.search(r"```json\n(.*?)\n```", layout, re.S).group(1))
    components = document()["components"]

    errors = [error.message for error in OAS30Validator(
        {"$ref": "#/components/schemas/OrdersPage", "components": components}).iter_errors(example)]

    assert errors == []
    assert set(example["orders"][0]) == {"order_no", "source", "basic", "amounts", "shipping", "invoice", "items"}


def test_the_stated_rate_limit_is_the_default_setting():
    from config import settings as defaults

    text = DOC_PATH.read_text(encoding="utf-8")

    assert defaults.API_RATE_WINDOW == 60
    assert f"at most {defaults.API_RATE_LIMIT} requests per key per minute" in text
