"""Every back-office page renders for each role of merchant A and shows the right data."""
from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from merchant.models import ListingState, Role

from .factories import BatchFactory, CustomerFactory, OrderFactory, ProductFactory, SkuSwitchFactory

ROLES = ["owner", "operator", "viewer"]


pytestmark = pytest.mark.usefixtures("english_pages")

@pytest.fixture(params=ROLES)
def role_client(request):
    """A client logged in as each role of merchant A in turn."""
    return request.getfixturevalue(f"client_{request.param}")


def names_on_page(response, attr="name"):
    return {getattr(obj, attr) for obj in response.context["page"].object_list}


# --- dashboard ----------------------------------------------------------------------------------------------------


def test_dashboard_counts_orders_awaiting_shipment_and_lists_low_stock(role_client, order, product):
    response = role_client.get(reverse("dashboard"))
    assert response.status_code == 200
    stats = response.context["stats"]
    assert stats["awaiting_shipment"] == 1
    assert stats["not_taken_by_erp"] == 1
    assert dict((s.value, n) for s, _label, n in stats["products_by_state"])[ListingState.LISTED] == 2
    # Stock 10 is at the default low-stock threshold of 10, so the listed product is an alert.
    assert product.name in response.content.decode()


def test_dashboard_lists_batches_expiring_within_90_days(client_viewer, merchant_a):
    soon = BatchFactory(product__merchant=merchant_a, product__name="Expiring Syrup",
                        expiry_date=timezone.localdate() + timedelta(days=30))
    BatchFactory(product__merchant=merchant_a, product__name="Fresh Syrup", product__stock=100,
                 expiry_date=timezone.localdate() + timedelta(days=400))
    response = client_viewer.get(reverse("dashboard"))
    assert list(response.context["stats"]["expiring_batches"]) == [soon]
    assert "Expiring Syrup" in response.content.decode()
    assert "Fresh Syrup" not in response.content.decode()


# --- products -----------------------------------------------------------------------------------------------------


@pytest.fixture
def catalog(merchant_a):
    """Four products of merchant A that differ in exactly one filterable property each."""
    listed = ProductFactory(merchant=merchant_a, erp_product_id="P-LISTED", name="Listed Aspirin",
                            barcode="6900000000011")
    pending = ProductFactory(merchant=merchant_a, erp_product_id="P-PENDING", name="Pending Balm", pending=True)
    zero = ProductFactory(merchant=merchant_a, erp_product_id="P-ZERO", name="Zero Cough Drops", ready=True)
    paused = ProductFactory(merchant=merchant_a, erp_product_id="P-PAUSED", name="Paused Vitamin C")
    SkuSwitchFactory(product=paused, kind="price", enabled=False)
    return {"listed": listed, "pending": pending, "zero": zero, "paused": paused}


@pytest.mark.parametrize("params, expected", [
    ({}, {"listed", "pending", "zero", "paused"}),
    ({"q": "aspirin"}, {"listed"}),                       # name, case-insensitive
    ({"q": "P-PENDING"}, {"pending"}),                    # exact ERP product id
    ({"q": "6900000000011"}, {"listed"}),                 # exact barcode
    ({"state": "pending_review"}, {"pending"}),
    ({"state": "ready"}, {"zero"}),
    ({"state": "listed"}, {"listed", "paused"}),
    ({"matched": "no"}, {"pending"}),
    ({"matched": "yes"}, {"listed", "zero", "paused"}),
    ({"zero_stock": "1"}, {"zero"}),
    ({"paused": "price"}, {"paused"}),
    ({"paused": "stock"}, set()),
    ({"state": "listed", "paused": "price"}, {"paused"}),
])
def test_product_list_filters(role_client, catalog, params, expected):
    response = role_client.get(reverse("product_list"), params)
    assert response.status_code == 200
    assert names_on_page(response) == {catalog[k].name for k in expected}
    content = response.content.decode()
    for key, product in catalog.items():
        assert (product.name in content) == (key in expected), product.name


def test_product_list_shows_bulk_actions_only_to_editors(client_operator, client_viewer, product):
    assert 'name="ids"' in client_operator.get(reverse("product_list")).content.decode()
    assert 'name="ids"' not in client_viewer.get(reverse("product_list")).content.decode()


def test_product_detail_shows_the_product_prices_and_batches(role_client, merchant_a):
    batch = BatchFactory(product__merchant=merchant_a, product__name="Batch Managed Tablets", batch_no="LOT-778")
    response = role_client.get(reverse("product_detail", args=[batch.product.pk]))
    assert response.status_code == 200
    content = response.content.decode()
    assert "Batch Managed Tablets" in content
    assert batch.product.erp_product_id in content
    assert "LOT-778" in content


def test_product_detail_offers_edit_forms_to_editors_only(client_owner, client_operator, client_viewer, product):
    url = reverse("product_detail", args=[product.pk])
    for client in (client_owner, client_operator):
        assert reverse("product_edit", args=[product.pk]) in client.get(url).content.decode()
    content = client_viewer.get(url).content.decode()
    assert reverse("product_edit", args=[product.pk]) not in content
    assert reverse("product_stock", args=[product.pk]) not in content
    assert "¥12.50" in content  # the viewer sees the default price as text


