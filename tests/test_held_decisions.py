"""Held values and records decided by hand on the switches page: apply now (the switch stays as it is) or
discard (the value in force stays), one row or the ticked ones, audited, only the merchant's own."""
from decimal import Decimal

import pytest
from django.urls import reverse
from django.utils import timezone

from merchant.models import AuditEntry, HeldItem, HeldValue, ModuleSwitch, SkuSwitch

from .factories import HeldValueFactory, ModuleSwitchFactory, ProductFactory, SkuSwitchFactory
from .helpers import messages_of

pytestmark = pytest.mark.usefixtures("english_pages")


@pytest.fixture
def held_stock(merchant_a):
    product = ProductFactory(merchant=merchant_a, stock=5)
    SkuSwitchFactory(product=product, kind="stock", enabled=False)
    return HeldValueFactory(product=product, field="stock", value=80)


def test_applying_one_held_value_makes_it_the_value_in_force_and_keeps_the_pause(client_operator, held_stock):
    response = client_operator.post(reverse("held_apply"), {"one": f"value:{held_stock.pk}"})
    assert "1 held value applied." in messages_of(response)
    product = held_stock.product
    product.refresh_from_db()
    assert product.stock == 80
    assert not HeldValue.objects.exists()
    assert SkuSwitch.objects.get(product=product, kind="stock").enabled is False  # still paused
    entry = AuditEntry.objects.get(entity="product", entity_id=product.pk, field="stock")
    assert (entry.old_value, entry.new_value, entry.source, entry.reason) == ("5", "80", "user",
                                                                               "held value applied by hand")


def test_discarding_keeps_the_value_in_force_and_is_audited(client_operator, held_stock):
    response = client_operator.post(reverse("held_discard"), {"one": f"value:{held_stock.pk}"})
    assert "1 held value discarded: the value in force stays." in messages_of(response)
    held_stock.product.refresh_from_db()
    assert held_stock.product.stock == 5
    assert not HeldValue.objects.exists()
    entry = AuditEntry.objects.get(entity="product", field="held[stock]")
    assert (entry.old_value, entry.new_value, entry.reason) == ("80", "", "held value discarded")


def test_the_ticked_rows_apply_together_and_a_held_record_applies_while_its_module_is_off(
        client_owner, merchant_a, held_stock):
    priced = ProductFactory(merchant=merchant_a, erp_product_id="PR-1", default_price=Decimal("20.00"))
    ModuleSwitchFactory(merchant=merchant_a, module="prices", enabled=False)
    record = HeldItem.objects.create(merchant=merchant_a, kind="prices", key="PR-1|default|", source="erp",
                                     values={"erp_product_id": "PR-1", "price_type": "default", "price": "18.60"},
                                     received_at=timezone.now())
    response = client_owner.post(reverse("held_apply"), {"held": [f"value:{held_stock.pk}", f"record:{record.pk}"]})
    assert "2 held values applied." in messages_of(response)
    priced.refresh_from_db()
    held_stock.product.refresh_from_db()
    assert (priced.default_price, held_stock.product.stock) == (Decimal("18.60"), 80)
    assert not HeldItem.objects.exists() and not HeldValue.objects.exists()
    assert ModuleSwitch.objects.get(merchant=merchant_a, module="prices").enabled is False


def test_nothing_chosen_changes_nothing(client_operator, held_stock):
    response = client_operator.post(reverse("held_apply"), {})
    assert "Choose at least one held value." in messages_of(response)
    assert HeldValue.objects.count() == 1


def test_a_viewer_cannot_decide_and_another_merchant_s_rows_are_untouched(client_viewer, client_outsider,
                                                                         held_stock):
    assert client_viewer.post(reverse("held_apply"), {"one": f"value:{held_stock.pk}"}).status_code == 403
    client_outsider.post(reverse("held_apply"), {"one": f"value:{held_stock.pk}"})
    client_outsider.post(reverse("held_discard"), {"one": f"value:{held_stock.pk}"})
    held_stock.product.refresh_from_db()
    assert held_stock.product.stock == 5
    assert HeldValue.objects.count() == 1


def test_the_product_page_offers_apply_and_discard_beside_the_held_value(client_operator, held_stock):
    page = client_operator.get(held_stock.product.get_absolute_url()).content.decode()
    assert f'value="value:{held_stock.pk}"' in page
    assert reverse("held_apply") in page and reverse("held_discard") in page
