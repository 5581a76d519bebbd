"""Customers (SPEC M9): ERP customer codes typed inline, and the USCC check digit."""
import pytest
from django.contrib.messages import get_messages
from django.core.exceptions import ValidationError
from django.urls import reverse

from merchant.models import AuditEntry, Customer, ErpCustomerCode

from .factories import CustomerFactory, ErpCustomerCodeFactory, valid_uscc

pytestmark = pytest.mark.usefixtures("english_pages")


def codes(merchant) -> dict:
    return dict(ErpCustomerCode.objects.filter(merchant=merchant).values_list("customer__name", "code"))


def test_editor_changes_a_customers_erp_code_from_the_detail_page(editor_client, customer, merchant_a):
    response = editor_client.post(reverse("customer_erp_code", args=[customer.pk]), {"code": " ERP-77 "})
    assert response.status_code == 302
    assert response["Location"] == customer.get_absolute_url()
    assert codes(merchant_a) == {"Alpha Pharmacy": "ERP-77"}
    entry = AuditEntry.objects.get(entity="customer", entity_id=customer.pk)
    assert (entry.field, entry.old_value, entry.new_value) == ("erp_code", "CUST-A1", "ERP-77")
    assert "ERP code saved for Alpha Pharmacy." in [str(m) for m in get_messages(response.wsgi_request)]


def test_inline_erp_code_entry_goes_back_to_the_list_it_came_from(client_operator, customer, merchant_a):
    back = reverse("customer_list") + "?q=alpha&page=1"
    response = client_operator.post(reverse("customer_erp_code", args=[customer.pk]), {"code": "ERP-8", "next": back})
    assert response.status_code == 302
    assert response["Location"] == back
    assert codes(merchant_a) == {"Alpha Pharmacy": "ERP-8"}


def test_inline_erp_code_entry_never_redirects_off_site(client_operator, customer):
    response = client_operator.post(reverse("customer_erp_code", args=[customer.pk]),
                                    {"code": "ERP-9", "next": "https://evil.example.com/phish"})
    assert response.status_code == 302
    assert response["Location"] == customer.get_absolute_url()


def test_customer_list_offers_inline_code_entry_to_editors_only(client_operator, client_viewer, customer):
    action = reverse("customer_erp_code", args=[customer.pk])
    assert action in client_operator.get(reverse("customer_list")).content.decode()
    assert action not in client_viewer.get(reverse("customer_list")).content.decode()


def test_erp_code_for_a_customer_without_one_is_created(client_operator, merchant_a, order):
    newcomer = CustomerFactory(name="Newcomer Clinic")
    order.customer = newcomer
    order.save()
    response = client_operator.post(reverse("customer_erp_code", args=[newcomer.pk]), {"code": "NEW-1"})
    assert response.status_code == 302
    assert codes(merchant_a)["Newcomer Clinic"] == "NEW-1"


def test_blank_erp_code_removes_it(client_operator, customer, merchant_a):
    assert client_operator.post(reverse("customer_erp_code", args=[customer.pk]), {"code": "  "}).status_code == 302
    assert codes(merchant_a) == {}


def test_erp_code_used_by_another_customer_is_refused_at_the_field(client_operator, customer, merchant_a):
    other = CustomerFactory(name="Other Drugstore")
    ErpCustomerCodeFactory(merchant=merchant_a, customer=other, code="TAKEN-1")
    before = codes(merchant_a)
    response = client_operator.post(reverse("customer_erp_code", args=[customer.pk]),
                                    {"code": "TAKEN-1", "next": reverse("customer_list")})
    assert response.status_code == 400
    assert "ERP code TAKEN-1 is already used for Other Drugstore." in str(response.context["form"].errors["code"])
    assert "already used for Other Drugstore" in response.content.decode()
    assert codes(merchant_a) == before
    assert not AuditEntry.objects.exists()


def test_the_same_erp_code_may_be_used_by_another_merchant(client_operator, customer, merchant_b, merchant_a):
    ErpCustomerCodeFactory(merchant=merchant_b, customer=CustomerFactory(), code="SHARED-1")
    assert client_operator.post(reverse("customer_erp_code", args=[customer.pk]),
                                {"code": "SHARED-1"}).status_code == 302
    assert codes(merchant_a) == {"Alpha Pharmacy": "SHARED-1"}


def test_too_long_erp_code_is_refused_at_the_field(client_operator, customer, merchant_a):
    response = client_operator.post(reverse("customer_erp_code", args=[customer.pk]), {"code": "X" * 65})
    assert response.status_code == 400
    assert "code" in response.context["form"].errors
    assert codes(merchant_a) == {"Alpha Pharmacy": "CUST-A1"}


def test_viewer_cannot_change_erp_codes(client_viewer, customer, merchant_a):
    assert client_viewer.post(reverse("customer_erp_code", args=[customer.pk]), {"code": "V-1"}).status_code == 403
    assert codes(merchant_a) == {"Alpha Pharmacy": "CUST-A1"}


def test_erp_code_entry_refuses_get(client_owner, customer):
    assert client_owner.get(reverse("customer_erp_code", args=[customer.pk])).status_code == 405


# --- USCC ---------------------------------------------------------------------------------------------------------


def test_customer_with_a_valid_uscc_passes_full_clean(db):
    Customer(name="Valid Co", uscc="91350100M000100Y43").full_clean()
    Customer(name="Factory Co", uscc=valid_uscc(42)).full_clean()


@pytest.mark.parametrize("uscc", [
    "91350100M000100Y44",   # wrong check character
    "91350100M000100Y4",    # 17 characters
    "91350100M000100Y43X",  # 19 characters
    "91350100M000100I43",   # I is not in the alphabet
    "",
])
def test_customer_with_a_malformed_uscc_fails_full_clean(db, uscc):
    with pytest.raises(ValidationError) as excinfo:
        Customer(name="Bad Co", uscc=uscc).full_clean()
    assert "uscc" in excinfo.value.error_dict


def test_a_customer_search_with_a_nul_is_refused_with_a_message_not_a_server_error(client_owner, customer):
    response = client_owner.get(reverse("customer_list"), {"q": "Alpha\x00"})

    assert response.status_code == 400
    assert "cannot be searched for or stored (NUL or an unpaired surrogate)" in response.content.decode()
    assert response.context["rows"] == []
    assert client_owner.get(reverse("customer_list"), {"q": "alpha"}).context["rows"] == [(customer, "CUST-A1")]
