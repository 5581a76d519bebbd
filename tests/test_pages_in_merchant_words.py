"""Every page of the demo, read as its owner in Chinese and in English, shows words, not internal values.

The demo is loaded, then given the states that used to leak internals: switches paused for a while and for
good, values and whole records held from the ERP, hand edits, a batch, a pause by stock edit. The crawl
follows every link of the back office from the dashboard (a few pages of each kind) and fails on any raw
pattern tests/raw_values.py knows.
"""
import re
from datetime import timedelta
from decimal import Decimal

import pytest
from django.core.management import call_command
from django.test import Client
from django.utils import timezone

from django.db import transaction

from merchant import jobs
from merchant.models import ImportJob, Membership, Merchant, Product, Role
from merchant.permissions import Actor
from merchant.services import catalog, imports, inbound, stock, switches
from merchant.services.inbound_fields import Item
from sync.models import Connection

from .import_files import csv_bytes, make_job
from .raw_values import findings

# Pages that are not the merchant's to read in their words: the Open API reference documents field names
# and codes for integrators, by nature; the rest are downloads, other people's pages or leave the session.
SKIPPED = ("/api/docs/", "/logout", "/static/", "/sandbox/", "/admin/", "/i18n/", "/api/v1/", "/orders/export/")
PAGES_PER_KIND = 3
# Terms the Chinese pages keep on purpose beside their Chinese word.
ALLOWED = {"session", "sec"}


def _held_and_paused_states(merchant):
    """What a working day leaves on the switches page: pauses, held values, held records, hand edits."""
    owner = Membership.objects.get(merchant=merchant, role=Role.OWNER).user
    actor = Actor.for_user(owner)
    erp = Actor.system(source="erp")
    products = list(Product.objects.filter(merchant=merchant, batch_managed=False).order_by("pk")[:4])
    switches.module_switch_set(merchant=merchant, module="prices", enabled=False, actor=actor,
                               until=timezone.now() + timedelta(hours=4), reason="调价")
    inbound.inbound_apply(merchant=merchant, kind="prices", actor=erp, items=[
        Item(1, {"erp_product_id": products[0].erp_product_id, "price_type": "default", "price": Decimal("31.85")})])
    switches.module_switch_set(merchant=merchant, module="listing", enabled=False, actor=actor)
    inbound.inbound_apply(merchant=merchant, kind="listing", actor=erp, items=[
        Item(1, {"erp_product_id": products[1].erp_product_id, "listed": False})])
    stock.stock_set_by_hand(product=products[2], quantity=7, actor=actor, reason="盘点", pause_sync=True,
                            until=timezone.now() + timedelta(hours=1))
    inbound.inbound_apply(merchant=merchant, kind="stock", actor=erp, items=[
        Item(1, {"erp_product_id": products[2].erp_product_id, "stock": 2539})])
    switches.sku_switch_set(products=[products[3]], kind="price", enabled=False, actor=actor)
    catalog.product_update(product=products[3], actor=actor, default_price=Decimal("50.00"))
    switches.module_switch_set(merchant=merchant, module="listing", enabled=True, actor=actor)
    _imports(merchant, owner, actor)
    return products


def _imports(merchant, owner, actor):
    """A price import waiting for confirmation, and one applied over a later hand edit (a left-out row)."""
    priced = list(Product.objects.filter(merchant=merchant).order_by("-pk")[:3])
    rows = [["erp_product_id", "price_type", "price"]] + [[p.erp_product_id, "default", "9.99"] for p in priced]
    jobs.import_validate(make_job(merchant, "prices", csv_bytes(rows[:2]), name="调价.csv", uploaded_by=owner).pk)
    applied = make_job(merchant, "prices", csv_bytes([rows[0]] + rows[2:]), name="prices.csv", uploaded_by=owner)
    jobs.import_validate(applied.pk)
    Product.objects.filter(pk=priced[1].pk).update(default_price=Decimal("77.00"))  # after the preview
    with transaction.atomic():
        imports.import_confirm(job=ImportJob.objects.get(pk=applied.pk), actor=actor)
    jobs.import_apply(applied.pk)


@pytest.fixture
def demo(settings, db, tmp_path):
    settings.DEBUG = True
    settings.MEDIA_ROOT = tmp_path
    call_command("demo_load", stdout=open("/dev/null", "w"))
    merchant = Merchant.objects.get(code="demo")
    _held_and_paused_states(merchant)
    return merchant


def _names_of(merchant) -> set[str]:
    """Words of names the merchant gave (its own name, its connections'): proper names, not our internals."""
    names = [merchant.name] + list(Connection.objects.filter(merchant=merchant).values_list("name", flat=True))
    return {word.lower() for name in names for word in re.findall(r"[A-Za-z]+", name)}


def _kind(path: str) -> str:
    return re.sub(r"\d+", "N", path.split("?")[0])


def _crawl(client: Client, *, chinese: bool, allowed: set[str]) -> tuple[set, dict]:
    seen, queue, per_kind, problems = set(), ["/"], {}, {}
    while queue:
        path = queue.pop(0)
        if path in seen or any(path.startswith(s) for s in SKIPPED) or path.endswith((".xlsx", ".csv", ".pdf")):
            continue
        kind = _kind(path)
        if per_kind.get(kind, 0) >= PAGES_PER_KIND:
            continue
        per_kind[kind] = per_kind.get(kind, 0) + 1
        seen.add(path)
        response = client.get(path)
        if response.status_code != 200 or "text/html" not in response.get("Content-Type", ""):
            continue
        page = response.content.decode()
        found = findings(page, chinese=chinese, allowed=allowed)
        if found:
            problems[path] = found[:8]
        queue.extend(href.replace("&amp;", "&") for href in re.findall(r'href="(/[^"#]*)"', page))
    return {_kind(path) for path in seen}, problems


@pytest.mark.parametrize("language", ["zh-hans", "en"])
def test_no_page_of_the_demo_shows_an_internal_value(demo, language):
    client = Client()
    client.force_login(Membership.objects.get(merchant=demo, role=Role.OWNER).user)
    client.cookies["django_language"] = language
    kinds, problems = _crawl(client, chinese=language == "zh-hans", allowed=ALLOWED | _names_of(demo))
    # The crawl reached the back office, the pages with held values and history among them.
    assert {"/", "/switches/", "/products/N/", "/orders/N/", "/customers/N/", "/connections/N/", "/team/",
            "/imports/", "/imports/N/", "/connections/N/runs/", "/connections/N/items/"} <= kinds
    assert problems == {}


def test_the_raw_patterns_are_caught():
    """The crawl can fail: each pattern it looks for is found in a page that shows it."""
    page = ("<body><p>{'erp_product_id': 'P10012'}</p><td>False→True</td><td>2026-12-02 04:34:28.430363+00:00</td>"
            "<td>WAIT_SELLER_SEND_GOODS</td><td>switch[stock]</td><p>库存 stock</p></body>")
    kinds = {f.split(":")[0] for f in findings(page, chinese=True)}
    assert kinds == {"dict or list repr", "Python constant", "UTC offset", "microseconds", "status code",
                     "field code", "English on a Chinese page"}
    assert findings("<body><p>库存已保存</p><span title='WAIT_SELLER_SEND_GOODS'>等待发货</span></body>",
                    chinese=True) == []
