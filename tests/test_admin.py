"""The Django admin for platform staff: its pages, the import/export pages and the product review queue."""
import pytest
from django.test import Client
from django.urls import reverse

from merchant.models import AuditEntry, AuditSource, ListingState, Product

from .factories import (
    BaseProductFactory, CarrierFactory, CustomerGroupFactory, ProductFactory, RegionGroupFactory, UserFactory,
)


@pytest.fixture
def staff(db):
    return UserFactory(username="platform", is_staff=True, is_superuser=True)


@pytest.fixture
def client_staff(staff):
    client = Client()
    client.force_login(staff)
    return client


@pytest.fixture
def reference_data(owner, outsider, carrier):
    """One row in every admin list: merchants and memberships (from the users), reference data."""
    BaseProductFactory(name="Aspirin 100mg")
    RegionGroupFactory(code="south", name="South", provinces=["广东省", "广西壮族自治区"])
    CustomerGroupFactory(code="chain", name="Chains")
    CarrierFactory(code="YTO", name="YTO Express", is_active=False)


@pytest.fixture
def review_queue(merchant_a, merchant_b):
    """Pending products of both merchants (one in stock, one without; both linked to a base product by the
    reviewer) and a listed product that is not in the queue."""
    return {
        "in_stock": ProductFactory(merchant=merchant_a, name="Pending in stock", pending=True, stock=5,
                                   base_product=BaseProductFactory()),
        "no_stock": ProductFactory(merchant=merchant_b, name="Pending no stock", pending=True, stock=0,
                                   base_product=BaseProductFactory()),
        "listed": ProductFactory(merchant=merchant_a, name="Already listed"),
    }


QUEUE_URL = "admin:merchant_pendingreviewproduct_changelist"


@pytest.mark.parametrize("url_name", [
    "admin:index",
    "admin:merchant_merchant_changelist",
    "admin:merchant_membership_changelist",
    "admin:auth_user_changelist",
    "admin:merchant_baseproduct_changelist",
    "admin:merchant_regiongroup_changelist",
    "admin:merchant_customergroup_changelist",
    "admin:merchant_carrier_changelist",
    QUEUE_URL,
])
def test_staff_can_open_every_admin_list(client_staff, reference_data, review_queue, url_name):
    response = client_staff.get(reverse(url_name))

    assert response.status_code == 200
    if url_name != "admin:index":
        assert response.context["cl"].result_count > 0  # the rows rendered, not just an empty page


@pytest.mark.parametrize("model", ["baseproduct", "carrier", "regiongroup", "customergroup"])
@pytest.mark.parametrize("page", ["import", "export"])
def test_staff_can_open_the_import_and_export_pages(client_staff, reference_data, model, page):
    changelist = client_staff.get(reverse(f"admin:merchant_{model}_changelist"))
    url = reverse(f"admin:merchant_{model}_{page}")

    response = client_staff.get(url)

    assert response.status_code == 200
    assert url in changelist.content.decode()  # the changelist's button leads there
    assert "form" in response.context


def test_review_queue_lists_only_products_pending_review(client_staff, review_queue):
    response = client_staff.get(reverse(QUEUE_URL))

    listed = {p.pk for p in response.context["cl"].result_list}
    assert listed == {review_queue["in_stock"].pk, review_queue["no_stock"].pk}
    assert "Already listed" not in response.content.decode()


def test_approve_lists_products_in_stock_readies_the_rest_and_empties_the_queue(client_staff, staff, review_queue):
    in_stock, no_stock = review_queue["in_stock"], review_queue["no_stock"]

    response = client_staff.post(reverse(QUEUE_URL), {
        "action": "approve", "_selected_action": [in_stock.pk, no_stock.pk],
    })

    assert response.status_code == 302
    in_stock.refresh_from_db()
    no_stock.refresh_from_db()
    assert in_stock.listing_state == ListingState.LISTED
    assert no_stock.listing_state == ListingState.READY
    entries = AuditEntry.objects.filter(entity="product", field="listing_state")
    assert {(e.entity_id, e.merchant_id, e.old_value, e.new_value) for e in entries} == {
        (in_stock.pk, in_stock.merchant_id, ListingState.PENDING_REVIEW, ListingState.LISTED),
        (no_stock.pk, no_stock.merchant_id, ListingState.PENDING_REVIEW, ListingState.READY),
    }
    assert all((e.actor, e.source, e.reason) == (staff, AuditSource.SYSTEM, "platform review") for e in entries)
    queue = client_staff.get(reverse(QUEUE_URL))
    assert queue.context["cl"].result_count == 0
    assert Product.objects.get(pk=review_queue["listed"].pk).listing_state == ListingState.LISTED


def test_approve_leaves_a_product_without_base_product_in_the_queue(client_staff, merchant_a):
    unmatched = ProductFactory(merchant=merchant_a, pending=True, stock=5)

    client_staff.post(reverse(QUEUE_URL), {"action": "approve", "_selected_action": [unmatched.pk]})

    unmatched.refresh_from_db()
    assert unmatched.listing_state == ListingState.PENDING_REVIEW  # listing needs a base product (docs, M8)


def test_review_queue_cannot_add_products(client_staff):
    assert client_staff.get(reverse("admin:merchant_pendingreviewproduct_add")).status_code == 403


@pytest.mark.parametrize("client_name", ["client_owner", "client_viewer"])
def test_merchant_users_are_sent_to_the_admin_login(request, client_name):
    client = request.getfixturevalue(client_name)

    for url in ("/admin/", reverse(QUEUE_URL)):
        response = client.get(url)

        assert response.status_code == 302
        assert response.url.startswith(reverse("admin:login"))
