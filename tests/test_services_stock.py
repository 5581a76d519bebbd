from datetime import timedelta

import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from django.utils import timezone

from merchant.models import AuditEntry, AuditSource, Product, SkuSwitch
from merchant.permissions import Actor
from merchant.services.catalog import batch_delete, batch_save, product_update
from merchant.services.stock import stock_recompute_from_batches, stock_set, stock_set_by_hand

from .factories import BatchFactory, ProductFactory

# Messages are asserted in English; the default language is Simplified Chinese.
pytestmark = pytest.mark.usefixtures("english")


def stock_audits(product):
    return list(AuditEntry.objects.filter(entity="product", entity_id=product.pk, field="stock").order_by("id"))


def test_stock_set_changes_stock_and_audits_old_and_new_with_user(product, operator, operator_actor):
    stock_set(product=product, quantity=25, actor=operator_actor, reason="recount")

    product.refresh_from_db()
    assert product.stock == 25
    [entry] = stock_audits(product)
    assert (entry.old_value, entry.new_value) == ("10", "25")
    assert entry.source == AuditSource.USER
    assert entry.actor == operator
    assert entry.reason == "recount"
    assert entry.merchant_id == product.merchant_id


def test_stock_set_records_the_automatic_source_without_a_user(product):
    stock_set(product=product, quantity=7, actor=Actor.system(source=AuditSource.ERP))

    [entry] = stock_audits(product)
    assert entry.source == AuditSource.ERP
    assert entry.actor is None
    assert (entry.old_value, entry.new_value) == ("10", "7")


def test_stock_set_to_the_same_value_writes_no_audit(product, owner_actor):
    stock_set(product=product, quantity=10, actor=owner_actor)

    assert stock_audits(product) == []


def test_stock_set_updates_the_callers_instance(product, owner_actor):
    stock_set(product=product, quantity=3, actor=owner_actor)

    assert product.stock == 3


@pytest.mark.parametrize("quantity", [-1, -100, None])
def test_stock_set_rejects_negative_or_missing_quantity(product, owner_actor, quantity):
    with pytest.raises(ValidationError) as exc:
        stock_set(product=product, quantity=quantity, actor=owner_actor)

    assert "stock" in exc.value.message_dict
    product.refresh_from_db()
    assert product.stock == 10
    assert stock_audits(product) == []


def test_stock_set_accepts_zero(product, owner_actor):
    stock_set(product=product, quantity=0, actor=owner_actor)

    product.refresh_from_db()
    assert product.stock == 0


def test_stock_set_rejects_batch_managed_product(merchant_a, owner_actor):
    batch = BatchFactory(product=ProductFactory(merchant=merchant_a, batch_managed=True, stock=10), quantity=10)

    with pytest.raises(ValidationError) as exc:
        stock_set(product=batch.product, quantity=50, actor=owner_actor)

    assert "batch-managed" in str(exc.value)
    assert Product.objects.get(pk=batch.product.pk).stock == 10


def test_viewer_cannot_set_stock(product, viewer_actor):
    with pytest.raises(PermissionDenied):
        stock_set(product=product, quantity=99, actor=viewer_actor)

    product.refresh_from_db()
    assert product.stock == 10


def test_user_without_membership_cannot_set_stock(product):
    from .factories import UserFactory

    with pytest.raises(PermissionDenied):
        stock_set(product=product, quantity=99, actor=Actor.for_user(UserFactory()))


def test_stock_set_by_hand_can_pause_the_sku_stock_sync_in_the_same_change(product, operator, operator_actor):
    until = timezone.now() + timedelta(hours=4)

    stock_set_by_hand(product=product, quantity=500, actor=operator_actor, pause_sync=True, until=until,
                      reason="oversell for the promotion")

    product.refresh_from_db()
    assert product.stock == 500
    switch = SkuSwitch.objects.get(product=product, kind="stock")
    assert switch.enabled is False
    assert switch.paused_until == until
    assert switch.changed_by == operator


def test_stock_set_by_hand_with_a_past_pause_end_changes_nothing(product, operator_actor):
    with pytest.raises(ValidationError):
        stock_set_by_hand(product=product, quantity=500, actor=operator_actor, pause_sync=True,
                          until=timezone.now() - timedelta(minutes=1))

    product.refresh_from_db()
    assert product.stock == 10
    assert not SkuSwitch.objects.filter(product=product).exists()


# Batches (SPEC M6)

def test_batch_managed_stock_is_the_sum_of_on_sale_batches(merchant_a, owner_actor):
    today = timezone.localdate()
    product = ProductFactory(merchant=merchant_a, batch_managed=True, stock=0)
    batch_save(product=product, actor=owner_actor, batch_no="A1", production_date=today - timedelta(days=10),
               expiry_date=today + timedelta(days=100), quantity=30)
    batch_save(product=product, actor=owner_actor, batch_no="A2", production_date=today - timedelta(days=5),
               expiry_date=today + timedelta(days=200), quantity=12)

    product.refresh_from_db()
    assert product.stock == 42


