"""The import rules (SPEC M4-M9) through the pipeline: validate a file into a change set, then apply it."""
from datetime import timedelta
from decimal import Decimal

import pytest
from django.utils import timezone

from merchant.models import (
    AuditEntry, AuditSource, Batch, ErpCustomerCode, GroupPrice, ImportStatus, ListingState, Product, Role,
    RowAction, SkuSwitch,
)
from merchant.services.bulk.products import ProductsPlan
from merchant.services.imports import import_actor
from merchant.spreadsheets.imports import pipeline

from .factories import (
    BaseProductFactory, BatchFactory, CustomerFactory, CustomerGroupFactory, ErpCustomerCodeFactory,
    ModuleSwitchFactory, OrderFactory, ProductFactory, RegionGroupFactory, SkuSwitchFactory,
)
from .import_files import actions, row_errors, template_header, validated

pytestmark = pytest.mark.usefixtures("english")

HEADER = ["erp_product_id", "name", "barcode", "approval_number", "spec", "manufacturer", "default_price", "stock"]


@pytest.fixture(autouse=True)
def media_root(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path / "media"


@pytest.fixture
def import_by(owner):
    return import_actor(owner, Role.OWNER)


def apply(job, actor, **options):
    result = pipeline.apply(job, actor=actor, **options)
    job.refresh_from_db()
    return result


def products(merchant):
    return {p.erp_product_id: p for p in Product.objects.filter(merchant=merchant)}


# --- products: key, required values, blanks ---------------------------------------------------------------

def test_new_products_are_created_and_a_reimport_updates_them_by_erp_product_id(merchant_a, import_by):
    job = validated(merchant_a, "products", [HEADER, ["P-1", "Aspirin", "", "", "", "", 9.5, 4],
                                             ["P-2", "Ibuprofen", "", "", "", "", "12", 0]])
    assert (job.status, job.new_count, job.changed_count, job.invalid_count) == (ImportStatus.PREVIEW, 2, 0, 0)
    assert apply(job, import_by)["applied"] == 2
    created = products(merchant_a)
    assert (created["P-1"].name, created["P-1"].default_price, created["P-1"].stock) == ("Aspirin", Decimal("9.50"), 4)

    again = validated(merchant_a, "products", [HEADER, ["P-1", "Aspirin 100mg", "", "", "", "", 9.5, 4],
                                               ["P-2", "Ibuprofen", "", "", "", "", "12", 0]])
    assert (again.new_count, again.changed_count, again.unchanged_count) == (0, 1, 1)
    assert again.rows.get(row_number=2).changes["name"] == ["Aspirin", "Aspirin 100mg"]
    apply(again, import_by)
    assert Product.objects.filter(merchant=merchant_a).count() == 2
    assert Product.objects.get(pk=created["P-1"].pk).name == "Aspirin 100mg"


def test_default_price_is_required_for_a_new_product_but_not_for_an_update(merchant_a, import_by):
    ProductFactory(merchant=merchant_a, erp_product_id="OLD", default_price=Decimal("5.00"))
    job = validated(merchant_a, "products", [HEADER, ["NEW", "No price", "", "", "", "", "", 3],
                                             ["OLD", "Renamed", "", "", "", "", "", ""]])

    assert row_errors(job) == {2: {"default_price": "required for a new product"}}
    assert actions(job) == {2: RowAction.INVALID, 3: RowAction.CHANGED}
    apply(job, import_by, valid_only=True)
    old = Product.objects.get(erp_product_id="OLD")
    assert (old.name, old.default_price) == ("Renamed", Decimal("5.00"))
    assert not Product.objects.filter(erp_product_id="NEW").exists()


def test_a_new_product_without_a_name_is_invalid(merchant_a):
    job = validated(merchant_a, "products", [HEADER, ["NEW", "", "", "", "", "", 3, 3]])
    assert row_errors(job) == {2: {"name": "required for a new product"}}


def test_blank_stock_means_zero_for_a_new_product(merchant_a, import_by):
    job = validated(merchant_a, "products", [HEADER, ["P-1", "Aspirin", "", "", "", "", 9.5, None]])
    apply(job, import_by)
    assert Product.objects.get(erp_product_id="P-1").stock == 0


def test_reimport_leaves_blank_cells_unchanged(merchant_a, import_by):
    product = ProductFactory(merchant=merchant_a, erp_product_id="P-1", name="Aspirin", barcode="6900000000001",
                             spec="10mg", default_price=Decimal("9.90"), stock=7)
    job = validated(merchant_a, "products", [HEADER, ["P-1", None, "", None, "", None, None, 8]])
    assert job.rows.get().changes == {"stock": ["7", "8"]}
    apply(job, import_by)
    product.refresh_from_db()
    assert (product.name, product.barcode, product.spec, product.default_price, product.stock) == (
        "Aspirin", "6900000000001", "10mg", Decimal("9.90"), 8)


def test_a_row_that_changes_nothing_is_counted_unchanged_and_writes_nothing(merchant_a, import_by):
    product = ProductFactory(merchant=merchant_a, erp_product_id="P-1", name="Aspirin", stock=7)
    job = validated(merchant_a, "products", [HEADER, ["P-1", "Aspirin", None, None, None, None, "12.50", 7]])
    assert (job.unchanged_count, job.changed_count, job.rows.count()) == (1, 0, 0)
    product.refresh_from_db()
    assert product.stock == 7


def test_negative_stock_and_bad_prices_are_invalid_with_their_column(merchant_a):
    job = validated(merchant_a, "products", [HEADER, ["A", "x", "", "", "", "", 0, 1],
                                             ["B", "x", "", "", "", "", "1.234", 1],
                                             ["C", "x", "", "", "", "", 2, -1],
                                             ["D", "x", "", "", "", "", "abc", 1]])
    errors = row_errors(job)
    assert errors[2] == {"default_price": "A price must be greater than 0."}
    assert errors[3] == {"default_price": "A price has at most 2 decimal places."}
    assert errors[4] == {"stock": "stock cannot be negative"}
    assert errors[5] == {"default_price": "not a number"}


# --- base-product matching and the listing rule ---------------------------------------------------------

def _matching_row(erp_id, base, stock=5, **overrides):
    values = {"barcode": base.barcode, "approval_number": base.approval_number, "spec": base.spec,
              "manufacturer": base.manufacturer, **overrides}
    return [erp_id, "Name", values["barcode"], values["approval_number"], values["spec"], values["manufacturer"],
            10, stock]


def test_exact_match_on_barcode_approval_spec_manufacturer_links_the_base_product(merchant_a, import_by):
    base = BaseProductFactory()
    job = validated(merchant_a, "products", [HEADER, _matching_row("P-1", base)])
    apply(job, import_by)
    product = Product.objects.get(erp_product_id="P-1")
    assert (product.base_product_id, product.listing_state) == (base.pk, ListingState.LISTED)


@pytest.mark.parametrize("field", ["barcode", "approval_number", "spec", "manufacturer"])
def test_a_match_on_three_fields_only_leaves_the_product_pending_review(merchant_a, import_by, field):
    base = BaseProductFactory()
    job = validated(merchant_a, "products", [HEADER, _matching_row("P-1", base, **{field: "something else"})])
    apply(job, import_by)
    product = Product.objects.get(erp_product_id="P-1")
    assert (product.base_product_id, product.listing_state) == (None, ListingState.PENDING_REVIEW)


def test_an_explicit_base_product_id_wins_over_the_attribute_match(merchant_a, import_by):
    by_attributes, explicit = BaseProductFactory(), BaseProductFactory()
    header = [*HEADER, "base_product_id"]
    job = validated(merchant_a, "products", [header, [*_matching_row("P-1", by_attributes), explicit.pk]])
    apply(job, import_by)
    assert Product.objects.get(erp_product_id="P-1").base_product_id == explicit.pk


def test_an_unknown_base_product_id_is_invalid(merchant_a):
    job = validated(merchant_a, "products", [[*HEADER, "base_product_id"], ["P-1", "x", "", "", "", "", 1, 1, 999999]])
    assert row_errors(job) == {2: {"base_product_id": "no base product with this id"}}


def test_listing_rule_matched_with_stock_is_listed_with_zero_stock_ready(merchant_a, import_by):
    base_1, base_2 = BaseProductFactory(), BaseProductFactory()
    job = validated(merchant_a, "products", [HEADER, _matching_row("WITH", base_1, stock=3),
                                             _matching_row("WITHOUT", base_2, stock=0)])
    apply(job, import_by)
    found = products(merchant_a)
    assert found["WITH"].listing_state == ListingState.LISTED
    assert found["WITHOUT"].listing_state == ListingState.READY


def test_reimport_with_zero_stock_takes_a_listed_product_off_sale_and_stock_lists_it_again(merchant_a, import_by):
    product = ProductFactory(merchant=merchant_a, erp_product_id="P-1", stock=5)
    apply(validated(merchant_a, "products", [["erp_product_id", "stock"], ["P-1", 0]]), import_by)
    product.refresh_from_db()
    assert product.listing_state == ListingState.READY
    apply(validated(merchant_a, "products", [["erp_product_id", "stock"], ["P-1", 2]]), import_by)
    product.refresh_from_db()
    assert product.listing_state == ListingState.LISTED


def test_reimport_keeps_a_delisted_product_delisted(merchant_a, import_by):
    product = ProductFactory(merchant=merchant_a, erp_product_id="P-1", stock=5,
                             listing_state=ListingState.DELISTED)
    apply(validated(merchant_a, "products", [["erp_product_id", "stock", "name"], ["P-1", 50, "New name"]]),
          import_by)
    product.refresh_from_db()
    assert (product.stock, product.name, product.listing_state) == (50, "New name", ListingState.DELISTED)


# --- prices ------------------------------------------------------------------------------------------------

PRICE_HEADER = ["erp_product_id", "price_type", "group_code", "price"]


def test_prices_resolve_each_kind_and_groups_by_code(merchant_a, import_by):
    product = ProductFactory(merchant=merchant_a, erp_product_id="P-1", default_price=Decimal("10.00"))
    region, group = RegionGroupFactory(code="south"), CustomerGroupFactory(code="chain")
    job = validated(merchant_a, "prices", [PRICE_HEADER, ["P-1", "default", "", 9.9],
                                           ["P-1", "suggested_retail", "", "15"],
                                           ["P-1", "region_group", "south", 9.5],
                                           ["P-1", "customer_group", "chain", "¥8.80"]])
    assert (job.new_count, job.changed_count, job.invalid_count) == (2, 2, 0)
    apply(job, import_by)
    product.refresh_from_db()
    assert (product.default_price, product.suggested_retail_price) == (Decimal("9.90"), Decimal("15.00"))
    assert GroupPrice.objects.get(product=product, region_group=region).price == Decimal("9.50")
    assert GroupPrice.objects.get(product=product, customer_group=group).price == Decimal("8.80")


def test_prices_take_the_words_and_group_names_the_template_offers(merchant_a, import_by):
    product = ProductFactory(merchant=merchant_a, erp_product_id="P-1", default_price=Decimal("10.00"))
    region, group = RegionGroupFactory(code="chuanyu", name="川渝"), CustomerGroupFactory(code="chain", name="连锁药店")
    job = validated(merchant_a, "prices", [PRICE_HEADER, ["P-1", "默认价", "", 9.9],
                                           ["P-1", "Suggested retail price", "", "15"],
                                           ["P-1", "区域组价", "川渝", 9.5],
                                           ["P-1", "customer group price", "连锁药店", 8.8]])
    assert (job.new_count, job.changed_count, job.invalid_count) == (2, 2, 0)
    apply(job, import_by)
    product.refresh_from_db()
    assert (product.default_price, product.suggested_retail_price) == (Decimal("9.90"), Decimal("15.00"))
    assert GroupPrice.objects.get(product=product, region_group=region).price == Decimal("9.50")
    assert GroupPrice.objects.get(product=product, customer_group=group).price == Decimal("8.80")


def test_a_reimported_group_price_updates_the_existing_one(merchant_a, import_by):
    product = ProductFactory(merchant=merchant_a, erp_product_id="P-1")
    region = RegionGroupFactory(code="south")
    GroupPrice.objects.create(product=product, region_group=region, price=Decimal("11.00"))
    job = validated(merchant_a, "prices", [PRICE_HEADER, ["P-1", "区域组价", "south", 10]])
    assert job.rows.get().changes == {"price[south]": ["11.00", "10.00"]}
    apply(job, import_by)
    assert GroupPrice.objects.get(product=product).price == Decimal("10.00")


def test_price_rows_with_an_unknown_group_code_type_or_product_are_invalid(merchant_a):
    ProductFactory(merchant=merchant_a, erp_product_id="P-1")
    RegionGroupFactory(code="south")
    job = validated(merchant_a, "prices", [PRICE_HEADER, ["P-1", "region_group", "north", 9],
                                           ["P-1", "customer_group", "", 9],
                                           ["P-1", "wholesale", "", 9],
                                           ["NOPE", "default", "", 9]])
    errors = row_errors(job)
    assert errors[2] == {"group_code": "no group with this code"}
    assert errors[3] == {"group_code": "required for a group price"}
    assert list(errors[4]) == ["price_type"] and "not one of" in errors[4]["price_type"]
    assert errors[5] == {"erp_product_id": "no product with this ERP product id"}


# --- batches -----------------------------------------------------------------------------------------------

BATCH_HEADER = ["erp_product_id", "batch_no", "production_date", "expiry_date", "quantity"]


def test_batches_fully_replace_the_on_sale_batches_and_set_stock(merchant_a, import_by):
    product = ProductFactory(merchant=merchant_a, erp_product_id="P-1", stock=99, batch_managed=False)
    today = timezone.localdate()
    stale = BatchFactory(product=product, batch_no="STALE", quantity=30)
    expired = BatchFactory(product=product, batch_no="EXPIRED", quantity=5, production_date=today - timedelta(400),
                           expiry_date=today - timedelta(1))
    kept = BatchFactory(product=product, batch_no="KEPT", quantity=10)
    job = validated(merchant_a, "batches", [BATCH_HEADER,
                                            ["P-1", "KEPT", "2026-01-01", "2030-01-01", 12],
                                            ["P-1", "NEW", "2026-02-01", "2030-02-01", 20]])
    assert any("1 on-sale batch that the file does not name will be removed" in w for w in job.warnings)
    apply(job, import_by)

    product.refresh_from_db()
    assert set(product.batches.values_list("batch_no", flat=True)) == {"KEPT", "NEW", "EXPIRED"}
    assert not Batch.objects.filter(pk=stale.pk).exists()
    assert Batch.objects.get(pk=kept.pk).quantity == 12
    assert Batch.objects.get(pk=expired.pk).quantity == 5  # not on sale: not part of the replace
    assert (product.batch_managed, product.stock) == (True, 32)


def test_a_batch_reimport_keeps_the_batches_that_did_not_change(merchant_a, import_by):
    product = ProductFactory(merchant=merchant_a, erp_product_id="P-1")
    rows = [BATCH_HEADER, ["P-1", "B1", "2026-01-01", "2030-01-01", 12]]
    apply(validated(merchant_a, "batches", rows), import_by)

    job = validated(merchant_a, "batches", [*rows, ["P-1", "B2", "2026-02-01", "2030-02-01", 8]])
    assert (job.new_count, job.unchanged_count) == (1, 1)
    apply(job, import_by)

    product.refresh_from_db()
    assert sorted(product.batches.values_list("batch_no", "quantity")) == [("B1", 12), ("B2", 8)]
    assert product.stock == 20


def test_expired_and_zero_quantity_batches_do_not_count_towards_stock(merchant_a, import_by):
    product = ProductFactory(merchant=merchant_a, erp_product_id="P-1", stock=50)
    today = timezone.localdate()
    apply(validated(merchant_a, "batches", [
        BATCH_HEADER, ["P-1", "OLD", today - timedelta(500), today - timedelta(1), 40],
        ["P-1", "EMPTY", "2026-01-01", "2030-01-01", 0], ["P-1", "GOOD", "2026-01-01", "2030-01-01", 3],
    ]), import_by)
    product.refresh_from_db()
    assert (product.stock, product.listing_state) == (3, ListingState.LISTED)


def test_batch_rows_with_expiry_before_production_or_unknown_product_are_invalid(merchant_a):
    ProductFactory(merchant=merchant_a, erp_product_id="P-1")
    job = validated(merchant_a, "batches", [BATCH_HEADER, ["P-1", "B1", "2026-03-01", "2026-03-01", 1],
                                            ["NOPE", "B2", "2026-01-01", "2030-01-01", 1],
                                            ["P-1", "B3", "2026-01-01", "2030-01-01", -1]])
    errors = row_errors(job)
    assert errors[2] == {"expiry_date": "the expiry date must be after the production date"}
    assert errors[3] == {"erp_product_id": "no product with this ERP product id"}
    assert errors[4] == {"quantity": "quantity cannot be negative"}


def test_apply_valid_only_leaves_a_product_with_an_invalid_batch_row_alone(merchant_a, import_by):
    product = ProductFactory(merchant=merchant_a, erp_product_id="P-1")
    other = ProductFactory(merchant=merchant_a, erp_product_id="P-2")
    old = BatchFactory(product=product, batch_no="OLD")
    job = validated(merchant_a, "batches", [BATCH_HEADER, ["P-1", "B1", "2026-01-01", "2030-01-01", 5],
                                            ["P-1", "B2", "2026-01-01", "bad date", 5],
                                            ["P-2", "B3", "2026-01-01", "2030-01-01", 7]])
    result = apply(job, import_by, valid_only=True)
    assert result["skipped"] == 2
    assert list(product.batches.values_list("batch_no", flat=True)) == [old.batch_no]
    assert list(other.batches.values_list("batch_no", flat=True)) == ["B3"]


# --- stock ---------------------------------------------------------------------------------------------------

def test_stock_import_sets_stock_and_refuses_batch_managed_products_with_the_reason(merchant_a, import_by):
    plain = ProductFactory(merchant=merchant_a, erp_product_id="PLAIN", stock=5)
    managed = ProductFactory(merchant=merchant_a, erp_product_id="MANAGED", stock=5, batch_managed=True)
    job = validated(merchant_a, "stock", [["erp_product_id", "stock"], ["PLAIN", 0], ["MANAGED", 9],
                                          ["GHOST", 1]])
    errors = row_errors(job)
    assert "batch-managed" in errors[3]["stock"]
    assert errors[4] == {"erp_product_id": "no product with this ERP product id"}
    apply(job, import_by, valid_only=True)
    plain.refresh_from_db()
    managed.refresh_from_db()
    assert (plain.stock, plain.listing_state) == (0, ListingState.READY)
    assert managed.stock == 5


def test_stock_import_follows_the_listing_rule(merchant_a, import_by):
    ProductFactory(merchant=merchant_a, erp_product_id="LISTED", stock=5)
    ProductFactory(merchant=merchant_a, erp_product_id="READY", ready=True)
    ProductFactory(merchant=merchant_a, erp_product_id="DELISTED", listing_state=ListingState.DELISTED)
    ProductFactory(merchant=merchant_a, erp_product_id="PENDING", pending=True)
    job = validated(merchant_a, "stock", [["erp_product_id", "stock"], ["LISTED", 0], ["READY", 4],
                                          ["DELISTED", 9], ["PENDING", 9]])
    assert job.rows.get(row_number=3).changes == {"stock": ["0", "4"], "listing_state": ["ready", "listed"]}
    apply(job, import_by)
    states = {p.erp_product_id: p.listing_state for p in Product.objects.filter(merchant=merchant_a)}
    assert states == {"LISTED": ListingState.READY, "READY": ListingState.LISTED,
                      "DELISTED": ListingState.DELISTED, "PENDING": ListingState.PENDING_REVIEW}


def test_stock_import_requires_the_stock_value(merchant_a):
    ProductFactory(merchant=merchant_a, erp_product_id="P-1")
    job = validated(merchant_a, "stock", [["erp_product_id", "stock", "note"], ["P-1", None, "recount"]])
    assert row_errors(job) == {2: {"stock": "required"}}


# --- customer codes --------------------------------------------------------------------------------------------

CODE_HEADER = ["uscc", "platform_customer_id", "erp_customer_code"]


def test_customer_codes_match_by_uscc_or_platform_customer_id(merchant_a, import_by):
    by_uscc, by_id = CustomerFactory(), CustomerFactory()
    OrderFactory(merchant=merchant_a, customer=by_id, items=0)  # an id names only a customer the merchant has
    existing = CustomerFactory()
    ErpCustomerCodeFactory(merchant=merchant_a, customer=existing, code="OLD")
    job = validated(merchant_a, "customer_codes", [CODE_HEADER, [by_uscc.uscc.lower(), None, "C-1"],
                                                   [None, by_id.pk, "C-2"], [existing.uscc, None, "C-3"]])
    assert (job.new_count, job.changed_count, job.invalid_count) == (2, 1, 0)
    apply(job, import_by)
    codes = dict(ErpCustomerCode.objects.filter(merchant=merchant_a).values_list("customer_id", "code"))
    assert codes == {by_uscc.pk: "C-1", by_id.pk: "C-2", existing.pk: "C-3"}


def test_a_customer_code_used_by_another_customer_is_refused(merchant_a, merchant_b, import_by):
    holder, other = CustomerFactory(name="Holder Pharmacy"), CustomerFactory()
    ErpCustomerCodeFactory(merchant=merchant_a, customer=holder, code="TAKEN")
    ErpCustomerCodeFactory(merchant=merchant_b, customer=other, code="B-ONLY")
    job = validated(merchant_a, "customer_codes", [CODE_HEADER, [other.uscc, None, "TAKEN"],
                                                   [None, None, "X"]])
    errors = row_errors(job)
    assert errors[2] == {"erp_customer_code": "already used for Holder Pharmacy"}
    assert errors[3] == {"uscc": "give the USCC or the platform customer id"}

    # Another merchant's code is no obstacle.
    job = validated(merchant_a, "customer_codes", [CODE_HEADER, [other.uscc, None, "B-ONLY"]])
    assert job.invalid_count == 0 and job.new_count == 1


def test_customer_code_rows_naming_unknown_or_different_customers_are_invalid(merchant_a):
    one, two = CustomerFactory(), CustomerFactory()
    OrderFactory(merchant=merchant_a, customer=two, items=0)
    job = validated(merchant_a, "customer_codes", [CODE_HEADER, ["91350100MA00000000", None, "C-1"],
                                                   [one.uscc, two.pk, "C-2"], [None, 999999, "C-3"]])
    errors = row_errors(job)
    assert errors[2] == {"uscc": "no platform customer with this USCC"}
    assert errors[3] == {"platform_customer_id": "the USCC and the platform customer id name different customers"}
    assert errors[4] == {"platform_customer_id": "no customer with this id among your customers"}


def test_a_platform_customer_id_names_only_customers_the_merchant_deals_with(merchant_a, merchant_b, import_by):
    """Another merchant's customers are refused by id in the words used for an id that does not exist, and the
    preview names each row by what it holds, never by the customer's USCC or name."""
    theirs, coded_by_them = CustomerFactory(name="B Only"), CustomerFactory(name="B Coded")
    OrderFactory(merchant=merchant_b, customer=theirs, items=0)
    ErpCustomerCodeFactory(merchant=merchant_b, customer=coded_by_them, code="B-1")
    ours = CustomerFactory()
    OrderFactory(merchant=merchant_a, customer=ours, items=0)
    job = validated(merchant_a, "customer_codes", [
        CODE_HEADER, [None, theirs.pk, "C-1"], [None, coded_by_them.pk, "C-2"], [None, 999999, "C-3"],
        [None, ours.pk, "C-4"], [theirs.uscc, theirs.pk, "C-5"]])

    refused = {"platform_customer_id": "no customer with this id among your customers"}
    assert row_errors(job) == {2: refused, 3: refused, 4: refused}
    assert dict(job.rows.values_list("row_number", "key")) == {
        2: str(theirs.pk), 3: str(coded_by_them.pk), 4: "999999", 5: str(ours.pk), 6: theirs.uscc}
    stored = " ".join(str([row.key, row.data, row.changes, row.errors]) for row in job.rows.all())
    assert coded_by_them.uscc not in stored and "B Only" not in stored and "B Coded" not in stored
    apply(job, import_by, valid_only=True)
    assert dict(ErpCustomerCode.objects.filter(merchant=merchant_a).values_list("customer_id", "code")) == {
        ours.pk: "C-4", theirs.pk: "C-5"}  # by its USCC, which the merchant knew, the customer can be linked


# --- headers -----------------------------------------------------------------------------------------------

@pytest.mark.parametrize("header", [
    ["stock", "erp_product_id"],
    ["库存", "ERP商品编码"],
    ["Stock", "ERP product id"],
    ["库存\nStock", "ERP商品编码\nERP product id"],
    ["*库存 Stock", " erp product id "],
], ids=["keys", "chinese", "english", "two-line", "mixed"])
def test_headers_are_recognised_by_key_or_label_in_any_order(merchant_a, import_by, header):
    product = ProductFactory(merchant=merchant_a, erp_product_id="P-1", stock=1)
    job = validated(merchant_a, "stock", [header, [7, "P-1"]])
    assert (job.status, job.changed_count, job.warnings) == (ImportStatus.PREVIEW, 1, [])
    apply(job, import_by)
    product.refresh_from_db()
    assert product.stock == 7


def test_the_templates_two_line_header_is_recognised_for_every_column(merchant_a):
    for kind in ("products", "prices", "batches", "stock", "customer_codes"):
        job = validated(merchant_a, kind, [template_header(kind)])
        assert job.status == ImportStatus.PREVIEW, (kind, job.error)
        assert len(job.columns) == len(template_header(kind)), kind


def test_unknown_columns_are_ignored_with_a_warning(merchant_a, import_by):
    product = ProductFactory(merchant=merchant_a, erp_product_id="P-1", stock=1)
    job = validated(merchant_a, "stock", [["remarks", "erp_product_id", "stock", "warehouse"],
                                          ["hello", "P-1", 4, "north"]])
    assert job.warnings == ["Columns not recognised, ignored: remarks, warehouse."]
    apply(job, import_by)
    product.refresh_from_db()
    assert product.stock == 4


def test_a_header_without_a_required_column_fails_with_the_column_named(merchant_a):
    job = validated(merchant_a, "stock", [["erp_product_id", "quantity"], ["P-1", 4]])
    assert job.status == ImportStatus.FAILED
    assert "lacks required columns: 库存 / Stock (stock)" in job.error


# --- apply: one transaction, valid rows only, record and audit ------------------------------------------------

def test_apply_is_one_transaction_a_failure_in_a_later_chunk_writes_nothing(merchant_a, import_by, monkeypatch):
    monkeypatch.setattr(pipeline, "CHUNK", 2)
    existing = ProductFactory(merchant=merchant_a, erp_product_id="P-0", stock=1)
    rows = [HEADER, ["P-0", "", "", "", "", "", "", 2]] + [[f"P-{i}", "x", "", "", "", "", 1, 1] for i in range(1, 6)]
    job = validated(merchant_a, "products", rows)
    assert (job.new_count, job.changed_count) == (5, 1)
    calls = []
    original = ProductsPlan.apply

    def apply_then_fail(self, outcomes, actor, reason=""):
        calls.append(len(outcomes))
        if len(calls) == 2:
            raise RuntimeError("disk full")
        return original(self, outcomes, actor, reason)

    monkeypatch.setattr(ProductsPlan, "apply", apply_then_fail)
    with pytest.raises(RuntimeError):
        pipeline.apply(job, actor=import_by)

    assert calls == [2, 2]  # the first chunk was written before the failure, and rolled back
    assert list(Product.objects.filter(merchant=merchant_a).values_list("erp_product_id", "stock")) == [("P-0", 1)]
    assert not AuditEntry.objects.exists()
    existing.refresh_from_db()
    assert existing.stock == 1


def test_apply_without_valid_only_refuses_a_change_set_with_invalid_rows(merchant_a, import_by):
    job = validated(merchant_a, "products", [HEADER, ["P-1", "Good", "", "", "", "", 1, 1],
                                             ["P-2", "No price", "", "", "", "", "", 1]])
    assert (job.new_count, job.invalid_count) == (1, 1)
    with pytest.raises(pipeline.InvalidRows):
        pipeline.apply(job, actor=import_by)
    assert not Product.objects.exists()

    result = apply(job, import_by, valid_only=True)
    assert result == {"applied": 1, "skipped": 1, "paused": 0, "stale": 0}
    assert list(Product.objects.values_list("erp_product_id", flat=True)) == ["P-1"]


def test_each_change_is_audited_with_source_import_and_the_confirming_user(merchant_a, owner, import_by):
    product = ProductFactory(merchant=merchant_a, erp_product_id="P-1", stock=5)
    job = validated(merchant_a, "products", [HEADER, ["P-1", "", "", "", "", "", "", 6],
                                             ["P-2", "New", "", "", "", "", 3, 0]], name="monday.xlsx")
    apply(job, import_by)
    new = Product.objects.get(erp_product_id="P-2")
    entries = AuditEntry.objects.filter(merchant=merchant_a)
    assert {(e.entity_id, e.field) for e in entries} == {(product.pk, "stock"), (new.pk, "created")}
    assert {(e.source, e.actor_id) for e in entries} == {(AuditSource.IMPORT, owner.pk)}
    stock = entries.get(field="stock")
    assert (stock.old_value, stock.new_value) == ("5", "6")
    assert stock.reason == f"import #{job.pk} (monday.xlsx)"


def test_a_stale_change_set_writes_nothing(merchant_a, import_by, monkeypatch):
    monkeypatch.setattr(pipeline, "CHUNK", 1)
    first = ProductFactory(merchant=merchant_a, erp_product_id="P-1", stock=1)
    doomed = ProductFactory(merchant=merchant_a, erp_product_id="P-2", stock=1)
    job = validated(merchant_a, "stock", [["erp_product_id", "stock"], ["P-1", 10], ["P-2", 20]])
    assert job.changed_count == 2
    doomed.delete()

    with pytest.raises(pipeline.StaleChangeSet) as raised:
        pipeline.apply(job, actor=import_by)

    [outcome] = raised.value.args[0]
    assert (outcome.ref, outcome.errors) == (3, {"erp_product_id": "no product with this ERP product id"})
    first.refresh_from_db()
    assert first.stock == 1
    assert not AuditEntry.objects.exists()


def test_a_product_made_batch_managed_since_the_check_is_stale_for_a_stock_import(merchant_a, import_by):
    product = ProductFactory(merchant=merchant_a, erp_product_id="P-1", stock=1)
    job = validated(merchant_a, "stock", [["erp_product_id", "stock"], ["P-1", 10]])
    Product.objects.filter(pk=product.pk).update(batch_managed=True)
    with pytest.raises(pipeline.StaleChangeSet):
        pipeline.apply(job, actor=import_by)
    product.refresh_from_db()
    assert product.stock == 1


# --- auto-sync switches --------------------------------------------------------------------------------------

def test_preview_counts_skus_whose_auto_sync_is_on_and_not_those_already_paused(merchant_a):
    ProductFactory(merchant=merchant_a, erp_product_id="ON", stock=1)
    paused = ProductFactory(merchant=merchant_a, erp_product_id="PAUSED", stock=1)
    SkuSwitchFactory(product=paused, kind="stock", enabled=False)
    lapsed = ProductFactory(merchant=merchant_a, erp_product_id="LAPSED", stock=1)
    SkuSwitchFactory(product=lapsed, kind="stock", enabled=False, paused_until=timezone.now() - timedelta(hours=1))
    ProductFactory(merchant=merchant_a, erp_product_id="SAME", stock=1)
    job = validated(merchant_a, "products", [["erp_product_id", "stock", "default_price"], ["ON", 5, ""],
                                             ["PAUSED", 5, ""], ["LAPSED", 5, 99], ["SAME", 1, ""]])
    # ON and LAPSED (a pause that has run out counts as on) change stock; PAUSED is paused, SAME unchanged.
    assert job.sync_on == {"stock": 2, "price": 1}


def test_preview_counts_nothing_when_the_merchants_stock_module_sync_is_off(merchant_a):
    ProductFactory(merchant=merchant_a, erp_product_id="P-1", stock=1)
    ModuleSwitchFactory(merchant=merchant_a, module="stock", enabled=False)
    job = validated(merchant_a, "stock", [["erp_product_id", "stock"], ["P-1", 5]])
    assert job.sync_on == {"stock": 0}


def test_apply_with_pause_kinds_pauses_the_changed_skus_until_the_given_time(merchant_a, import_by, owner):
    changed = ProductFactory(merchant=merchant_a, erp_product_id="P-1", stock=1)
    unchanged = ProductFactory(merchant=merchant_a, erp_product_id="P-2", stock=1)
    already = ProductFactory(merchant=merchant_a, erp_product_id="P-3", stock=1)
    earlier = timezone.now() + timedelta(days=3)
    SkuSwitchFactory(product=already, kind="stock", enabled=False, paused_until=earlier)
    job = validated(merchant_a, "stock", [["erp_product_id", "stock"], ["P-1", 5], ["P-2", 1], ["P-3", 5]])
    assert job.sync_on == {"stock": 1}
    until = timezone.now() + timedelta(hours=4)

    result = apply(job, import_by, pause_kinds=["stock"], pause_until=until)

    assert result == {"applied": 2, "skipped": 0, "paused": 1, "stale": 0}
    switch = SkuSwitch.objects.get(product=changed, kind="stock")
    assert (switch.enabled, switch.paused_until, switch.changed_by_id) == (False, until, owner.pk)
    assert not SkuSwitch.objects.filter(product=unchanged).exists()
    assert SkuSwitch.objects.get(product=already).paused_until == earlier
    assert AuditEntry.objects.filter(entity_id=changed.pk, field="switch[stock]", source=AuditSource.IMPORT).exists()


def test_a_pause_is_rolled_back_with_the_import_when_apply_fails(merchant_a, import_by, monkeypatch):
    product = ProductFactory(merchant=merchant_a, erp_product_id="P-1", stock=1)
    job = validated(merchant_a, "stock", [["erp_product_id", "stock"], ["P-1", 5]])

    def fail(*args, **kwargs):
        raise RuntimeError("switch service down")

    monkeypatch.setattr("merchant.services.switches.sku_switch_set", fail)
    with pytest.raises(RuntimeError):
        pipeline.apply(job, actor=import_by, pause_kinds=["stock"], pause_until=None)
    product.refresh_from_db()
    assert product.stock == 1


def test_one_customer_named_by_uscc_and_by_platform_id_on_two_rows_is_a_duplicate(merchant_a, import_by,
                                                                                  monkeypatch):
    monkeypatch.setattr(pipeline, "CHUNK", 2)
    customer, other = CustomerFactory(), CustomerFactory()
    OrderFactory(merchant=merchant_a, customer=customer, items=0)
    job = validated(merchant_a, "customer_codes", [CODE_HEADER, [customer.uscc, None, "A"], [other.uscc, None, "O"],
                                                   [None, customer.pk, "B"]])
    assert row_errors(job) == {2: {"uscc": "the same record is also on row 4"},
                               4: {"platform_customer_id": "the same record is also on row 2"}}
    assert (job.new_count, job.invalid_count) == (1, 2)
    apply(job, import_by, valid_only=True)
    assert list(ErpCustomerCode.objects.values_list("customer_id", "code")) == [(other.pk, "O")]


def test_pause_covers_the_skus_the_preview_counted_and_not_products_the_import_creates(merchant_a, import_by):
    ProductFactory(merchant=merchant_a, erp_product_id="P-1", stock=1)
    job = validated(merchant_a, "products", [HEADER, ["P-1", "", "", "", "", "", "", 5],
                                             ["NEW", "New", "", "", "", "", 3, 5]])
    assert job.sync_on == {"stock": 1}
    result = apply(job, import_by, pause_kinds=["stock"], pause_until=timezone.now() + timedelta(hours=1))
    assert result["paused"] == 1
    assert list(SkuSwitch.objects.values_list("product__erp_product_id", flat=True)) == ["P-1"]


def test_a_new_group_price_of_an_existing_sku_counts_for_the_price_sync_and_is_paused(merchant_a, import_by):
    product = ProductFactory(merchant=merchant_a, erp_product_id="P-1")
    RegionGroupFactory(code="south")
    job = validated(merchant_a, "prices", [PRICE_HEADER, ["P-1", "region_group", "south", 9]])
    assert (job.new_count, job.sync_on) == (1, {"price": 1})
    result = apply(job, import_by, pause_kinds=["price"])
    assert result["paused"] == 1
    switch = SkuSwitch.objects.get(product=product)
    assert (switch.kind, switch.enabled, switch.paused_until) == ("price", False, None)


def test_a_batch_import_audits_each_change_once(merchant_a, import_by):
    product = ProductFactory(merchant=merchant_a, erp_product_id="P-1", stock=7, batch_managed=False)
    BatchFactory(product=product, batch_no="GONE", quantity=3)
    apply(validated(merchant_a, "batches", [BATCH_HEADER, ["P-1", "B1", "2026-01-01", "2030-01-01", 12],
                                            ["P-1", "B2", "2026-02-01", "2030-02-01", 8]]), import_by)
    entries = AuditEntry.objects.filter(entity="product", entity_id=product.pk)
    assert sorted((e.field, e.old_value, e.new_value) for e in entries) == [
        ("batch[B1]", "", "12 (2026-01-01 ~ 2030-01-01)"), ("batch[B2]", "", "8 (2026-02-01 ~ 2030-02-01)"),
        ("batch[GONE]", "3", ""), ("batch_managed", "False", "True"), ("stock", "7", "20")]
    assert {e.source for e in entries} == {AuditSource.IMPORT}
