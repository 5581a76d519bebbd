"""Taking an import back as a merchant does it: apply a price file, revert it from the import's page, review what
goes back (a price edited by hand meanwhile is refused), confirm, and find both imports linked."""
from decimal import Decimal

import django_rq
import pytest
import rq
from django.contrib.auth.models import User

from merchant.models import AuditEntry, ImportJob, Membership, Merchant, Product, Role

from .conftest import log_in_in_english

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def shop(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path / "media"
    merchant = Merchant.objects.create(code="shop", name="Shop")
    user = User.objects.create_user("shop_owner", password="secret-pass-123")
    Membership.objects.create(user=user, merchant=merchant, role=Role.OWNER)
    for erp_id in ("P-1", "P-2"):
        Product.objects.create(merchant=merchant, erp_product_id=erp_id, name=erp_id, default_price=Decimal("40.00"),
                               stock=1, listing_state="listed")
    django_rq.get_queue("imports").empty()
    return merchant


def _work_off_imports_queue():
    queue = django_rq.get_queue("imports")
    rq.SimpleWorker([queue], connection=queue.connection).work(burst=True)


def test_merchant_reverts_an_applied_price_import(page, live_server, shop, tmp_path):
    log_in_in_english(page, live_server.url, "shop_owner", "secret-pass-123")
    prices = tmp_path / "prices.csv"
    prices.write_text("ERP product id,Price type,Price\nP-1,default price,32.57\nP-2,默认价,35.00\n", encoding="utf-8")
    page.click("nav >> text=Imports")
    page.select_option("select[name=kind]", "prices")
    page.set_input_files("input[name=file]", str(prices))
    page.click("#upload button[type=submit]")
    page.wait_for_selector("#progress")
    _work_off_imports_queue()
    page.wait_for_selector("#confirm", timeout=20000)
    assert page.inner_text("#count-changed") == "2"
    page.click("#confirm-form button[type=submit]")
    page.wait_for_selector("#progress")
    _work_off_imports_queue()
    page.wait_for_selector("#summary", timeout=20000)
    original = ImportJob.objects.get()

    # P-2's price is edited by hand after the import: the revert must not put it back over that edit.
    Product.objects.filter(merchant=shop, erp_product_id="P-2").update(default_price=Decimal("36.00"))
    page.click("#revert-form button[type=submit]")
    page.wait_for_selector("#reverts")
    assert f"import #{original.pk}" in page.inner_text("#reverts")
    rows = page.inner_text("#rows")
    assert "32.57" in rows and "40.00" in rows  # P-1: now 32.57, back to 40.00
    assert "changed since the import wrote 35.00: now 36.00" in rows
    assert Product.objects.get(merchant=shop, erp_product_id="P-1").default_price == Decimal("32.57")

    page.check("input[name=valid_only]")
    page.click("#confirm-form button[type=submit]")
    page.wait_for_selector("#progress")
    _work_off_imports_queue()
    page.wait_for_selector("#summary", timeout=20000)
    assert "1 records put back, 1 refused rows skipped" in page.inner_text("#summary")
    assert [p.default_price for p in Product.objects.filter(merchant=shop).order_by("erp_product_id")] == [
        Decimal("40.00"), Decimal("36.00")]
    assert AuditEntry.objects.filter(merchant=shop, source="revert", field="default_price").count() == 1

    page.click(f"#reverts >> text=import #{original.pk}")
    page.wait_for_selector("#reverted-by")
    assert "Reverted by" in page.inner_text("#reverted-by")
    assert page.locator("#revert-form").count() == 0  # reverted once
