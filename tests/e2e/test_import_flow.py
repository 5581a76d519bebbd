"""The import as a merchant does it: download the template, fill it in, upload, watch the check, review the
change set, download the checked workbook, apply the valid rows, read the summary."""
from decimal import Decimal

import django_rq
import openpyxl
import pytest
import rq
from django.contrib.auth.models import User

from merchant.models import AuditEntry, BaseProduct, ImportJob, Membership, Merchant, Product, Role

from .conftest import log_in_in_english

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def shop(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path / "media"
    merchant = Merchant.objects.create(code="shop", name="Shop")
    user = User.objects.create_user("shop_owner", password="secret-pass-123")
    Membership.objects.create(user=user, merchant=merchant, role=Role.OWNER)
    BaseProduct.objects.create(name="Amoxicillin", barcode="6901234567892", approval_number="H20003263",
                               spec="0.25g*24", manufacturer="North Pharma")
    Product.objects.create(merchant=merchant, erp_product_id="OLD-1", name="Old name", default_price=Decimal("3.00"),
                           stock=1, listing_state="pending_review")
    django_rq.get_queue("imports").empty()
    return merchant


def _work_off_imports_queue():
    queue = django_rq.get_queue("imports")
    rq.SimpleWorker([queue], connection=queue.connection).work(burst=True)


def test_merchant_imports_products_from_the_template(page, live_server, shop, tmp_path):
    log_in_in_english(page, live_server.url, "shop_owner", "secret-pass-123")

    page.click("nav >> text=Imports")
    with page.expect_download() as download:
        page.click("#templates >> text=Products")
    template = tmp_path / "template.xlsx"
    download.value.save_as(template)

    # Fill the template in as a spreadsheet program would: keep its header, replace the example row.
    workbook = openpyxl.load_workbook(template)
    sheet = workbook.worksheets[0]
    keys = {}
    for cell in sheet[1]:
        keys[cell.value.splitlines()[-1]] = cell.column
    sheet.delete_rows(2, sheet.max_row)
    rows = [
        {"ERP product id": "NEW-1", "Name": "Amoxicillin capsules", "Barcode": "6901234567892",
         "Approval number": "H20003263", "Spec": "0.25g*24", "Manufacturer": "North Pharma", "Default price": 12.5,
         "Stock": 30},
        {"ERP product id": "OLD-1", "Name": "New name"},
        {"ERP product id": "BAD-1", "Name": "No price"},
    ]
    for number, values in enumerate(rows, start=2):
        for label, value in values.items():
            sheet.cell(row=number, column=keys[label], value=value)
    filled = tmp_path / "products.xlsx"
    workbook.save(filled)

    page.select_option("select[name=kind]", "products")
    page.set_input_files("input[name=file]", str(filled))
    page.click("#upload button[type=submit]")
    page.wait_for_selector("#progress")
    _work_off_imports_queue()
    page.wait_for_selector("#confirm", timeout=20000)  # the page reloads itself when the check is done

    assert page.inner_text("#count-new") == "1"
    assert page.inner_text("#count-changed") == "1"
    assert page.inner_text("#count-invalid") == "1"
    rows_text = page.inner_text("#rows")
    assert "Old name" in rows_text and "New name" in rows_text
    assert "required for a new product" in rows_text

    with page.expect_download() as download:
        page.click("text=Only the invalid rows")
    checked = tmp_path / "checked.xlsx"
    download.value.save_as(checked)
    sheet = openpyxl.load_workbook(checked).worksheets[0]
    values = [[cell.value for cell in row] for row in sheet.iter_rows()]
    assert values[1][0] == "BAD-1" and "required for a new product" in values[1][-1]

    page.check("input[name=valid_only]")
    page.click("#confirm-form button[type=submit]")
    page.wait_for_selector("#progress")
    _work_off_imports_queue()
    page.wait_for_selector("#summary", timeout=20000)
    assert "2 records written, 1 invalid rows skipped" in page.inner_text("#summary")

    new = Product.objects.get(merchant=shop, erp_product_id="NEW-1")
    assert (new.stock, new.listing_state, new.base_product.name) == (30, "listed", "Amoxicillin")
    assert Product.objects.get(merchant=shop, erp_product_id="OLD-1").name == "New name"
    assert not Product.objects.filter(erp_product_id="BAD-1").exists()
    assert AuditEntry.objects.filter(merchant=shop, source="import").count() == 2
    assert ImportJob.objects.get().applied_by.username == "shop_owner"
