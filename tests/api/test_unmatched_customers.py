"""ERP customers whose USCC matches no platform customer (SPEC M9, scheme 2): kept per merchant, the latest
push per USCC, dropped once a later push matches them, and listed on the customers page."""
import pytest
from django.test import Client
from django.urls import reverse

from merchant.models import AuditSource, Module, UnmatchedErpCustomer
from merchant.permissions import Actor
from merchant.services.customers import erp_code_set
from tests.factories import CustomerFactory, ModuleSwitchFactory, valid_uscc

pytestmark = pytest.mark.django_db


def test_unmatched_customers_are_kept_with_what_the_erp_sent(erp, merchant_a):
    known = CustomerFactory(uscc=valid_uscc(1))
    unknown = valid_uscc(2)

    _status, answer = erp.items("customers", {"uscc": known.uscc, "erp_customer_code": "C-1"},
                                {"uscc": unknown.lower(), "erp_customer_code": "C-2", "customer_name": "Far Pharmacy"})

    assert answer["unmatched"] == [unknown.lower()]
    row = UnmatchedErpCustomer.objects.get()
    assert (row.merchant, row.uscc, row.erp_customer_code, row.customer_name, row.source) == (
        merchant_a, unknown, "C-2", "Far Pharmacy", AuditSource.API)


def test_the_latest_push_wins_and_a_later_match_removes_it(erp, merchant_a):
    uscc = valid_uscc(3)
    erp.items("customers", {"uscc": uscc, "erp_customer_code": "OLD", "customer_name": "Old name"})
    erp.items("customers", {"uscc": uscc, "erp_customer_code": "NEW", "customer_name": "New name"})

    row = UnmatchedErpCustomer.objects.get()
    assert (row.erp_customer_code, row.customer_name) == ("NEW", "New name")

    CustomerFactory(uscc=uscc)
    _status, answer = erp.items("customers", {"uscc": uscc, "erp_customer_code": "NEW"})

    assert answer["results"][0]["status"] == "ok" and answer["unmatched"] == []
    assert not UnmatchedErpCustomer.objects.exists()


def test_a_match_held_while_the_customers_module_is_off_also_removes_it(erp, merchant_a):
    uscc = valid_uscc(4)
    erp.items("customers", {"uscc": uscc, "erp_customer_code": "C-4"})
    CustomerFactory(uscc=uscc)
    ModuleSwitchFactory(merchant=merchant_a, module=Module.CUSTOMERS, enabled=False)

    _status, answer = erp.items("customers", {"uscc": uscc, "erp_customer_code": "C-4"})

    assert answer["results"][0]["status"] == "held"
    assert not UnmatchedErpCustomer.objects.exists()


def test_the_same_uscc_twice_in_one_push_keeps_one_row(erp):
    uscc = valid_uscc(5)

    status, answer = erp.items("customers", {"uscc": uscc, "erp_customer_code": "A"},
                               {"uscc": uscc, "erp_customer_code": "B"})

    assert status == 200 and uscc in answer["unmatched"]
    assert UnmatchedErpCustomer.objects.get().uscc == uscc


def test_each_merchant_keeps_its_own_list(erp, erp_b, merchant_a, merchant_b):
    uscc = valid_uscc(6)
    erp.items("customers", {"uscc": uscc, "erp_customer_code": "A-6"})
    erp_b.items("customers", {"uscc": uscc, "erp_customer_code": "B-6"})

    assert dict(UnmatchedErpCustomer.objects.values_list("merchant_id", "erp_customer_code")) == {
        merchant_a.pk: "A-6", merchant_b.pk: "B-6"}


def _page(client: Client, **params):
    return client.get(reverse("customer_list"), {"tab": "unmatched", **params})


@pytest.mark.usefixtures("english_pages")
def test_the_customers_page_lists_the_merchants_unmatched_ones(erp, erp_b, client_viewer):
    erp.items("customers", {"uscc": valid_uscc(7), "erp_customer_code": "MINE", "customer_name": "Mine Pharmacy"})
    erp_b.items("customers", {"uscc": valid_uscc(8), "erp_customer_code": "THEIRS", "customer_name": "Theirs"})

    response = _page(client_viewer)
    customers_tab = client_viewer.get(reverse("customer_list"))

    assert response.status_code == 200
    body = response.content.decode()
    assert valid_uscc(7) in body and "Mine Pharmacy" in body and "MINE" in body
    assert valid_uscc(8) not in body and "THEIRS" not in body
    assert "?tab=unmatched" in customers_tab.content.decode()
    assert "(1)" in customers_tab.content.decode()


def test_the_unmatched_list_is_paginated(erp, client_viewer, settings):
    settings.PAGE_SIZE = 2
    erp.items("customers", *[{"uscc": valid_uscc(10 + i), "erp_customer_code": f"P-{i}"} for i in range(3)])

    first, second = _page(client_viewer), _page(client_viewer, page=2)

    assert len(first.context["page"].object_list) == 2 and len(second.context["page"].object_list) == 1
    assert "?tab=unmatched&page=2" in first.content.decode()


def test_one_matched_since_by_hand_leaves_the_list_before_the_next_push(erp, merchant_a, owner):
    uscc = valid_uscc(20)
    erp.items("customers", {"uscc": uscc, "erp_customer_code": "C-20"})
    customer = CustomerFactory(uscc=uscc)

    erp_code_set(merchant=merchant_a, customer=customer, code="C-20", actor=Actor.for_user(owner))

    assert not UnmatchedErpCustomer.objects.listed_for(merchant_a).exists()
