"""docs/api-client.py, the example client of docs/api.md, run against a live server so the example cannot rot."""
import importlib.util
import re
from pathlib import Path

import pytest

from merchant.api import signing
from merchant.models import Order, Product
from merchant.permissions import Actor
from merchant.services.api_credentials import api_credential_create
from merchant.views.api_docs import EXAMPLE
from tests.factories import OrderFactory, ProductFactory

DOCS = Path(__file__).resolve().parents[2] / "docs"


def _load_client():
    spec = importlib.util.spec_from_file_location("api_client", DOCS / "api-client.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


api_client = _load_client()


@pytest.fixture
def key(transactional_db, merchant_a, owner):
    credential, secret = api_credential_create(merchant=merchant_a, actor=Actor.for_user(owner), name="example")
    return credential.key, secret


@pytest.fixture
def client(live_server, key):
    return api_client.Client(live_server.url, *key)


def test_whoami(client, key):
    assert client.get("whoami") == {"merchant": "merchant-a", "key": key[0]}


def test_a_stock_batch_is_answered_per_item_and_applied(client, merchant_a, capsys):
    ProductFactory(merchant=merchant_a, erp_product_id="SKU-0001", stock=1)

    answer = client.post_batch("stock", [{"erp_product_id": "SKU-0001", "stock": 120},
                                         {"erp_product_id": "SKU-9999", "stock": 5}])
    api_client.report(answer)

    assert answer["counts"] == {"ok": 1, "held": 0, "invalid": 1}
    assert Product.objects.get(erp_product_id="SKU-0001").stock == 120
    printed = capsys.readouterr().out
    assert "SKU-0001: ok (changed)" in printed
    assert "SKU-9999: invalid items[1].erp_product_id: no product with this ERP product id" in printed


def test_a_request_error_raises_with_its_code(client):
    with pytest.raises(api_client.ApiError) as raised:
        client.get("orders", limit=0)
    assert (raised.value.status, raised.value.code) == (400, "bad_parameter")


def test_new_orders_are_taken_page_by_page_and_only_once(client, merchant_a):
    numbers = {OrderFactory(merchant=merchant_a).order_no for _ in range(5)}

    assert {order["order_no"] for order in api_client.new_orders(client, page_size=2)} == numbers
    assert Order.objects.filter(merchant=merchant_a, taken_by_erp=True).count() == 5
    assert list(api_client.new_orders(client)) == []


def test_the_script_runs_end_to_end(live_server, key, merchant_a, monkeypatch, capsys):
    ProductFactory(merchant=merchant_a, erp_product_id="SKU-0001")
    OrderFactory(merchant=merchant_a, order_no="E2E-1")
    monkeypatch.setenv("MH_URL", live_server.url)
    monkeypatch.setenv("MH_KEY", key[0])
    monkeypatch.setenv("MH_SECRET", key[1])

    api_client.main()

    printed = capsys.readouterr().out
    assert "signed in as" in printed and "counts: {'ok': 1, 'held': 0, 'invalid': 1}" in printed
    assert "E2E-1" in printed


@pytest.mark.parametrize("query", ["", "b=2&a=1", "a=2&a=1&a=10", "q=a+b&r=%2B1&s=caf%C3%A9", "z=&y", "x=~-_.*'"])
def test_the_example_signs_exactly_as_the_server_checks(query):
    from urllib.parse import parse_qsl

    mine = api_client.canonical_string("get", "/api/v1/orders", query, "1767225600", "n0nce-123", b"")
    server = signing.canonical_string(method="GET", path="/api/v1/orders",
                                      query_pairs=parse_qsl(query, keep_blank_values=True),
                                      timestamp="1767225600", nonce="n0nce-123", body=b"")
    assert mine == server


def test_the_worked_example_in_api_md_is_what_the_server_computes():
    text = (DOCS / "api.md").read_text(encoding="utf-8")
    canonical = signing.canonical_string(method=EXAMPLE["method"], path=EXAMPLE["path"], query_pairs=[],
                                         timestamp=EXAMPLE["timestamp"], nonce=EXAMPLE["nonce"], body=EXAMPLE["body"])
    assert f"```\n{canonical}\n```" in text
    assert re.search(r"X-Api-Signature: ([0-9a-f]{64})", text).group(1) == signing.signature(EXAMPLE["secret"],
                                                                                             canonical)
    assert EXAMPLE["body"].decode() in text and EXAMPLE["secret"] in text


def test_api_md_lists_every_error_code():
    from merchant.api.openapi import error_codes

    text = (DOCS / "api.md").read_text(encoding="utf-8")
    assert [code for code in error_codes() if f"`{code}`" not in text] == []
