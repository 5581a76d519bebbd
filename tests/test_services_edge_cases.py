"""Edge cases of the order and switch services found in review."""
import pytest
from django.core.exceptions import ValidationError

from merchant.models import HeldValue, OrderStatus, SkuSwitch
from merchant.services.orders import order_logistics_enter
from merchant.services.switches import sku_switch_set

from .factories import HeldValueFactory, SkuSwitchFactory


def test_logistics_on_a_shipped_order_says_it_cannot_be_shipped(order, carrier, owner_actor, english):
    order_logistics_enter(order=order, carrier=carrier, tracking_no="SF1", actor=owner_actor)
    with pytest.raises(ValidationError) as err:
        order_logistics_enter(order=order, carrier=carrier, tracking_no="SF2", actor=owner_actor)
    assert "cannot be shipped" in str(err.value)
    order.refresh_from_db()
    assert order.status == OrderStatus.SHIPPED and order.tracking_no == "SF1"


def test_an_invalid_held_value_stays_held_and_the_switch_still_turns_on(product, owner_actor):
    SkuSwitchFactory(product=product, kind="stock", enabled=False)
    HeldValueFactory(product=product, merchant=product.merchant, field="stock", value=-5)
    sku_switch_set(products=[product], kind="stock", enabled=True, actor=owner_actor)
    assert SkuSwitch.objects.get(product=product, kind="stock").enabled
    product.refresh_from_db()
    assert product.stock == 10
    assert HeldValue.objects.filter(product=product, field="stock").exists()


def test_switches_accept_a_generator_of_products_and_apply_held_values(product, owner_actor):
    SkuSwitchFactory(product=product, kind="stock", enabled=False)
    HeldValueFactory(product=product, merchant=product.merchant, field="stock", value=42)
    sku_switch_set(products=(p for p in [product]), kind="stock", enabled=True, actor=owner_actor)
    product.refresh_from_db()
    assert product.stock == 42


def test_approval_without_a_base_product_is_refused(merchant_a, english):
    from merchant.models import ListingState
    from merchant.permissions import Actor
    from merchant.services.catalog import product_approve

    from .factories import ProductFactory

    product = ProductFactory(merchant=merchant_a, pending=True, stock=5)
    with pytest.raises(ValidationError) as err:
        product_approve(product=product, base_product=None, actor=Actor.system())
    assert "base_product" in err.value.message_dict
    product.refresh_from_db()
    assert product.listing_state == ListingState.PENDING_REVIEW