def test_product_detail_warns_that_auto_stock_sync_would_overwrite_a_manual_value(client_operator, product):
    content = client_operator.get(reverse("product_detail", args=[product.pk])).content.decode()
    assert "Auto stock sync is on for this SKU" in content
    assert 'name="pause_for"' in content
    SkuSwitchFactory(product=product, kind="stock", enabled=False)
    content = client_operator.get(reverse("product_detail", args=[product.pk])).content.decode()
    assert "Auto stock sync is on for this SKU" not in content


# --- orders -------------------------------------------------------------------------------------------------------


def test_order_detail_shows_the_five_parts(role_client, order, customer):
    item = order.items.first()
    response = role_client.get(reverse("order_detail", args=[order.pk]))
    assert response.status_code == 200
    content = response.content.decode()
    for part in ("part-basic", "part-amounts", "part-shipping", "part-invoice", "part-items"):
        assert f'id="{part}"' in content
    assert order.order_no in content
    assert customer.name in content
    assert item.item_name in content
    assert "Li Si" in content  # the receiver


def test_order_detail_offers_order_operations_to_editors_only(client_operator, client_viewer, order):
    url = reverse("order_detail", args=[order.pk])
    operator_page = client_operator.get(url).content.decode()
    viewer_page = client_viewer.get(url).content.decode()
    for action in ("order_status", "order_logistics", "order_erp_status"):
        assert reverse(action, args=[order.pk]) in operator_page
        assert reverse(action, args=[order.pk]) not in viewer_page
    assert 'name="s-tracking_no"' in operator_page
    assert 'name="s-tracking_no"' not in viewer_page


def test_order_list_shows_the_merchants_orders(role_client, order):
    response = role_client.get(reverse("order_list"))
    assert response.status_code == 200
    assert names_on_page(response, "order_no") == {order.order_no}
    assert order.order_no in response.content.decode()


# --- customers ----------------------------------------------------------------------------------------------------


def test_customer_list_shows_customers_with_their_erp_code(role_client, customer):
    response = role_client.get(reverse("customer_list"))
    assert response.status_code == 200
    content = response.content.decode()
    assert customer.name in content
    assert "CUST-A1" in content


def test_customer_list_search_by_name_uscc_and_erp_code(client_viewer, customer, merchant_a):
    other = CustomerFactory(name="Gamma Clinic")
    OrderFactory(merchant=merchant_a, customer=other)
    for q, expected in [("alpha", customer), (customer.uscc, customer), ("CUST-A1", customer),
                        ("gamma", other)]:
        response = client_viewer.get(reverse("customer_list"), {"q": q})
        assert list(response.context["page"].object_list) == [expected], q


def test_customer_detail_shows_code_and_orders(role_client, customer, order):
    response = role_client.get(reverse("customer_detail", args=[customer.pk]))
    assert response.status_code == 200
    content = response.content.decode()
    assert customer.name in content
    assert customer.uscc in content
    assert "CUST-A1" in content
    assert order.order_no in content


# --- switches, team, password -------------------------------------------------------------------------------------


def test_switches_page_lists_every_module_and_what_is_paused(role_client, owner, product):
    SkuSwitchFactory(product=product, kind="stock", enabled=False, changed_by=owner, reason="manual oversell")
    response = role_client.get(reverse("switches"))
    assert response.status_code == 200
    content = response.content.decode()
    assert len(response.context["modules"]) == 8
    assert product.name in content
    assert "manual oversell" in content


def test_switches_page_offers_module_switches_to_owners_only(client_owner, client_operator, client_viewer):
    assert reverse("module_switch") in client_owner.get(reverse("switches")).content.decode()
    assert reverse("module_switch") not in client_operator.get(reverse("switches")).content.decode()
    assert reverse("module_switch") not in client_viewer.get(reverse("switches")).content.decode()


@pytest.mark.parametrize("role, status", [("owner", 200), ("operator", 403), ("viewer", 403)])
def test_team_page_is_for_owners_only(request, role, status, operator, viewer):
    response = request.getfixturevalue(f"client_{role}").get(reverse("team"))
    assert response.status_code == status
    if status == 200:
        assert {m.user.username for m in response.context["members"]} == {"owner", "operator", "viewer"}


def test_team_link_is_shown_to_owners_only(client_owner, client_operator):
    assert reverse("team") in client_owner.get(reverse("dashboard")).content.decode()
    assert reverse("team") not in client_operator.get(reverse("dashboard")).content.decode()


def test_password_change_page_renders(role_client):
    response = role_client.get(reverse("password_change"))
    assert response.status_code == 200
    assert 'name="old_password"' in response.content.decode()


def test_every_page_shows_the_users_merchant_and_role(client_operator):
    content = client_operator.get(reverse("dashboard")).content.decode()
    assert "Merchant A" in content
    assert str(Role.OPERATOR.label) in content
