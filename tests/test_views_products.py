"""Product pages' forms: edit, stock, listing, group prices, batches, switches and bulk actions (M3, M5-M8, M11).

Happy paths for owner and operator, 403 for the viewer, and bad input rejected at the field with nothing changed.
"""
from datetime import timedelta
from decimal import Decimal

import pytest
from django.urls import reverse
from django.utils import timezone

from merchant.models import AuditEntry, Batch, GroupPrice, ListingState, Product, SkuSwitch

from .factories import (
    BatchFactory, CustomerGroupFactory, GroupPriceFactory, HeldValueFactory, ProductFactory, RegionGroupFactory,
    SkuSwitchFactory,
)
from .helpers import messages_of

pytestmark = pytest.mark.usefixtures("english_pages")


def snapshot(product) -> dict:
    """Everything a product form could change, to assert that a refused request changed nothing."""
    product = Product.objects.get(pk=product.pk)
    return {
        "fields": {f.attname: getattr(product, f.attname) for f in Product._meta.concrete_fields
                   if f.attname != "updated_at"},
        "prices": sorted(GroupPrice.objects.filter(product=product).values_list("pk", "price")),
        "batches": sorted(Batch.objects.filter(product=product).values_list(
            "pk", "batch_no", "production_date", "expiry_date", "quantity")),
        "switches": sorted(SkuSwitch.objects.filter(product=product).values_list("kind", "enabled", "paused_until")),
        "audit": AuditEntry.objects.filter(entity="product", entity_id=product.pk).count(),
    }


def edit_data(product, **changes):
    data = {
        "name": product.name, "barcode": product.barcode, "approval_number": product.approval_number,
        "spec": product.spec, "manufacturer": product.manufacturer, "unit": product.unit,
        "default_price": str(product.default_price), "suggested_retail_price": "",
    }
    data.update(changes)
    return data


# --- product edit -------------------------------------------------------------------------------------------------


def test_editor_changes_product_fields_and_the_change_is_audited(editor_client, product):
    response = editor_client.post(reverse("product_edit", args=[product.pk]),
                                  edit_data(product, name="Renamed Capsules", default_price="15.80",
                                            suggested_retail_price="19.90"))
    assert response.status_code == 302
    assert response["Location"] == product.get_absolute_url()
    product.refresh_from_db()
    assert product.name == "Renamed Capsules"
    assert product.default_price == Decimal("15.80")
    assert product.suggested_retail_price == Decimal("19.90")
    entry = AuditEntry.objects.get(entity="product", entity_id=product.pk, field="default_price")
    assert (entry.old_value, entry.new_value, entry.source) == ("12.50", "15.80", "user")
    assert entry.actor.username in ("owner", "operator")
    assert "Product saved." in messages_of(response)


def test_a_retail_price_below_the_default_is_saved_with_a_warning(client_operator, product):
    response = client_operator.post(reverse("product_edit", args=[product.pk]),
                                    edit_data(product, default_price="15.80", suggested_retail_price="12.00"))
    assert response.status_code == 302
    product.refresh_from_db()
    assert product.suggested_retail_price == Decimal("12.00")  # a warning, not a refusal
    assert ("The suggested retail price ¥12.00 is below the default price ¥15.80: pharmacies would sell at a "
            "loss. Saved anyway; check it is what you meant.") in messages_of(response)
    page = client_operator.get(product.get_absolute_url()).content.decode()
    assert 'id="retail-below-default"' in page
    assert "The suggested retail price ¥12.00 is below the default price ¥15.80." in page


@pytest.mark.parametrize("retail", ["15.80", "19.90", ""])
def test_a_retail_price_at_or_above_the_default_or_none_gives_no_warning(client_operator, product, retail):
    response = client_operator.post(reverse("product_edit", args=[product.pk]),
                                    edit_data(product, default_price="15.80", suggested_retail_price=retail))
    assert messages_of(response) == ["Product saved."]
    assert 'id="retail-below-default"' not in client_operator.get(product.get_absolute_url()).content.decode()


@pytest.mark.parametrize("field, value", [
    ("default_price", "0"),
    ("default_price", "-1.00"),
    ("default_price", "12.345"),
    ("default_price", ""),
    ("default_price", "abc"),
    ("suggested_retail_price", "0.00"),
    ("suggested_retail_price", "9.999"),
    ("name", ""),
])
def test_product_edit_rejects_bad_values_at_the_field_and_changes_nothing(client_operator, product, field, value):
    before = snapshot(product)
    response = client_operator.post(reverse("product_edit", args=[product.pk]),
                                     {**edit_data(product, unit="Should Not Stick"), field: value})
    assert response.status_code == 400
    form = response.context["product_form"]
    assert list(form.errors) == [field]
    assert "errorlist" in response.content.decode()
    assert snapshot(product) == before


