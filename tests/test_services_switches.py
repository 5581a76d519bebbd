from datetime import timedelta
from decimal import Decimal

import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from django.utils import timezone

from merchant.models import AuditEntry, AuditSource, HeldValue, Module, ModuleSwitch, SkuSwitch, SwitchKind
from merchant.services.switches import (
    auto_sync_on, module_switch_set, sku_switch_set, switches_resume_expired,
)

from .factories import HeldValueFactory, ProductFactory

# Messages are asserted in English; the default language is Simplified Chinese.
pytestmark = pytest.mark.usefixtures("english")


def later(hours=4):
    return timezone.now() + timedelta(hours=hours)


def held(product, field="stock", value=99, source="erp", minutes_ago=0):
    return HeldValueFactory(product=product, field=field, value=value, source=source,
                            received_at=timezone.now() - timedelta(minutes=minutes_ago))


# Roles

def test_owner_can_pause_a_module(merchant_a, owner, owner_actor):
    switch = module_switch_set(merchant=merchant_a, module=Module.STOCK, enabled=False, until=later(),
                               actor=owner_actor, reason="stocktaking")

    switch.refresh_from_db()
    assert (switch.enabled, switch.changed_by, switch.reason) == (False, owner, "stocktaking")
    assert auto_sync_on(merchant_id=merchant_a.pk, module=Module.STOCK) is False
    entry = AuditEntry.objects.get(entity="module_switch", entity_id=switch.pk)
    assert entry.old_value == "on" and entry.new_value.startswith("off until ")


@pytest.mark.parametrize("actor_fixture", ["operator_actor", "viewer_actor"])
def test_operator_and_viewer_cannot_change_module_switches(merchant_a, request, actor_fixture):
    actor = request.getfixturevalue(actor_fixture)

    with pytest.raises(PermissionDenied):
        module_switch_set(merchant=merchant_a, module=Module.STOCK, enabled=False, actor=actor)

    assert not ModuleSwitch.objects.exists()


def test_operator_can_change_sku_switches(product, operator, operator_actor):
    [switch] = sku_switch_set(products=[product], kind=SwitchKind.PRICE, enabled=False, until=later(1),
                              actor=operator_actor)

    switch.refresh_from_db()
    assert (switch.enabled, switch.changed_by) == (False, operator)
    entry = AuditEntry.objects.get(entity="product", entity_id=product.pk, field="switch[price]")
    assert entry.old_value == "on" and entry.actor == operator


def test_viewer_cannot_change_sku_switches(product, viewer_actor):
    with pytest.raises(PermissionDenied):
        sku_switch_set(products=[product], kind=SwitchKind.STOCK, enabled=False, actor=viewer_actor)

    assert not SkuSwitch.objects.exists()


# Pause validation

def test_pause_ending_in_the_past_is_rejected(merchant_a, product, owner_actor):
    past = timezone.now() - timedelta(minutes=5)

    with pytest.raises(ValidationError) as exc:
        module_switch_set(merchant=merchant_a, module=Module.STOCK, enabled=False, until=past, actor=owner_actor)
    assert "until" in exc.value.message_dict
    with pytest.raises(ValidationError):
        sku_switch_set(products=[product], kind=SwitchKind.STOCK, enabled=False, until=past, actor=owner_actor)

    assert not ModuleSwitch.objects.exists() and not SkuSwitch.objects.exists()


def test_unknown_module_or_switch_kind_is_rejected(merchant_a, product, owner_actor):
    with pytest.raises(ValidationError):
        module_switch_set(merchant=merchant_a, module="weather", enabled=False, actor=owner_actor)
    with pytest.raises(ValidationError):
        sku_switch_set(products=[product], kind="weather", enabled=False, actor=owner_actor)


def test_pause_without_end_stays_off_and_turning_on_clears_the_end(product, owner_actor):
    sku_switch_set(products=[product], kind=SwitchKind.STOCK, enabled=False, actor=owner_actor)
    switch = SkuSwitch.objects.get(product=product)
    assert (switch.enabled, switch.paused_until) == (False, None)
    assert auto_sync_on(merchant_id=product.merchant_id, module=Module.STOCK, product=product,
                        kind=SwitchKind.STOCK) is False

    sku_switch_set(products=[product], kind=SwitchKind.STOCK, enabled=True, until=later(), actor=owner_actor)
    switch.refresh_from_db()
    assert (switch.enabled, switch.paused_until) == (True, None)


def test_sku_switch_of_one_product_leaves_others_on(merchant_a, product, owner_actor):
    other = ProductFactory(merchant=merchant_a)

    sku_switch_set(products=[product], kind=SwitchKind.STOCK, enabled=False, actor=owner_actor)

    assert auto_sync_on(merchant_id=merchant_a.pk, module=Module.STOCK, product=other, kind=SwitchKind.STOCK)
    assert not auto_sync_on(merchant_id=merchant_a.pk, module=Module.STOCK, product=product,
                            kind=SwitchKind.STOCK)


def test_module_switch_of_one_merchant_leaves_the_other_on(merchant_a, merchant_b, owner_actor):
    module_switch_set(merchant=merchant_a, module=Module.PRICES, enabled=False, actor=owner_actor)

    assert auto_sync_on(merchant_id=merchant_b.pk, module=Module.PRICES)
    assert not auto_sync_on(merchant_id=merchant_a.pk, module=Module.PRICES)


def test_an_expired_pause_counts_as_on_before_the_resume_job_runs(product, owner_actor):
    sku_switch_set(products=[product], kind=SwitchKind.STOCK, enabled=False, until=later(1), actor=owner_actor)
    SkuSwitch.objects.filter(product=product).update(paused_until=timezone.now() - timedelta(seconds=1))

    assert auto_sync_on(merchant_id=product.merchant_id, module=Module.STOCK, product=product,
                        kind=SwitchKind.STOCK)


