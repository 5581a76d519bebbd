import pytest
from django.core.exceptions import PermissionDenied, ValidationError

from merchant.models import AuditEntry, ErpCustomerCode
from merchant.services.customers import erp_code_set

from .factories import CustomerFactory, ErpCustomerCodeFactory

# Messages are asserted in English; the default language is Simplified Chinese.
pytestmark = pytest.mark.usefixtures("english")


def codes(merchant):
    return dict(ErpCustomerCode.objects.filter(merchant=merchant).values_list("customer_id", "code"))


def test_erp_code_is_set_for_a_customer_and_audited(merchant_a, operator, operator_actor):
    customer = CustomerFactory()

    row = erp_code_set(merchant=merchant_a, customer=customer, code="  K-001 ", actor=operator_actor)

    assert row.code == "K-001"
    assert codes(merchant_a) == {customer.pk: "K-001"}
    entry = AuditEntry.objects.get(entity="customer", entity_id=customer.pk, field="erp_code")
    assert (entry.old_value, entry.new_value, entry.actor, entry.merchant_id) == ("", "K-001", operator, merchant_a.pk)


def test_erp_code_is_changed_in_place(merchant_a, customer, operator_actor):
    before = ErpCustomerCode.objects.get(merchant=merchant_a, customer=customer)

    row = erp_code_set(merchant=merchant_a, customer=customer, code="CUST-A2", actor=operator_actor)

    assert row.pk == before.pk
    assert codes(merchant_a) == {customer.pk: "CUST-A2"}
    entry = AuditEntry.objects.get(entity="customer", entity_id=customer.pk)
    assert (entry.old_value, entry.new_value) == ("CUST-A1", "CUST-A2")


def test_blank_erp_code_clears_it(merchant_a, customer, operator_actor):
    assert erp_code_set(merchant=merchant_a, customer=customer, code="   ", actor=operator_actor) is None

    assert codes(merchant_a) == {}
    entry = AuditEntry.objects.get(entity="customer", entity_id=customer.pk)
    assert (entry.old_value, entry.new_value) == ("CUST-A1", "")


def test_setting_the_same_code_again_writes_no_audit(merchant_a, customer, operator_actor):
    erp_code_set(merchant=merchant_a, customer=customer, code="CUST-A1", actor=operator_actor)

    assert not AuditEntry.objects.exists()


def test_clearing_a_missing_code_does_nothing(merchant_a, operator_actor):
    customer = CustomerFactory()

    assert erp_code_set(merchant=merchant_a, customer=customer, code="", actor=operator_actor) is None
    assert not AuditEntry.objects.exists()


def test_code_used_by_another_customer_is_refused_naming_that_customer(merchant_a, customer, operator_actor):
    newcomer = CustomerFactory(name="Gamma Clinic")

    with pytest.raises(ValidationError) as exc:
        erp_code_set(merchant=merchant_a, customer=newcomer, code="CUST-A1", actor=operator_actor)

    assert "code" in exc.value.message_dict
    assert "Alpha Pharmacy" in exc.value.message_dict["code"][0]
    assert codes(merchant_a) == {customer.pk: "CUST-A1"}


def test_the_same_code_may_be_used_by_another_merchant(merchant_a, merchant_b, customer, owner_actor):
    other_customer = CustomerFactory()
    ErpCustomerCodeFactory(merchant=merchant_b, customer=other_customer, code="SHARED")

    erp_code_set(merchant=merchant_a, customer=customer, code="SHARED", actor=owner_actor)

    assert codes(merchant_a) == {customer.pk: "SHARED"}
    assert codes(merchant_b) == {other_customer.pk: "SHARED"}


def test_viewer_cannot_set_erp_codes(merchant_a, customer, viewer_actor):
    with pytest.raises(PermissionDenied):
        erp_code_set(merchant=merchant_a, customer=customer, code="NEW", actor=viewer_actor)

    assert codes(merchant_a) == {customer.pk: "CUST-A1"}
