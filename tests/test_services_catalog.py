from decimal import Decimal

import pytest
from django.core.exceptions import PermissionDenied, ValidationError

from merchant.models import AuditEntry, AuditSource, GroupPrice, ListingState, Product
from merchant.permissions import Actor
from merchant.services.catalog import (
    group_price_delete, group_price_set, listing_set, product_approve, product_update,
)

from .factories import BaseProductFactory, CustomerGroupFactory, ProductFactory, RegionGroupFactory

# Messages are asserted in English; the default language is Simplified Chinese.
pytestmark = pytest.mark.usefixtures("english")


def audits(product, field):
    return list(AuditEntry.objects.filter(entity="product", entity_id=product.pk, field=field).order_by("id"))


# Product fields and prices (SPEC M3, M5)

def test_product_update_changes_fields_and_audits_each_changed_field(product, operator, operator_actor):
    product_update(product=product, actor=operator_actor, name="Renamed", default_price=Decimal("15.00"),
                   spec=product.spec)

    product.refresh_from_db()
    assert product.name == "Renamed"
    assert product.default_price == Decimal("15.00")
    fields = set(AuditEntry.objects.filter(entity_id=product.pk).values_list("field", flat=True))
    assert fields == {"name", "default_price"}
    [price] = audits(product, "default_price")
    assert (price.old_value, price.new_value, price.actor) == ("12.50", "15.00", operator)


@pytest.mark.parametrize("price", [Decimal("0"), Decimal("0.00"), Decimal("-1.00")])
def test_default_price_must_be_greater_than_zero(product, owner_actor, price):
    with pytest.raises(ValidationError) as exc:
        product_update(product=product, actor=owner_actor, default_price=price)

    assert "default_price" in exc.value.message_dict
    product.refresh_from_db()
    assert product.default_price == Decimal("12.50")


@pytest.mark.parametrize("price", [Decimal("1.234"), Decimal("0.001"), "9.999"])
def test_price_with_more_than_two_decimals_is_rejected(product, owner_actor, price):
    with pytest.raises(ValidationError) as exc:
        product_update(product=product, actor=owner_actor, default_price=price)

    assert "2 decimal" in str(exc.value)
    product.refresh_from_db()
    assert product.default_price == Decimal("12.50")


@pytest.mark.parametrize("price", ["abc", "", "NaN", "Infinity", "-Infinity", [], Decimal("sNaN")])
def test_a_price_that_is_not_a_number_is_a_validation_error(product, owner_actor, price):
    # The import and the Open API pass what they received: it must come back as a field error, not a crash.
    with pytest.raises(ValidationError) as exc:
        product_update(product=product, actor=owner_actor, default_price=price)

    assert "default_price" in exc.value.message_dict
    product.refresh_from_db()
    assert product.default_price == Decimal("12.50")


def test_a_price_too_large_for_the_column_is_a_validation_error(product, owner_actor):
    with pytest.raises(ValidationError) as exc:
        product_update(product=product, actor=owner_actor, default_price=Decimal("12345678901.00"))

    assert "default_price" in exc.value.message_dict
    product_update(product=product, actor=owner_actor, default_price=Decimal("9999999999.99"))
    product.refresh_from_db()
    assert product.default_price == Decimal("9999999999.99")


def test_group_price_that_is_not_a_number_is_a_validation_error(product, owner_actor):
    with pytest.raises(ValidationError) as exc:
        group_price_set(product=product, region_group=RegionGroupFactory(), price="twelve", actor=owner_actor)

    assert "price" in exc.value.message_dict
    assert not GroupPrice.objects.exists()


def test_suggested_retail_price_is_validated_and_may_be_cleared(product, owner_actor):
    with pytest.raises(ValidationError) as exc:
        product_update(product=product, actor=owner_actor, suggested_retail_price=Decimal("-2"))
    assert "suggested_retail_price" in exc.value.message_dict

    product_update(product=product, actor=owner_actor, suggested_retail_price=Decimal("19.90"))
    product.refresh_from_db()
    assert product.suggested_retail_price == Decimal("19.90")

    product_update(product=product, actor=owner_actor, suggested_retail_price=None)
    product.refresh_from_db()
    assert product.suggested_retail_price is None