# Held values (SPEC M11)

def test_turning_sku_stock_sync_back_on_applies_the_latest_held_value(product, owner_actor):
    sku_switch_set(products=[product], kind=SwitchKind.STOCK, enabled=False, actor=owner_actor)
    held(product, value=40, minutes_ago=10)
    held(product, value=55, source="api", minutes_ago=1)

    sku_switch_set(products=[product], kind=SwitchKind.STOCK, enabled=True, actor=owner_actor)

    product.refresh_from_db()
    assert product.stock == 55
    assert not HeldValue.objects.filter(product=product).exists()
    entry = AuditEntry.objects.get(entity_id=product.pk, field="stock")
    assert (entry.old_value, entry.new_value, entry.source) == ("10", "55", "api")


def test_held_values_are_not_applied_while_the_module_is_still_paused(merchant_a, product, owner_actor):
    module_switch_set(merchant=merchant_a, module=Module.STOCK, enabled=False, actor=owner_actor)
    sku_switch_set(products=[product], kind=SwitchKind.STOCK, enabled=False, actor=owner_actor)
    held(product, value=77)

    sku_switch_set(products=[product], kind=SwitchKind.STOCK, enabled=True, actor=owner_actor)

    product.refresh_from_db()
    assert product.stock == 10
    assert HeldValue.objects.filter(product=product, field="stock").exists()

    module_switch_set(merchant=merchant_a, module=Module.STOCK, enabled=True, actor=owner_actor)

    product.refresh_from_db()
    assert product.stock == 77
    assert not HeldValue.objects.exists()


def test_held_values_are_not_applied_while_the_sku_is_still_paused(merchant_a, product, owner_actor):
    module_switch_set(merchant=merchant_a, module=Module.STOCK, enabled=False, actor=owner_actor)
    sku_switch_set(products=[product], kind=SwitchKind.STOCK, enabled=False, until=later(), actor=owner_actor)
    held(product, value=77)

    module_switch_set(merchant=merchant_a, module=Module.STOCK, enabled=True, actor=owner_actor)

    product.refresh_from_db()
    assert product.stock == 10
    assert HeldValue.objects.filter(product=product).count() == 1


def test_turning_prices_back_on_applies_held_prices_only(merchant_a, product, owner_actor):
    module_switch_set(merchant=merchant_a, module=Module.PRICES, enabled=False, actor=owner_actor)
    held(product, field="default_price", value="13.80")
    held(product, field="stock", value=3)

    module_switch_set(merchant=merchant_a, module=Module.PRICES, enabled=True, actor=owner_actor)

    product.refresh_from_db()
    assert product.default_price == Decimal("13.80")
    assert product.stock == 10
    assert list(HeldValue.objects.values_list("field", flat=True)) == ["stock"]


def test_module_held_values_of_another_merchant_are_untouched(merchant_a, outsider_product, owner_actor):
    module_switch_set(merchant=merchant_a, module=Module.STOCK, enabled=False, actor=owner_actor)
    held(outsider_product, value=1)

    module_switch_set(merchant=merchant_a, module=Module.STOCK, enabled=True, actor=owner_actor)

    outsider_product.refresh_from_db()
    assert outsider_product.stock == 10
    assert HeldValue.objects.filter(product=outsider_product).exists()


# Expired pauses

def test_switches_resume_expired_resumes_expired_pauses_and_applies_held_values(merchant_a, product, owner_actor):
    other = ProductFactory(merchant=merchant_a)
    sku_switch_set(products=[product], kind=SwitchKind.STOCK, enabled=False, until=later(1), actor=owner_actor)
    sku_switch_set(products=[other], kind=SwitchKind.STOCK, enabled=False, until=later(1), actor=owner_actor)
    module_switch_set(merchant=merchant_a, module=Module.ORDERS, enabled=False, until=later(1), actor=owner_actor)
    SkuSwitch.objects.filter(product=product).update(paused_until=timezone.now() - timedelta(minutes=1))
    ModuleSwitch.objects.filter(module=Module.ORDERS).update(paused_until=timezone.now() - timedelta(minutes=1))
    held(product, value=31)
    held(other, value=32)

    assert switches_resume_expired() == 2

    expired = SkuSwitch.objects.get(product=product)
    assert (expired.enabled, expired.paused_until) == (True, None)
    assert ModuleSwitch.objects.get(module=Module.ORDERS).enabled is True
    assert SkuSwitch.objects.get(product=other).enabled is False
    product.refresh_from_db()
    other.refresh_from_db()
    assert (product.stock, other.stock) == (31, 10)
    resumed = AuditEntry.objects.get(entity_id=product.pk, field="switch[stock]", new_value="on")
    assert resumed.source == AuditSource.SYSTEM and resumed.actor is None


def test_switches_resume_expired_leaves_indefinite_pauses_alone(merchant_a, product, owner_actor):
    sku_switch_set(products=[product], kind=SwitchKind.STOCK, enabled=False, actor=owner_actor)
    module_switch_set(merchant=merchant_a, module=Module.STOCK, enabled=False, actor=owner_actor)

    assert switches_resume_expired() == 0
    assert SkuSwitch.objects.get(product=product).enabled is False
    assert ModuleSwitch.objects.get(module=Module.STOCK).enabled is False


def test_switches_resume_expired_is_safe_to_run_twice(product, owner_actor):
    sku_switch_set(products=[product], kind=SwitchKind.STOCK, enabled=False, until=later(1), actor=owner_actor)
    SkuSwitch.objects.update(paused_until=timezone.now() - timedelta(minutes=1))

    assert switches_resume_expired() == 1
    assert switches_resume_expired() == 0