def test_expired_and_empty_batches_do_not_count_towards_stock(merchant_a, owner_actor):
    today = timezone.localdate()
    product = ProductFactory(merchant=merchant_a, batch_managed=True, stock=0)
    BatchFactory(product=product, batch_no="EXPIRED", production_date=today - timedelta(days=400),
                 expiry_date=today - timedelta(days=1), quantity=100)
    BatchFactory(product=product, batch_no="EMPTY", quantity=0)
    batch_save(product=product, actor=owner_actor, batch_no="GOOD", production_date=today - timedelta(days=1),
               expiry_date=today + timedelta(days=30), quantity=8)

    product.refresh_from_db()
    assert product.stock == 8


def test_batch_with_expiry_before_production_is_rejected(merchant_a, owner_actor):
    today = timezone.localdate()
    product = ProductFactory(merchant=merchant_a, batch_managed=True, stock=0)

    with pytest.raises(ValidationError) as exc:
        batch_save(product=product, actor=owner_actor, batch_no="BAD", production_date=today,
                   expiry_date=today - timedelta(days=1), quantity=5)

    assert "expiry_date" in exc.value.message_dict
    assert not product.batches.exists()
    product.refresh_from_db()
    assert product.stock == 0


def test_batch_with_expiry_on_production_day_is_rejected(merchant_a, owner_actor):
    today = timezone.localdate()
    product = ProductFactory(merchant=merchant_a, batch_managed=True, stock=0)

    with pytest.raises(ValidationError):
        batch_save(product=product, actor=owner_actor, batch_no="SAME", production_date=today,
                   expiry_date=today, quantity=5)


def test_batch_number_must_be_unique_per_product(merchant_a, owner_actor):
    batch = BatchFactory(product=ProductFactory(merchant=merchant_a, batch_managed=True), batch_no="DUP")

    with pytest.raises(ValidationError) as exc:
        batch_save(product=batch.product, actor=owner_actor, batch_no="DUP", production_date=batch.production_date,
                   expiry_date=batch.expiry_date, quantity=1)

    assert "batch_no" in exc.value.message_dict


def test_negative_batch_quantity_is_rejected(merchant_a, owner_actor):
    today = timezone.localdate()
    product = ProductFactory(merchant=merchant_a, batch_managed=True, stock=0)

    with pytest.raises(ValidationError):
        batch_save(product=product, actor=owner_actor, batch_no="NEG", production_date=today,
                   expiry_date=today + timedelta(days=1), quantity=-3)


def test_changing_a_batch_quantity_recomputes_stock_and_audits(merchant_a, owner_actor):
    product = ProductFactory(merchant=merchant_a, batch_managed=True, stock=0)
    batch = BatchFactory(product=product, batch_no="B1", quantity=10)
    stock_recompute_from_batches(product=product, actor=owner_actor)
    product.refresh_from_db()
    assert product.stock == 10

    batch_save(product=product, actor=owner_actor, batch=batch, batch_no="B1",
               production_date=batch.production_date, expiry_date=batch.expiry_date, quantity=4)

    product.refresh_from_db()
    assert product.stock == 4
    assert AuditEntry.objects.filter(entity_id=product.pk, field="batch[B1].quantity",
                                     old_value="10", new_value="4").exists()


def test_deleting_a_batch_recomputes_stock(merchant_a, owner_actor):
    product = ProductFactory(merchant=merchant_a, batch_managed=True, stock=0)
    BatchFactory(product=product, quantity=10)
    doomed = BatchFactory(product=product, quantity=5)
    stock_recompute_from_batches(product=product, actor=owner_actor)

    batch_delete(batch=doomed, actor=owner_actor)

    product.refresh_from_db()
    assert product.stock == 10


def test_batches_do_not_change_stock_of_a_product_that_is_not_batch_managed(product, owner_actor):
    today = timezone.localdate()
    batch_save(product=product, actor=owner_actor, batch_no="X", production_date=today,
               expiry_date=today + timedelta(days=10), quantity=500)

    product.refresh_from_db()
    assert product.stock == 10


def test_turning_on_batch_management_sets_stock_from_batches(product, owner_actor):
    BatchFactory(product=product, quantity=3)
    BatchFactory(product=product, quantity=4)

    product_update(product=product, actor=owner_actor, batch_managed=True)

    product.refresh_from_db()
    assert product.stock == 7


def test_viewer_cannot_add_a_batch(merchant_a, viewer_actor):
    today = timezone.localdate()
    product = ProductFactory(merchant=merchant_a, batch_managed=True, stock=0)

    with pytest.raises(PermissionDenied):
        batch_save(product=product, actor=viewer_actor, batch_no="V", production_date=today,
                   expiry_date=today + timedelta(days=10), quantity=5)
    assert not product.batches.exists()
