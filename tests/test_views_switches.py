"""The sync switches page (SPEC M11): module switches are the owner's, SKU switches resume from the paused list."""
from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from merchant.models import AuditEntry, ModuleSwitch, SkuSwitch

from .factories import HeldValueFactory, ModuleSwitchFactory, ProductFactory, SkuSwitchFactory
from .helpers import messages_of


pytestmark = pytest.mark.usefixtures("english_pages")

def test_owner_pauses_a_module_for_four_hours(client_owner, owner, merchant_a):
    response = client_owner.post(reverse("module_switch"),
                                 {"module": "stock", "enabled": "0", "pause_for": "4", "reason": "stocktaking"})
    assert response.status_code == 302
    assert response["Location"] == reverse("switches")
    switch = ModuleSwitch.objects.get(merchant=merchant_a, module="stock")
    assert (switch.enabled, switch.reason, switch.changed_by) == (False, "stocktaking", owner)
    assert abs((switch.paused_until - timezone.now() - timedelta(hours=4)).total_seconds()) < 60
    page = client_owner.get(reverse("switches"))
    assert list(page.context["paused_modules"]) == [switch]
    assert "stocktaking" in page.content.decode()


def test_a_pause_with_no_length_chosen_lasts_an_hour_not_for_good(client_owner, merchant_a):
    client_owner.post(reverse("module_switch"), {"module": "orders", "enabled": "0", "pause_for": ""})
    switch = ModuleSwitch.objects.get(merchant=merchant_a, module="orders")
    assert abs((switch.paused_until - timezone.now() - timedelta(hours=1)).total_seconds()) < 60


def test_the_pause_menu_starts_on_an_hour(client_owner):
    page = client_owner.get(reverse("switches")).content.decode()
    assert '<option value="1" selected>' in page
    assert '<option value="off" selected>' not in page


def test_owner_pauses_a_module_until_turned_back_on_and_resumes_it(client_owner, merchant_a):
    client_owner.post(reverse("module_switch"), {"module": "orders", "enabled": "0", "pause_for": "off"})
    switch = ModuleSwitch.objects.get(merchant=merchant_a, module="orders")
    assert (switch.enabled, switch.paused_until) == (False, None)
    client_owner.post(reverse("module_switch"), {"module": "orders", "enabled": "1"})
    switch.refresh_from_db()
    assert switch.enabled is True
    assert AuditEntry.objects.filter(entity="module_switch", entity_id=switch.pk).count() == 2


def test_resuming_the_stock_module_shows_what_it_applies_and_applies_only_on_confirm(client_owner, merchant_a,
                                                                                    product):
    ModuleSwitchFactory(merchant=merchant_a, module="stock", enabled=False)
    HeldValueFactory(product=product, field="stock", value=64)
    stock_before = product.stock
    preview = client_owner.post(reverse("module_switch"), {"module": "stock", "enabled": "1"})
    assert preview.status_code == 200
    assert [(r.what, r.in_force, r.held) for r in preview.context["rows"]] == [("stock", str(stock_before), "64")]
    product.refresh_from_db()
    assert product.stock == stock_before
    assert ModuleSwitch.objects.get(merchant=merchant_a, module="stock").enabled is False
    response = client_owner.post(reverse("module_switch"), {"module": "stock", "enabled": "1", "confirmed": "1"})
    assert "Automatic sync of Stock is on: 1 held value applied." in messages_of(response)
    product.refresh_from_db()
    assert product.stock == 64


def test_module_switch_rejects_an_unknown_module(client_owner, merchant_a):
    response = client_owner.post(reverse("module_switch"), {"module": "weather", "enabled": "0"})
    assert response.status_code == 302
    assert "Invalid switch change." in messages_of(response)
    assert not ModuleSwitch.objects.exists()


@pytest.mark.parametrize("role", ["operator", "viewer"])
def test_only_owners_change_module_switches(request, role, merchant_a):
    response = request.getfixturevalue(f"client_{role}").post(reverse("module_switch"),
                                                             {"module": "stock", "enabled": "0"})
    assert response.status_code == 403
    assert not ModuleSwitch.objects.exists()