def test_default_price_cannot_be_removed(product, owner_actor):
    with pytest.raises(ValidationError) as exc:
        product_update(product=product, actor=owner_actor, default_price=None)

    assert "default_price" in exc.value.message_dict


def test_product_update_refuses_fields_that_are_not_editable_there(product, owner_actor):
    with pytest.raises(ValueError):
        product_update(product=product, actor=owner_actor, stock=99)
    with pytest.raises(ValueError):
        product_update(product=product, actor=owner_actor, listing_state=ListingState.LISTED)


def test_viewer_cannot_update_a_product(product, viewer_actor):
    with pytest.raises(PermissionDenied):
        product_update(product=product, actor=viewer_actor, name="Nope")

    product.refresh_from_db()
    assert product.name != "Nope"


# Group prices (SPEC M5)

def test_region_group_price_is_set_then_replaced_with_audit(product, owner_actor):
    region = RegionGroupFactory(name="South China", provinces=["广东", "广西"])

    first = group_price_set(product=product, region_group=region, price=Decimal("11.00"), actor=owner_actor)
    second = group_price_set(product=product, region_group=region, price=Decimal("10.50"), actor=owner_actor)

    assert first.pk == second.pk
    assert GroupPrice.objects.get(product=product, region_group=region).price == Decimal("10.50")
    trail = [(e.old_value, e.new_value) for e in audits(product, "price[South China]")]
    assert trail == [("", "11.00"), ("11.00", "10.50")]


def test_customer_group_price_is_separate_from_region_group_price(product, owner_actor):
    region = RegionGroupFactory()
    group = CustomerGroupFactory()

    group_price_set(product=product, region_group=region, price=Decimal("11.00"), actor=owner_actor)
    group_price_set(product=product, customer_group=group, price=Decimal("9.80"), actor=owner_actor)

    prices = {(gp.region_group_id, gp.customer_group_id): gp.price for gp in product.group_prices.all()}
    assert prices == {(region.pk, None): Decimal("11.00"), (None, group.pk): Decimal("9.80")}


def test_group_price_needs_exactly_one_group(product, owner_actor):
    with pytest.raises(ValidationError):
        group_price_set(product=product, price=Decimal("5.00"), actor=owner_actor)
    with pytest.raises(ValidationError):
        group_price_set(product=product, price=Decimal("5.00"), actor=owner_actor,
                        region_group=RegionGroupFactory(), customer_group=CustomerGroupFactory())
    assert not GroupPrice.objects.exists()


@pytest.mark.parametrize("price", [Decimal("0"), Decimal("-3"), Decimal("1.005")])
def test_group_price_is_validated_like_other_prices(product, owner_actor, price):
    region = RegionGroupFactory()

    with pytest.raises(ValidationError):
        group_price_set(product=product, region_group=region, price=price, actor=owner_actor)
    assert not GroupPrice.objects.exists()


def test_invalid_replacement_leaves_the_group_price_in_force(product, owner_actor):
    region = RegionGroupFactory()
    group_price_set(product=product, region_group=region, price=Decimal("11.00"), actor=owner_actor)

    with pytest.raises(ValidationError):
        group_price_set(product=product, region_group=region, price=Decimal("0"), actor=owner_actor)

    assert GroupPrice.objects.get(product=product).price == Decimal("11.00")


def test_group_price_delete_removes_it_and_audits(product, owner_actor):
    group = CustomerGroupFactory(name="Chain stores")
    gp = group_price_set(product=product, customer_group=group, price=Decimal("9.00"), actor=owner_actor)

    group_price_delete(group_price=gp, actor=owner_actor)

    assert not GroupPrice.objects.filter(product=product).exists()
    assert [(e.old_value, e.new_value) for e in audits(product, "price[Chain stores]")][-1] == ("9.00", "")