def test_viewer_cannot_edit_a_product(client_viewer, product):
    before = snapshot(product)
    response = client_viewer.post(reverse("product_edit", args=[product.pk]), edit_data(product, name="Hacked"))
    assert response.status_code == 403
    assert snapshot(product) == before


# --- stock --------------------------------------------------------------------------------------------------------


def test_editor_sets_stock_by_hand_with_a_reason(editor_client, product):
    response = editor_client.post(reverse("product_stock", args=[product.pk]),
                                  {"stock": "250", "reason": "promotion oversell", "pause_for": "no"})
    assert response.status_code == 302
    product.refresh_from_db()
    assert product.stock == 250
    entry = AuditEntry.objects.get(entity="product", entity_id=product.pk, field="stock")
    assert (entry.old_value, entry.new_value, entry.reason) == ("10", "250", "promotion oversell")
    assert not SkuSwitch.objects.filter(product=product).exists()  # "no": auto stock sync stays on


@pytest.mark.parametrize("pause_for, hours", [("1", 1), ("4", 4), ("24", 24)])
def test_stock_edit_can_pause_auto_stock_sync_for_a_while(client_operator, operator, product, pause_for, hours):
    response = client_operator.post(reverse("product_stock", args=[product.pk]),
                                    {"stock": "40", "reason": "oversell", "pause_for": pause_for})
    assert response.status_code == 302
    product.refresh_from_db()
    assert product.stock == 40
    switch = SkuSwitch.objects.get(product=product, kind="stock")
    assert switch.enabled is False
    expected = timezone.now() + timedelta(hours=hours)
    assert abs((switch.paused_until - expected).total_seconds()) < 60
    assert switch.changed_by == operator
    assert not SkuSwitch.objects.filter(product=product, kind="price").exists()


def test_stock_edit_pauses_until_turned_back_on_only_when_chosen(client_operator, product):
    response = client_operator.post(reverse("product_stock", args=[product.pk]),
                                    {"stock": "40", "reason": "oversell", "pause_for": ""})
    assert not SkuSwitch.objects.filter(product=product).exists()
    assert "Stock saved. Automatic stock sync is on" in messages_of(response)[0]
    response = client_operator.post(reverse("product_stock", args=[product.pk]),
                                    {"stock": "40", "reason": "oversell", "pause_for": "off"})
    assert response.status_code == 302
    assert "stays off until someone turns it back on" in messages_of(response)[-1]
    switch = SkuSwitch.objects.get(product=product, kind="stock")
    assert switch.enabled is False
    assert switch.paused_until is None


def test_stock_edit_without_the_pause_menu_does_not_pause(client_operator, product):
    """When auto stock sync is already off the form has no pause menu; saving stock must not touch switches."""
    client_operator.post(reverse("product_stock", args=[product.pk]), {"stock": "41"})
    product.refresh_from_db()
    assert product.stock == 41
    assert not SkuSwitch.objects.filter(product=product).exists()


@pytest.mark.parametrize("value", ["-1", "", "ten", "1.5"])
def test_stock_edit_rejects_bad_quantities_and_changes_nothing(client_operator, product, value):
    before = snapshot(product)
    response = client_operator.post(reverse("product_stock", args=[product.pk]), {"stock": value, "pause_for": "4"})
    assert response.status_code == 400
    assert "stock" in response.context["stock_form"].errors
    assert snapshot(product) == before


def test_stock_of_a_batch_managed_product_cannot_be_set_by_hand(client_operator, merchant_a):
    product = BatchFactory(product__merchant=merchant_a).product
    before = snapshot(product)
    response = client_operator.post(reverse("product_stock", args=[product.pk]), {"stock": "99", "pause_for": "4"})
    assert response.status_code == 400
    assert "batch-managed" in str(response.context["stock_form"].errors["stock"])
    assert snapshot(product) == before  # nor was the switch paused


def test_viewer_cannot_set_stock(client_viewer, product):
    before = snapshot(product)
    assert client_viewer.post(reverse("product_stock", args=[product.pk]), {"stock": "1"}).status_code == 403
    assert snapshot(product) == before


