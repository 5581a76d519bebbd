"""CSRF on every form (security bar): a logged-in browser tricked into posting without the token changes nothing."""
import pytest
from django.test import Client
from django.urls import reverse

from merchant.models import ErpCustomerCode, ListingState, Membership, ModuleSwitch, Order, OrderStatus, Product, Role


@pytest.fixture
def csrf_client(owner):
    client = Client(enforce_csrf_checks=True)
    client.force_login(owner)
    return client


def token_from(client, url) -> str:
    """The CSRF token a real page hands out: fetch the page, read the cookie it set."""
    response = client.get(url)
    assert response.status_code == 200
    return client.cookies["csrftoken"].value


@pytest.fixture
def cases(product, order, customer, operator, carrier):
    """(url, data, page that holds the form, check that the change happened)."""
    return {
        "stock": (reverse("product_stock", args=[product.pk]), {"stock": "77", "pause_for": "no"},
                  product.get_absolute_url(), lambda: Product.objects.get(pk=product.pk).stock == 77),
        "listing": (reverse("product_listing", args=[product.pk]), {"listed": "0"}, product.get_absolute_url(),
                    lambda: Product.objects.get(pk=product.pk).listing_state == ListingState.DELISTED),
        "bulk": (reverse("product_list"), {"action": "delist", "ids": [product.pk]}, reverse("product_list"),
                 lambda: Product.objects.get(pk=product.pk).listing_state == ListingState.DELISTED),
        "order_status": (reverse("order_status", args=[order.pk]), {"status": "cancelled", "reason": "r"},
                         order.get_absolute_url(),
                         lambda: Order.objects.get(pk=order.pk).status == OrderStatus.CANCELLED),
        "logistics": (reverse("order_logistics", args=[order.pk]), {"carrier": "SF", "tracking_no": "T"},
                      order.get_absolute_url(),
                      lambda: Order.objects.get(pk=order.pk).status == OrderStatus.SHIPPED),
        "erp_code": (reverse("customer_erp_code", args=[customer.pk]), {"code": "CSRF-1"},
                     customer.get_absolute_url(), lambda: ErpCustomerCode.objects.filter(code="CSRF-1").exists()),
        "module_switch": (reverse("module_switch"), {"module": "stock", "enabled": "0"}, reverse("switches"),
                          lambda: ModuleSwitch.objects.filter(module="stock", enabled=False).exists()),
        "member_role": (reverse("member_role", args=[operator.membership.pk]), {"role": "owner"}, reverse("team"),
                        lambda: Membership.objects.get(pk=operator.membership.pk).role == Role.OWNER),
        "team_add": (reverse("team"), {"username": "csrfuser", "password": "Pill-Counter-42-Ledger", "role": "owner"},
                     reverse("team"), lambda: Membership.objects.filter(user__username="csrfuser").exists()),
    }


CASES = ["stock", "listing", "bulk", "order_status", "logistics", "erp_code", "module_switch", "member_role",
         "team_add"]


@pytest.mark.parametrize("case", CASES)
def test_post_without_csrf_token_is_refused_and_changes_nothing(csrf_client, cases, case):
    url, data, _page, changed = cases[case]
    response = csrf_client.post(url, data)
    assert response.status_code == 403
    assert not changed()


@pytest.mark.parametrize("case", CASES)
def test_post_with_a_wrong_csrf_token_is_refused(csrf_client, cases, case):
    url, data, page, changed = cases[case]
    token_from(csrf_client, page)
    response = csrf_client.post(url, {**data, "csrfmiddlewaretoken": "x" * 64})
    assert response.status_code == 403
    assert not changed()


@pytest.mark.parametrize("case", CASES)
def test_post_with_the_token_from_the_page_works(csrf_client, cases, case):
    url, data, page, changed = cases[case]
    token = token_from(csrf_client, page)
    response = csrf_client.post(url, {**data, "csrfmiddlewaretoken": token})
    assert response.status_code == 302
    assert changed()


def test_logout_and_language_switch_need_the_token_too(csrf_client, owner):
    assert csrf_client.post(reverse("logout")).status_code == 403
    assert csrf_client.get(reverse("dashboard")).status_code == 200  # still logged in
    assert csrf_client.post(reverse("set_language"), {"language": "en"}).status_code == 403


def test_every_form_on_the_pages_carries_the_token(csrf_client, product, order, customer):
    for url in (reverse("dashboard"), reverse("product_list"), product.get_absolute_url(), order.get_absolute_url(),
                customer.get_absolute_url(), reverse("customer_list"), reverse("switches"), reverse("team"),
                reverse("password_change")):
        content = csrf_client.get(url).content.decode()
        posts = content.count('method="post"')
        assert posts > 0, url
        assert content.count('name="csrfmiddlewaretoken"') == posts, url