def test_viewer_cannot_set_or_delete_group_prices(product, owner_actor, viewer_actor):
    region = RegionGroupFactory()
    gp = group_price_set(product=product, region_group=region, price=Decimal("11.00"), actor=owner_actor)

    with pytest.raises(PermissionDenied):
        group_price_set(product=product, region_group=region, price=Decimal("1.00"), actor=viewer_actor)
    with pytest.raises(PermissionDenied):
        group_price_delete(group_price=gp, actor=viewer_actor)

    assert GroupPrice.objects.get(pk=gp.pk).price == Decimal("11.00")


# Listing (SPEC M8)

def test_listing_set_lists_ready_products_with_stock_and_audits(merchant_a, operator_actor):
    product = ProductFactory(merchant=merchant_a, listing_state=ListingState.READY, stock=5)

    changed, refused = listing_set(products=[product], listed=True, actor=operator_actor)

    assert [p.pk for p in changed] == [product.pk] and refused == []
    product.refresh_from_db()
    assert product.listing_state == ListingState.LISTED
    [entry] = audits(product, "listing_state")
    assert (entry.old_value, entry.new_value) == ("ready", "listed")


def test_listing_set_refuses_pending_review_and_zero_stock_with_reasons(merchant_a, operator_actor):
    pending = ProductFactory(merchant=merchant_a, pending=True, stock=50)
    empty = ProductFactory(merchant=merchant_a, listing_state=ListingState.READY, stock=0)
    fine = ProductFactory(merchant=merchant_a, listing_state=ListingState.DELISTED, stock=1)

    changed, refused = listing_set(products=[pending, empty, fine], listed=True, actor=operator_actor)

    assert [p.pk for p in changed] == [fine.pk]
    reasons = {p.pk: reason for p, reason in refused}
    assert set(reasons) == {pending.pk, empty.pk}
    assert "pending review" in reasons[pending.pk]
    assert "no stock" in reasons[empty.pk]
    states = dict(Product.objects.values_list("pk", "listing_state"))
    assert states[pending.pk] == ListingState.PENDING_REVIEW
    assert states[empty.pk] == ListingState.READY
    assert states[fine.pk] == ListingState.LISTED


def test_delisting_is_allowed_without_stock(merchant_a, operator_actor):
    product = ProductFactory(merchant=merchant_a, listing_state=ListingState.LISTED, stock=0)

    changed, refused = listing_set(products=[product], listed=False, actor=operator_actor)

    assert refused == [] and len(changed) == 1
    product.refresh_from_db()
    assert product.listing_state == ListingState.DELISTED


def test_listing_an_already_listed_product_changes_nothing(product, operator_actor):
    changed, refused = listing_set(products=[product], listed=True, actor=operator_actor)

    assert changed == [] and refused == []
    assert audits(product, "listing_state") == []


def test_viewer_cannot_list_products(merchant_a, viewer_actor):
    product = ProductFactory(merchant=merchant_a, listing_state=ListingState.READY, stock=5)

    with pytest.raises(PermissionDenied):
        listing_set(products=[product], listed=True, actor=viewer_actor)

    product.refresh_from_db()
    assert product.listing_state == ListingState.READY


# Platform review (SPEC M4 listing rule)

def test_approving_a_product_with_stock_links_it_and_lists_it(merchant_a):
    product = ProductFactory(merchant=merchant_a, pending=True, stock=4)
    base = BaseProductFactory()

    product_approve(product=product, base_product=base, actor=Actor.system())

    product.refresh_from_db()
    assert product.base_product == base
    assert product.listing_state == ListingState.LISTED
    entry = audits(product, "listing_state")[0]
    assert (entry.old_value, entry.new_value, entry.source) == ("pending_review", "listed", AuditSource.SYSTEM)


def test_approving_a_product_without_stock_makes_it_ready_not_listed(merchant_a):
    product = ProductFactory(merchant=merchant_a, pending=True, stock=0)

    product_approve(product=product, base_product=BaseProductFactory(), actor=Actor.system())

    product.refresh_from_db()
    assert product.listing_state == ListingState.READY
    assert product.base_product is not None
