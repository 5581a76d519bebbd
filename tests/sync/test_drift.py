"""Drift repair (SPEC S12, sync/pipelines/drift.py) against the sandbox marketplace over HTTP: quantities changed behind our
back and writes that silently do not stick are repaired by one stock check; a SKU lower on the marketplace while
our orders lag is left for the order pull; the CLI, the connection page and /metrics show the checks."""
import json
from decimal import Decimal
from io import StringIO

import pytest
from django.core.management import call_command
from django.utils import timezone

from merchant.models import AuditSource, Product
from merchant.permissions import Actor
from sync import stock_rules
from sync.pipelines.drift import orders_lagging
from sync.models import MarketplaceSku, StockCheck
from sync.pipelines import items_sync, push_sync, stock_check_sync
from sync.marketplaces.top.sandbox import faults as sandbox_faults
from sync.marketplaces.top.sandbox import marketplace
from sync.marketplaces.top.sandbox.models import SandboxSku
from sync.stock_rules import offered_quantities
from tests.factories import ProductFactory

from .conftest import fast_client, faults, full_pull_of_an_empty_shop

pytestmark = pytest.mark.django_db(transaction=True)
SYSTEM = Actor.system(AuditSource.ERP)


@pytest.fixture
def shelf(merchant_a, shop):
    """40 products on the shop, one SKU each, stock 20 to 59."""
    products = [ProductFactory(merchant=merchant_a, erp_product_id=f"DRIFT-{n:02d}", stock=20 + n,
                               default_price=Decimal("9.90")) for n in range(40)]
    marketplace.items_from_products(shop, [(p.erp_product_id, p.name, p.default_price, 0) for p in products])
    return products


@pytest.fixture
def mapped(top, shop, shelf):
    """The shop read and linked (the shelf and the 5 catalog products), every quantity pushed once, orders pulled
    up to now; its products, by ERP id."""
    items_sync(top, trigger="cli", client_factory=fast_client)
    push_sync(top, module="stock", trigger="cli", client_factory=fast_client)
    full_pull_of_an_empty_shop(top, shop, trigger="cli")
    products = list(Product.objects.filter(merchant=top.merchant).order_by("erp_product_id"))
    assert MarketplaceSku.objects.filter(connection=top, found=True).count() == len(products) == len(shelf) + 5
    return products


def check(connection) -> dict:
    return stock_check_sync(connection, trigger="cli", client_factory=fast_client)


def wrong_skus(connection, products) -> list[str]:
    offers = offered_quantities(connection.pk, products, products[0].merchant)
    theirs = dict(SandboxSku.objects.filter(outer_sku_id__in=[p.erp_product_id for p in products])
                  .values_list("outer_sku_id", "quantity"))
    return [p.erp_product_id for p in products if theirs[p.erp_product_id] != offers[p.pk].pushed]


def test_one_check_repairs_quantities_changed_behind_our_back_and_writes_that_did_not_stick(top, shop, mapped,
                                                                                         owner_actor):
    stock_rules.stock_rule_set(connection=top, actor=owner_actor, ratio_percent=80, maximum=45)
    # Pushed while the marketplace silently drops every write: all acknowledged, none kept.
    faults(shop, write_drop_rate=1.0)
    push_sync(top, module="stock", trigger="cli", client_factory=fast_client)
    assert len(wrong_skus(top, mapped)) == len(mapped)
    # A seller edits some quantities in the marketplace's back office, up and down.
    for n, code in enumerate(["DRIFT-03", "DRIFT-07", "ERP-1"]):
        SandboxSku.objects.filter(outer_sku_id=code).update(quantity=[500, 1, 0][n])
    # From now on 5% of writes are dropped, the check's own pushes included.
    sandbox_faults.seed(7)
    faults(shop, write_drop_rate=0.05)

    summary = check(top)

    assert summary["outcome"] == "ok"
    assert summary["compared"] == len(mapped) and summary["drifted"] == len(mapped)
    assert summary["repaired"] == len(mapped) and summary["held_back"] == 0
    assert wrong_skus(top, mapped) == []
    recorded = StockCheck.objects.get(connection=top)
    assert recorded.drifted == len(mapped) and len(recorded.examples) == 10
    assert {"erp_product_id", "theirs", "ours", "acknowledged"} <= set(recorded.examples[0])


def test_a_check_with_nothing_drifted_pushes_nothing(top, mapped):
    summary = check(top)
    assert (summary["compared"], summary["drifted"], summary["repaired"]) == (len(mapped), 0, 0)
    assert summary["calls"] == len(mapped)  # one read per item, no write


def test_a_sku_lower_on_the_marketplace_while_orders_lag_is_left_for_the_order_pull(top, mapped):
    from sync.models import Checkpoint, SyncModule

    Checkpoint.objects.filter(connection=top, module=SyncModule.ORDERS).update(position=None)
    assert orders_lagging(top, timezone.now())
    lower, higher = mapped[0], mapped[1]
    SandboxSku.objects.filter(outer_sku_id=lower.erp_product_id).update(quantity=1)  # maybe sold there already
    SandboxSku.objects.filter(outer_sku_id=higher.erp_product_id).update(quantity=999)  # lowering is always safe

    summary = check(top)

    assert summary["held_back"] == 1 and summary["drifted"] == 1 and summary["repaired"] == 1
    assert SandboxSku.objects.get(outer_sku_id=lower.erp_product_id).quantity == 1
    assert wrong_skus(top, [higher]) == []


def test_a_sku_whose_push_is_pending_is_not_counted_as_drift(top, mapped):
    from merchant.services.stock import stock_set

    stock_set(product=mapped[0], quantity=5, actor=SYSTEM)  # its stock push is now due
    summary = check(top)
    assert summary["drifted"] == 0 and summary["compared"] == len(mapped)


def test_sync_run_stock_check_prints_the_check(top, mapped):
    SandboxSku.objects.filter(outer_sku_id=mapped[5].erp_product_id).update(quantity=400)
    out = StringIO()
    call_command("sync_run", str(top.pk), "stock_check", stdout=out)
    line = json.loads(out.getvalue())
    assert line["outcome"] == "ok" and line["drifted"] == 1 and line["repaired"] == 1


def test_the_connection_page_and_metrics_show_the_checks(top, mapped, client_owner, settings, client):
    SandboxSku.objects.filter(outer_sku_id=mapped[2].erp_product_id).update(quantity=300)
    check(top)
    client_owner.defaults["HTTP_ACCEPT_LANGUAGE"] = "en"
    page = client_owner.get(top.get_absolute_url()).content.decode()
    card = page[page.index('id="stock-checks"'):]
    assert f"{mapped[2].erp_product_id}: 300 / " in card
    settings.METRICS_TOKEN = "t0ken"
    metrics = client.get("/metrics", HTTP_AUTHORIZATION="Bearer t0ken").content.decode()
    assert f'mh_stock_drift_total{{connection="{top.pk}"}} 1.0' in metrics
    assert f'mh_stock_check_last_drifted{{connection="{top.pk}"}} 1.0' in metrics


def test_a_check_stopped_by_an_expired_session_reports_the_stop(top, shop, mapped):
    faults(shop, session_expired=True)
    summary = check(top)
    assert summary["outcome"] == "stopped" and summary["compared"] == 0 and summary["repaired"] == 0
    top.refresh_from_db()
    assert top.stopped_reason
    assert items_sync(top, trigger="cli", client_factory=fast_client)["outcome"] == "stopped"