@pytest.mark.parametrize("role", ["owner", "operator"])
def test_sku_switch_resumes_from_the_paused_list_and_applies_the_held_value(request, role, product):
    switch = SkuSwitchFactory(product=product, kind="stock", enabled=False,
                              paused_until=timezone.now() + timedelta(hours=3))
    HeldValueFactory(product=product, field="stock", value=5)
    client = request.getfixturevalue(f"client_{role}")
    page = client.get(reverse("switches"))
    assert reverse("sku_switch_resume", args=[product.pk]) in page.content.decode()
    preview = client.post(reverse("sku_switch_resume", args=[product.pk]), {"kind": "stock", "enabled": "1"})
    assert preview.status_code == 200 and [r.held for r in preview.context["rows"]] == ["5"]
    switch.refresh_from_db()
    assert switch.enabled is False
    response = client.post(reverse("sku_switch_resume", args=[product.pk]),
                           {"kind": "stock", "enabled": "1", "confirmed": "1"})
    assert response.status_code == 302
    assert response["Location"] == reverse("switches")
    switch.refresh_from_db()
    assert (switch.enabled, switch.paused_until) == (True, None)
    product.refresh_from_db()
    assert product.stock == 5
    assert list(client.get(reverse("switches")).context["paused_skus"]) == []


def test_sku_switch_resume_only_touches_the_named_kind(client_operator, product):
    SkuSwitchFactory(product=product, kind="stock", enabled=False)
    SkuSwitchFactory(product=product, kind="price", enabled=False)
    client_operator.post(reverse("sku_switch_resume", args=[product.pk]), {"kind": "price", "enabled": "1"})
    assert dict(SkuSwitch.objects.filter(product=product).values_list("kind", "enabled")) == {
        "stock": False, "price": True}


def test_viewer_cannot_resume_a_sku_switch(client_viewer, product):
    SkuSwitchFactory(product=product, kind="stock", enabled=False)
    page = client_viewer.get(reverse("switches")).content.decode()
    assert reverse("sku_switch_resume", args=[product.pk]) not in page
    response = client_viewer.post(reverse("sku_switch_resume", args=[product.pk]), {"kind": "stock", "enabled": "1"})
    assert response.status_code == 403
    assert SkuSwitch.objects.get(product=product).enabled is False


def test_switches_page_shows_nothing_paused_of_another_merchant(client_owner, outsider_product, merchant_b):
    SkuSwitchFactory(product=outsider_product, kind="stock", enabled=False)
    ModuleSwitchFactory(merchant=merchant_b, module="orders", enabled=False)
    response = client_owner.get(reverse("switches"))
    assert list(response.context["paused_skus"]) == []
    assert list(response.context["paused_modules"]) == []
    assert outsider_product.name not in response.content.decode()


def test_switches_page_lists_held_values_and_held_records(client_viewer, merchant_a, merchant_b):
    from django.utils import timezone

    from merchant.models import HeldItem, HeldValue

    product = ProductFactory(merchant=merchant_a, erp_product_id="HELD-1")
    HeldValue.objects.create(merchant=merchant_a, product=product, field="stock", source="api", value=77,
                             received_at=timezone.now())
    HeldItem.objects.create(merchant=merchant_a, kind="listing", key="HELD-2", source="erp",
                            values={"erp_product_id": "HELD-2", "listed": False}, received_at=timezone.now())
    HeldItem.objects.create(merchant=merchant_b, kind="listing", key="THEIRS-9", source="erp",
                            values={"erp_product_id": "THEIRS-9", "listed": False}, received_at=timezone.now())

    page = client_viewer.get("/switches/", HTTP_ACCEPT_LANGUAGE="en").content.decode()

    assert "HELD-1" in page and "77" in page
    assert "THEIRS-9" not in page
    rows = client_viewer.get("/switches/", HTTP_ACCEPT_LANGUAGE="en").context["held"]
    assert [(r.product, r.what, r.held, r.source) for r in rows] == [
        (None, "listing state", "Delisted", "ERP"), (product, "stock", "77", "Open API")]


def test_product_page_shows_the_held_value_with_its_source(client_viewer, merchant_a):
    from django.utils import timezone

    from merchant.models import HeldValue

    product = ProductFactory(merchant=merchant_a, stock=5)
    HeldValue.objects.create(merchant=merchant_a, product=product, field="stock", source="api", value=42,
                             received_at=timezone.now())

    page = client_viewer.get(product.get_absolute_url()).content.decode()

    assert "Held from Open API: stock 42 (in force: 5;" in page