# --- listing ------------------------------------------------------------------------------------------------------


def test_editor_delists_and_lists_a_product(editor_client, product):
    url = reverse("product_listing", args=[product.pk])
    assert editor_client.post(url, {"listed": "0"}).status_code == 302
    product.refresh_from_db()
    assert product.listing_state == ListingState.DELISTED
    response = editor_client.post(url, {"listed": "1"})
    assert response.status_code == 302
    product.refresh_from_db()
    assert product.listing_state == ListingState.LISTED
    assert "Listed." in messages_of(response)
    assert AuditEntry.objects.filter(entity="product", entity_id=product.pk, field="listing_state").count() == 2


@pytest.mark.parametrize("traits, reason", [({"pending": True}, "pending review"), ({"ready": True}, "no stock")])
def test_listing_refuses_pending_review_and_zero_stock_with_the_reason(client_operator, merchant_a, traits, reason):
    product = ProductFactory(merchant=merchant_a, **traits)
    before = snapshot(product)
    response = client_operator.post(reverse("product_listing", args=[product.pk]), {"listed": "1"}, follow=True)
    assert response.status_code == 200
    assert f"Refused: {reason}" in response.content.decode()
    assert snapshot(product) == before


def test_viewer_cannot_change_listing(client_viewer, product):
    assert client_viewer.post(reverse("product_listing", args=[product.pk]), {"listed": "0"}).status_code == 403
    product.refresh_from_db()
    assert product.listing_state == ListingState.LISTED


# --- group prices -------------------------------------------------------------------------------------------------


@pytest.fixture
def region():
    return RegionGroupFactory(code="south", name="Guangdong+Guangxi", provinces=["广东", "广西"])


@pytest.fixture
def customer_group():
    return CustomerGroupFactory(code="chains", name="Pharmacy chains")


def test_editor_adds_and_changes_region_and_customer_group_prices(editor_client, product, region, customer_group):
    url = reverse("group_price_add", args=[product.pk])
    assert editor_client.post(url, {"group": f"r:{region.pk}", "price": "11.20"}).status_code == 302
    assert editor_client.post(url, {"group": f"c:{customer_group.pk}", "price": "10.50"}).status_code == 302
    assert editor_client.post(url, {"group": f"r:{region.pk}", "price": "11.00"}).status_code == 302
    prices = {(gp.region_group_id, gp.customer_group_id): gp.price for gp in product.group_prices.all()}
    assert prices == {(region.pk, None): Decimal("11.00"), (None, customer_group.pk): Decimal("10.50")}
    content = editor_client.get(product.get_absolute_url()).content.decode()
    assert "Guangdong+Guangxi" in content and "¥11.00" in content and "¥10.50" in content


@pytest.mark.parametrize("price", ["0", "0.00", "-5", "9.999", "", "many"])
def test_group_price_rejects_bad_prices_at_the_field_and_changes_nothing(client_operator, product, region, price):
    GroupPriceFactory(product=product, region_group=region, price=Decimal("11.00"))
    before = snapshot(product)
    response = client_operator.post(reverse("group_price_add", args=[product.pk]),
                                     {"group": f"r:{region.pk}", "price": price})
    assert response.status_code == 400
    assert list(response.context["price_form"].errors) == ["price"]
    assert snapshot(product) == before


def test_group_price_rejects_an_unknown_group(client_operator, product):
    before = snapshot(product)
    response = client_operator.post(reverse("group_price_add", args=[product.pk]), {"group": "r:999999", "price": "5"})
    assert response.status_code == 400
    assert "group" in response.context["price_form"].errors
    assert snapshot(product) == before


def test_editor_deletes_a_group_price(editor_client, product, region):
    gp = GroupPriceFactory(product=product, region_group=region)
    response = editor_client.post(reverse("group_price_delete", args=[product.pk, gp.pk]))
    assert response.status_code == 302
    assert not GroupPrice.objects.filter(pk=gp.pk).exists()
    assert AuditEntry.objects.filter(entity="product", entity_id=product.pk, new_value="").exists()


def test_group_price_of_another_product_cannot_be_deleted_through_this_one(client_operator, merchant_a, product, region):
    other = ProductFactory(merchant=merchant_a)
    gp = GroupPriceFactory(product=other, region_group=region)
    assert client_operator.post(reverse("group_price_delete", args=[product.pk, gp.pk])).status_code == 404
    assert GroupPrice.objects.filter(pk=gp.pk).exists()


