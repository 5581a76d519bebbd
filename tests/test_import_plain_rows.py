"""What the import writes as plain rows (products, audit entries, the change set; COPY on PostgreSQL, no model
instance per row) holds every column a model instance would have written."""
from decimal import Decimal

import pytest

from merchant.models import AuditEntry, AuditSource, ListingState, Product, Role, RowAction
from merchant.pinyin import name_pinyin
from merchant.services.imports import import_actor
from merchant.spreadsheets.imports import pipeline

from .factories import BaseProductFactory
from .import_files import validated

pytestmark = pytest.mark.usefixtures("english")

HEADER = ["erp_product_id", "name", "barcode", "approval_number", "spec", "manufacturer", "default_price", "stock"]


@pytest.fixture(autouse=True)
def media_root(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path / "media"


def test_new_products_get_every_column_their_audit_entry_and_their_change_set_row(merchant_a, owner):
    base = BaseProductFactory(barcode="6901234567892", approval_number="国药准字H20000001", spec="10g",
                              manufacturer="Maker")
    job = validated(merchant_a, "products", [
        HEADER, ["P-1", "感冒灵颗粒", "6901234567892", "国药准字H20000001", "10g", "Maker", "9.5", 4],
        ["P-2", "Vitamin C", "", "", "", "", "12", 0]])
    stored = {row.row_number: row for row in job.rows.all()}
    assert {n: (r.action, r.key, r.applied, r.stale) for n, r in stored.items()} == {
        2: (RowAction.NEW, "P-1", False, {}), 3: (RowAction.NEW, "P-2", False, {})}
    assert stored[2].data["name"] == "感冒灵颗粒" and stored[2].errors == []
    # A new row's own values are in data; its changes hold only what the rules derived.
    assert stored[2].changes == {"base_product_id": ["", str(base.pk)], "listing_state": ["", "listed"]}

    actor = import_actor(owner, Role.OWNER)
    assert pipeline.apply(job, actor=actor)["applied"] == 2

    made = {p.erp_product_id: p for p in Product.objects.filter(merchant=merchant_a)}
    first = made["P-1"]
    assert (first.name, first.default_price, first.stock, first.base_product_id, first.listing_state) == (
        "感冒灵颗粒", Decimal("9.50"), 4, base.pk, ListingState.LISTED)
    assert first.name_pinyin == name_pinyin("感冒灵颗粒") == " gan mao ling ke li#gmlkl"
    assert (first.batch_managed, first.suggested_retail_price, first.unit) == (False, None, "")
    assert first.created_at is not None and first.updated_at is not None
    assert (made["P-2"].name_pinyin, made["P-2"].listing_state) == ("", ListingState.PENDING_REVIEW)

    entries = {e.entity_id: e for e in AuditEntry.objects.filter(merchant=merchant_a, entity="product")}
    assert set(entries) == {first.pk, made["P-2"].pk}
    entry = entries[first.pk]
    assert (entry.field, entry.old_value, entry.new_value) == ("created", "", "感冒灵颗粒 / 9.5 / stock 4 / listed")
    assert (entry.source, entry.actor_id) == (AuditSource.IMPORT, owner.pk)
    assert entry.reason == f"import #{job.pk} ({job.file_name})" and entry.at is not None
    assert set(job.rows.values_list("applied", flat=True)) == {True}
