"""ERP customer codes (SPEC M9): the platform customer is found by USCC or by platform customer id; one
code per customer and one customer per code, within a merchant.

The platform's customer directory is shared by every merchant, and its ids are sequential. A merchant may name
by id only a customer it already deals with (see selectors.customers_for_merchant); by USCC, which it can only
know from the customer, any platform customer (scheme 2). Answers name the customer by what was sent, so an id
never reveals a USCC, a name or even whether a customer with that id exists.
"""
from django.utils import timezone
from django.utils.translation import gettext as _

from merchant.models import Customer, ErpCustomerCode
from merchant.selectors import customers_for_merchant
from merchant.validators import normalise_uscc

from .copy import update_many
from .common import CHANGED, NEW, UNCHANGED, WRITE_BATCH, AuditBuffer, Item, Outcome, invalid, require


class CustomerCodesPlan:
    dup_field = "uscc"
    unique_fields = ("erp_customer_code",)  # one customer per code
    required = ("erp_customer_code",)

    def __init__(self, merchant):
        self.merchant = merchant
        # One customer named on two rows, by USCC on one and by platform customer id on the other, is not caught
        # by key_of (which sees only what the row says); both rows would write a code for the same customer.
        self.rows_by_customer = {}  # customer id -> (the first valid row naming it, the column naming it)
        self.late_duplicates = []  # (earlier row, column, later row): the caller invalidates the earlier row too

    def key_of(self, item: Item):
        values = item.values
        if "uscc" in values:
            return ("uscc", normalise_uscc(values["uscc"]))
        if "platform_customer_id" in values:
            return ("id", values["platform_customer_id"])
        return None

    def plan(self, items: list[Item], lock: bool = False) -> list[Outcome]:
        usccs = {normalise_uscc(i.values["uscc"]) for i in items if "uscc" in i.values}
        ids = {i.values["platform_customer_id"] for i in items if "platform_customer_id" in i.values}
        by_uscc = {c.uscc: c for c in Customer.objects.filter(uscc__in=usccs)}
        known = {c.pk: c for c in customers_for_merchant(self.merchant).filter(pk__in=ids)} if ids else {}
        customer_ids = {c.pk for c in by_uscc.values()} | set(known)
        codes = {i.values["erp_customer_code"] for i in items if "erp_customer_code" in i.values}
        query = ErpCustomerCode.objects.filter(merchant=self.merchant, customer__in=customer_ids) | \
            ErpCustomerCode.objects.filter(merchant=self.merchant, code__in=codes)
        if lock:
            query = query.select_for_update()
        rows = list(query.select_related("customer"))
        by_customer = {row.customer_id: row for row in rows}
        by_code = {row.code: row for row in rows}
        return [self._plan_one(item, by_uscc, known, by_customer, by_code) for item in items]

    def _plan_one(self, item, by_uscc, known, by_customer, by_code) -> Outcome:
        values = item.values
        errors = dict(item.errors)
        require(item, errors, self.required, _("required"))
        customer = None
        if "uscc" in values:
            customer = by_uscc.get(normalise_uscc(values["uscc"]))
            if customer is None:
                errors["uscc"] = _("no platform customer with this USCC")
        wanted = values.get("platform_customer_id")
        # The same customer's USCC sent with its id: the id teaches nothing the USCC did not.
        if wanted is not None and not (customer is not None and customer.pk == wanted):
            other = known.get(wanted)
            if other is None:
                # The same words whether the id exists or not: ids must not be a way to explore the directory.
                errors["platform_customer_id"] = _("no customer with this id among your customers")
            elif customer is not None:
                errors["platform_customer_id"] = _("the USCC and the platform customer id name different customers")
            customer = customer or other
        if not errors and customer is None and "uscc" not in errors:
            errors["uscc"] = _("give the USCC or the platform customer id")
        # What the item sent, never what the directory holds: an id-only item must not learn the USCC.
        key = normalise_uscc(values["uscc"]) if "uscc" in values else str(values.get("platform_customer_id") or "")
        code = values.get("erp_customer_code")
        if code and customer is not None:
            holder = by_code.get(code)
            if holder is not None and holder.customer_id != customer.pk:
                errors["erp_customer_code"] = _("already used for %(customer)s") % {"customer": holder.customer.name}
        if not errors:
            column = "uscc" if "uscc" in values else "platform_customer_id"
            first, first_column = self.rows_by_customer.setdefault(customer.pk, (item.ref, column))
            if first != item.ref:
                errors[column] = _("the same record is also on row %(row)d") % {"row": first}
                self.late_duplicates.append((first, first_column, item.ref))
        if errors:
            return invalid(item, key, errors)
        current = by_customer.get(customer.pk)
        old = current.code if current else None
        changes = {"erp_code": (old, code)} if old != code else {}
        action = NEW if current is None else CHANGED if changes else UNCHANGED
        return Outcome(item.ref, key, action, changes=changes, payload=(customer, current, code))

    def apply(self, outcomes: list[Outcome], actor, reason: str = "") -> int:
        audit = AuditBuffer(self.merchant.pk, actor, reason)
        now = timezone.now()
        created, changed = [], []
        for outcome in outcomes:
            if outcome.action not in (NEW, CHANGED):
                continue
            customer, current, code = outcome.payload
            if current is None:
                created.append(ErpCustomerCode(merchant=self.merchant, customer=customer, code=code, updated_at=now))
            else:
                current.code, current.updated_at = code, now
                changed.append(current)
            audit.add("customer", customer.pk, outcome.changes)
        update_many(ErpCustomerCode, changed, ["code", "updated_at"])
        ErpCustomerCode.objects.bulk_create(created, batch_size=WRITE_BATCH)
        audit.flush()
        return len(created) + len(changed)