def test_viewer_cannot_add_or_delete_group_prices(client_viewer, product, region):
    gp = GroupPriceFactory(product=product, region_group=region)
    before = snapshot(product)
    assert client_viewer.post(reverse("group_price_add", args=[product.pk]),
                              {"group": f"r:{region.pk}", "price": "1.00"}).status_code == 403
    assert client_viewer.post(reverse("group_price_delete", args=[product.pk, gp.pk])).status_code == 403
    assert snapshot(product) == before


# --- batches ------------------------------------------------------------------------------------------------------


@pytest.fixture
def batch_product(merchant_a):
    return ProductFactory(merchant=merchant_a, batch_managed=True, stock=0, listing_state=ListingState.READY)


def batch_data(**changes):
    today = timezone.localdate()
    data = {"batch_no": "LOT-1", "production_date": (today - timedelta(days=10)).isoformat(),
            "expiry_date": (today + timedelta(days=700)).isoformat(), "quantity": "30"}
    data.update(changes)
    return data


def test_editor_adds_edits_and_deletes_batches_and_stock_follows(editor_client, batch_product):
    add = reverse("batch_add", args=[batch_product.pk])
    assert editor_client.post(add, batch_data()).status_code == 302
    assert editor_client.post(add, batch_data(batch_no="LOT-2", quantity="12")).status_code == 302
    batch_product.refresh_from_db()
    assert batch_product.stock == 42
    lot1 = Batch.objects.get(product=batch_product, batch_no="LOT-1")
    assert editor_client.post(reverse("batch_edit", args=[batch_product.pk, lot1.pk]),
                              batch_data(quantity="8")).status_code == 302
    batch_product.refresh_from_db()
    assert batch_product.stock == 20
    assert editor_client.post(reverse("batch_delete", args=[batch_product.pk, lot1.pk])).status_code == 302
    batch_product.refresh_from_db()
    assert batch_product.stock == 12
    assert list(batch_product.batches.values_list("batch_no", flat=True)) == ["LOT-2"]


def test_an_expired_batch_is_kept_only_as_a_record_and_does_not_count_as_stock(client_operator, batch_product):
    today = timezone.localdate()
    client_operator.post(reverse("batch_add", args=[batch_product.pk]), batch_data(
        production_date=(today - timedelta(days=800)).isoformat(), expiry_date=(today - timedelta(days=1)).isoformat(),
        quantity="0"))
    assert Batch.objects.filter(product=batch_product).count() == 1
    batch_product.refresh_from_db()
    assert batch_product.stock == 0


@pytest.mark.parametrize("changes, field", [
    ({"expiry_date": "2024-01-01", "production_date": "2024-06-01"}, "expiry_date"),
    ({"expiry_date": "2024-06-01", "production_date": "2024-06-01"}, "expiry_date"),
    ({"quantity": "-3"}, "quantity"),
    ({"batch_no": ""}, "batch_no"),
    ({"production_date": "2024-13-45"}, "production_date"),
])
def test_batch_form_rejects_bad_input_at_the_field_and_changes_nothing(client_operator, batch_product, changes, field):
    before = snapshot(batch_product)
    response = client_operator.post(reverse("batch_add", args=[batch_product.pk]), batch_data(**changes))
    assert response.status_code == 400
    assert field in response.context["batch_form"].errors
    assert snapshot(batch_product) == before


def test_batch_form_rejects_a_duplicate_batch_number(client_operator, batch_product):
    BatchFactory(product=batch_product, batch_no="LOT-1")
    before = snapshot(batch_product)
    response = client_operator.post(reverse("batch_add", args=[batch_product.pk]), batch_data(batch_no="LOT-1"))
    assert response.status_code == 400
    assert "batch_no" in response.context["batch_form"].errors
    assert snapshot(batch_product) == before


def test_batch_edit_with_expiry_before_production_changes_nothing(client_operator, batch_product):
    batch = BatchFactory(product=batch_product)
    before = snapshot(batch_product)
    response = client_operator.post(reverse("batch_edit", args=[batch_product.pk, batch.pk]),
                                    batch_data(batch_no=batch.batch_no, production_date="2025-01-02",
                                               expiry_date="2025-01-01"))
    assert response.status_code == 400
    assert "expiry_date" in response.context["batch_form"].errors
    assert snapshot(batch_product) == before


