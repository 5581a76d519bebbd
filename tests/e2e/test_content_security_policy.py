"""Every page a merchant or platform staff opens runs under the Content Security Policy without Chromium
refusing anything: no inline script, handler or style is left for the policy to block."""
import pytest

from merchant.demo import PASSWORD, load_demo
from merchant.models import Customer, Merchant, Order, Product

from ..factories import ConnectionFactory

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]

BACK_OFFICE = ["/", "/products/", "/orders/", "/imports/", "/customers/", "/switches/",
               "/connections/", "/connections/add/", "/team/", "/api/docs/", "/api-keys/", "/password/"]
ADMIN = ["/admin/", "/admin/merchant/merchant/", "/admin/merchant/baseproduct/", "/admin/merchant/carrier/add/"]


def _violations_while_visiting(page, base_url: str, paths: list[str]) -> list[str]:
    refused = []
    page.on("console", lambda msg: refused.append(f"{page.url}: {msg.text}")
            if "Content Security Policy" in msg.text else None)
    for path in paths:
        response = page.goto(f"{base_url}{path}")
        assert response.status == 200, path
        page.wait_for_load_state("load")
    return refused


def _log_in(page, base_url: str, username: str, path: str = "/login/") -> None:
    page.goto(f"{base_url}{path}")
    page.fill("input[name=username]", username)
    page.fill("input[name=password]", PASSWORD)
    page.click("[type=submit]")
    page.wait_for_load_state("load")


def test_back_office_pages_raise_no_policy_violation(page, live_server):
    load_demo()
    _log_in(page, live_server.url, "demo_owner")
    product = Product.objects.filter(merchant__code="demo").first()
    order = Order.objects.filter(merchant__code="demo").first()
    customer = Customer.objects.first()
    connection = ConnectionFactory(merchant=Merchant.objects.get(code="demo"))
    paths = BACK_OFFICE + [f"/products/{product.pk}/", f"/orders/{order.pk}/", f"/customers/{customer.pk}/",
                           f"/connections/{connection.pk}/", f"/connections/{connection.pk}/edit/",
                           f"/connections/{connection.pk}/runs/"]
    assert _violations_while_visiting(page, live_server.url, paths) == []
    # The language switch is wired by app.js now that inline handlers are refused.
    page.select_option("#language-form select", "en")
    page.wait_for_load_state("load")
    assert page.locator("html").get_attribute("lang") == "en"


def test_admin_pages_raise_no_policy_violation(page, live_server):
    load_demo()
    _log_in(page, live_server.url, "admin", "/admin/login/")
    assert _violations_while_visiting(page, live_server.url, ADMIN) == []
