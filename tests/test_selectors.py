import pytest
from django.core.exceptions import ObjectDoesNotExist
from django.db import connection
from django.test.utils import CaptureQueriesContext

from merchant.models import ListingState
from merchant.permissions import Actor
from merchant.selectors import (
    customers_for_merchant, erp_codes_by_customer, order_detail, paused_switches, paused_kinds_by_product,
    products_search,
)
from merchant.services.switches import module_switch_set, sku_switch_set

from .factories import (
    CustomerFactory, ErpCustomerCodeFactory, OrderFactory, ProductFactory, SkuSwitchFactory,
)


def erp_ids(qs):
    return [p.erp_product_id for p in qs]


def test_products_search_only_returns_the_merchants_products(product, outsider_product):
    assert erp_ids(products_search(product.merchant)) == [product.erp_product_id]


def test_products_search_by_name_erp_id_or_barcode(merchant_a, outsider_product):
    ProductFactory(merchant=merchant_a, erp_product_id="P-100", name="Aspirin Tablets", barcode="6901")
    ProductFactory(merchant=merchant_a, erp_product_id="P-200", name="Ibuprofen", barcode="6902")
    ProductFactory(merchant=merchant_a, erp_product_id="P-1000", name="Vitamin C", barcode="6903")

    assert erp_ids(products_search(merchant_a, q="aspirin")) == ["P-100"]
    assert erp_ids(products_search(merchant_a, q=" P-100 ")) == ["P-100", "P-1000"]  # an id prefix
    assert erp_ids(products_search(merchant_a, q="6902")) == ["P-200"]
    assert erp_ids(products_search(merchant_a, q=outsider_product.name)) == []


def test_products_search_filters_listing_state_match_and_zero_stock(merchant_a):
    ProductFactory(merchant=merchant_a, erp_product_id="LISTED", stock=5)
    ProductFactory(merchant=merchant_a, erp_product_id="PENDING", pending=True, stock=0)
    ProductFactory(merchant=merchant_a, erp_product_id="READY", listing_state=ListingState.READY, stock=0)

    assert erp_ids(products_search(merchant_a, listing_state=ListingState.PENDING_REVIEW)) == ["PENDING"]
    assert erp_ids(products_search(merchant_a, matched="no")) == ["PENDING"]
    assert erp_ids(products_search(merchant_a, matched="yes")) == ["LISTED", "READY"]
    assert erp_ids(products_search(merchant_a, zero_stock=True)) == ["PENDING", "READY"]
    assert erp_ids(products_search(merchant_a, zero_stock=True, matched="yes")) == ["READY"]


def test_products_search_filters_paused_switch_kind(merchant_a, owner_actor):
    paused_stock = ProductFactory(merchant=merchant_a, erp_product_id="A")
    paused_price = ProductFactory(merchant=merchant_a, erp_product_id="B")
    ProductFactory(merchant=merchant_a, erp_product_id="C")
    sku_switch_set(products=[paused_stock], kind="stock", enabled=False, actor=owner_actor)
    sku_switch_set(products=[paused_price], kind="price", enabled=False, actor=owner_actor)
    SkuSwitchFactory(product=ProductFactory(merchant=merchant_a, erp_product_id="D"), kind="stock", enabled=True)

    assert erp_ids(products_search(merchant_a, paused="stock")) == ["A"]
    assert erp_ids(products_search(merchant_a, paused="price")) == ["B"]
    assert len(products_search(merchant_a, paused="bogus")) == 4
    assert paused_kinds_by_product(products_search(merchant_a)) == {
        paused_stock.pk: {"stock"}, paused_price.pk: {"price"}}


def test_customers_for_merchant_are_those_who_ordered_or_have_its_code(merchant_a, merchant_b, customer,
                                                                       outsider_customer):
    ordered = CustomerFactory(name="Ordered Only")
    OrderFactory(merchant=merchant_a, customer=ordered, items=1)
    OrderFactory(merchant=merchant_b, customer=outsider_customer, items=1)
    CustomerFactory(name="Nobody's")

    assert [c.name for c in customers_for_merchant(merchant_a)] == ["Alpha Pharmacy", "Ordered Only"]
    assert [c.name for c in customers_for_merchant(merchant_b)] == ["Beta Pharmacy"]


def test_customer_with_both_an_order_and_a_code_is_listed_once(merchant_a, customer):
    OrderFactory(merchant=merchant_a, customer=customer, items=1)
    OrderFactory(merchant=merchant_a, customer=customer, items=1)

    assert list(customers_for_merchant(merchant_a)) == [customer]


def test_customer_search_by_name_uscc_and_own_erp_code(merchant_a, merchant_b, customer, outsider_customer):
    # The outsider's customer also ordered from merchant A, so it is in A's list, but B's code must not find it.
    OrderFactory(merchant=merchant_a, customer=outsider_customer, items=1)

    assert list(customers_for_merchant(merchant_a, q="alpha")) == [customer]
    assert list(customers_for_merchant(merchant_a, q=customer.uscc.lower())) == [customer]
    assert list(customers_for_merchant(merchant_a, q="CUST-A1")) == [customer]
    assert list(customers_for_merchant(merchant_a, q="CUST-B1")) == []
    assert list(customers_for_merchant(merchant_b, q="CUST-A1")) == []


def test_erp_codes_by_customer_is_scoped_to_the_merchant(merchant_a, merchant_b, customer):
    ErpCustomerCodeFactory(merchant=merchant_b, customer=customer, code="B-SIDE")

    assert erp_codes_by_customer(merchant_a, [customer]) == {customer.pk: "CUST-A1"}
    assert erp_codes_by_customer(merchant_b, [customer]) == {customer.pk: "B-SIDE"}


def test_order_detail_loads_everything_in_a_fixed_number_of_queries(order, merchant_b):
    with CaptureQueriesContext(connection) as ctx:
        loaded = order_detail(order.merchant, order.pk)
        items = list(loaded.items.all())
        list(loaded.shipments.all())
        list(loaded.tracking.all())
        loaded.customer and loaded.customer.name
    assert len(items) == 2
    assert len(ctx.captured_queries) <= 5


def test_order_detail_of_another_merchants_order_is_not_found(order, merchant_b):
    with pytest.raises(ObjectDoesNotExist):
        order_detail(merchant_b, order.pk)


def test_paused_switches_lists_only_the_merchants_paused_switches(merchant_a, merchant_b, product,
                                                                  outsider_product, owner_actor, outsider):
    sku_switch_set(products=[product], kind="stock", enabled=False, actor=owner_actor)
    module_switch_set(merchant=merchant_a, module="orders", enabled=False, actor=owner_actor)
    sku_switch_set(products=[outsider_product], kind="stock", enabled=False, actor=Actor.for_user(outsider))

    modules, skus = paused_switches(merchant_a)

    assert [m.module for m in modules] == ["orders"]
    assert [s.product_id for s in skus] == [product.pk]


def test_small_lists_are_counted_exactly_and_not_called_estimates(merchant_a):
    from merchant.models import Product
    from merchant.selectors import EstimatedCountPaginator

    from .factories import ProductFactory

    ProductFactory.create_batch(3, merchant=merchant_a)
    paginator = EstimatedCountPaginator(Product.objects.filter(merchant=merchant_a).order_by("pk"), 2)
    assert paginator.count == 3
    assert paginator.num_pages == 2
    assert paginator.count_is_estimate is False