def test_viewer_cannot_add_or_delete_batches(client_viewer, batch_product):
    batch = BatchFactory(product=batch_product)
    before = snapshot(batch_product)
    assert client_viewer.post(reverse("batch_add", args=[batch_product.pk]), batch_data()).status_code == 403
    assert client_viewer.post(reverse("batch_edit", args=[batch_product.pk, batch.pk]),
                              batch_data(quantity="1")).status_code == 403
    assert client_viewer.post(reverse("batch_delete", args=[batch_product.pk, batch.pk])).status_code == 403
    assert snapshot(batch_product) == before


# --- per-SKU switches ---------------------------------------------------------------------------------------------


def test_editor_pauses_auto_price_sync_for_one_hour_and_turns_it_back_on(editor_client, product):
    url = reverse("product_switch", args=[product.pk])
    response = editor_client.post(url, {"kind": "price", "enabled": "0", "pause_for": "1", "reason": "promo"})
    assert response.status_code == 302
    switch = SkuSwitch.objects.get(product=product, kind="price")
    assert switch.enabled is False and switch.reason == "promo"
    assert abs((switch.paused_until - timezone.now() - timedelta(hours=1)).total_seconds()) < 60
    assert editor_client.post(url, {"kind": "price", "enabled": "1"}).status_code == 302
    switch.refresh_from_db()
    assert switch.enabled is True and switch.paused_until is None


def test_turning_auto_stock_sync_back_on_applies_the_held_erp_value(client_operator, product):
    SkuSwitchFactory(product=product, kind="stock", enabled=False)
    HeldValueFactory(product=product, field="stock", value=77)
    preview = client_operator.post(reverse("product_switch", args=[product.pk]), {"kind": "stock", "enabled": "1"})
    assert preview.status_code == 200 and [r.held for r in preview.context["rows"]] == ["77"]
    product.refresh_from_db()
    assert product.stock != 77
    assert client_operator.post(reverse("product_switch", args=[product.pk]),
                                {"kind": "stock", "enabled": "1", "confirmed": "1"}).status_code == 302
    product.refresh_from_db()
    assert product.stock == 77
    assert not product.held_values.exists()


def test_product_switch_rejects_an_unknown_kind(client_operator, product):
    before = snapshot(product)
    response = client_operator.post(reverse("product_switch", args=[product.pk]), {"kind": "colour", "enabled": "0"})
    assert response.status_code == 400
    assert "kind" in response.context["switch_form"].errors
    assert snapshot(product) == before


def test_viewer_cannot_change_a_product_switch(client_viewer, product):
    response = client_viewer.post(reverse("product_switch", args=[product.pk]), {"kind": "stock", "enabled": "0"})
    assert response.status_code == 403
    assert not SkuSwitch.objects.filter(product=product).exists()


# --- bulk actions on the product list -----------------------------------------------------------------------------


@pytest.fixture
def shelf(merchant_a):
    return {
        "listed": ProductFactory(merchant=merchant_a, name="Shelf Listed"),
        "ready": ProductFactory(merchant=merchant_a, name="Shelf Ready", listing_state=ListingState.READY, stock=5),
        "empty": ProductFactory(merchant=merchant_a, name="Shelf Empty", ready=True),
        "pending": ProductFactory(merchant=merchant_a, name="Shelf Pending", pending=True),
    }


def bulk(client, action, products, **extra):
    return client.post(reverse("product_list") + "?state=&q=", {"action": action, "ids": [p.pk for p in products],
                                                                 **extra})


def states(products):
    return {k: Product.objects.get(pk=p.pk).listing_state for k, p in products.items()}


def test_bulk_list_lists_what_it_can_and_names_the_refusals(editor_client, shelf):
    response = bulk(editor_client, "list", shelf.values())
    assert response.status_code == 302
    assert response["Location"] == reverse("product_list") + "?state=&q="
    assert states(shelf) == {"listed": "listed", "ready": "listed", "empty": "ready", "pending": "pending_review"}
    msgs = messages_of(response)
    assert "1 products changed." in msgs
    assert any("Shelf Empty" in m and "no stock" in m for m in msgs)
    assert any("Shelf Pending" in m and "pending review" in m for m in msgs)


def test_bulk_delist(editor_client, shelf):
    response = bulk(editor_client, "delist", [shelf["listed"], shelf["ready"]])
    assert response.status_code == 302
    assert states(shelf) == {"listed": "delisted", "ready": "delisted", "empty": "ready", "pending": "pending_review"}


def test_bulk_pause_stock_for_24_hours_then_resume(editor_client, shelf):
    chosen = [shelf["listed"], shelf["ready"]]
    assert bulk(editor_client, "pause_stock", chosen, pause_for="24").status_code == 302
    paused = SkuSwitch.objects.filter(kind="stock", enabled=False)
    assert {s.product_id for s in paused} == {p.pk for p in chosen}
    for s in paused:
        assert abs((s.paused_until - timezone.now() - timedelta(hours=24)).total_seconds()) < 60
    assert bulk(editor_client, "resume_stock", chosen).status_code == 302
    assert not SkuSwitch.objects.filter(enabled=False).exists()


def test_bulk_pause_price_until_turned_back_on(client_operator, shelf):
    bulk(client_operator, "pause_price", [shelf["empty"]], pause_for="off")
    switch = SkuSwitch.objects.get(product=shelf["empty"])
    assert (switch.kind, switch.enabled, switch.paused_until) == ("price", False, None)


def test_bulk_action_without_products_or_with_an_unknown_action_changes_nothing(client_operator, shelf):
    before = states(shelf)
    response = bulk(client_operator, "list", [])
    assert "Choose an action and at least one product." in messages_of(response)
    response = bulk(client_operator, "explode", shelf.values())
    assert "Choose an action and at least one product." in messages_of(response)
    assert states(shelf) == before
    assert not SkuSwitch.objects.exists()


def test_bulk_action_ignores_malformed_ids(client_operator, shelf):
    response = client_operator.post(reverse("product_list"), {"action": "delist", "ids": ["abc", shelf["listed"].pk]})
    assert response.status_code == 302
    assert states(shelf)["listed"] == "delisted"
    response = client_operator.post(reverse("product_list"), {"action": "delist", "ids": ["1 OR 1=1", "-1"]})
    assert response.status_code == 302
    assert "Choose an action and at least one product." in messages_of(response)
    assert states(shelf)["ready"] == "ready"


def test_bulk_action_never_touches_another_merchants_products(client_operator, outsider_product):
    response = client_operator.post(reverse("product_list"), {"action": "delist", "ids": [outsider_product.pk]})
    assert response.status_code == 302
    outsider_product.refresh_from_db()
    assert outsider_product.listing_state == ListingState.LISTED
    assert not AuditEntry.objects.exists()


@pytest.mark.parametrize("action", ["list", "delist", "pause_stock", "resume_stock", "pause_price"])
def test_viewer_cannot_use_bulk_actions(client_viewer, shelf, action):
    before = states(shelf)
    assert bulk(client_viewer, action, shelf.values(), pause_for="1").status_code == 403
    assert states(shelf) == before
    assert not SkuSwitch.objects.exists()


@pytest.mark.parametrize("params", [{"q": "\x00"}, {"q": "Asp\x00irin"}, {"state": "\x00"}],
                         ids=["nul", "nul-inside", "nul-state"])
def test_a_search_with_a_nul_is_refused_with_a_message_not_a_server_error(client_owner, product, params):
    response = client_owner.get(reverse("product_list"), params)

    if "q" in params:
        assert response.status_code == 400
        assert "cannot be searched for or stored (NUL or an unpaired surrogate)" in response.content.decode()
        assert list(response.context["rows"]) == []
    else:  # an unknown listing state is ignored, like an unknown switch kind
        assert response.status_code == 200
        assert [p for p, _paused in response.context["rows"]] == [product]


def test_the_search_form_refuses_unpaired_surrogates(english):
    from merchant.forms import SearchForm

    assert SearchForm({"q": "A\ud800"}).query() is None
    assert SearchForm({"q": "  阿莫西林 "}).query() == "阿莫西林"
    assert SearchForm({}).query() == ""


def test_bulk_resume_lists_the_held_values_first_and_applies_them_on_confirm(client_operator, shelf):
    chosen = [shelf["listed"], shelf["ready"]]
    for product in chosen:
        SkuSwitchFactory(product=product, kind="stock", enabled=False)
    HeldValueFactory(product=shelf["ready"], field="stock", value=61)
    preview = bulk(client_operator, "resume_stock", chosen)
    assert preview.status_code == 200
    assert [(r.product, r.held) for r in preview.context["rows"]] == [(shelf["ready"], "61")]
    assert SkuSwitch.objects.filter(enabled=False).count() == 2
    response = bulk(client_operator, "resume_stock", chosen, confirmed="1")
    assert response.status_code == 302
    assert not SkuSwitch.objects.filter(enabled=False).exists()
    assert Product.objects.get(pk=shelf["ready"].pk).stock == 61
