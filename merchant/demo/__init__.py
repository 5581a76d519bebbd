"""The demo data set (SPEC D2): platform reference data, merchants `demo` and `other` with their users,
catalogs, customers' ERP codes and orders.

Idempotent: reference data and users are ensured on every run (passwords reset to the demo password);
a merchant's catalog and orders are generated only while it has neither products nor orders, so a second
run changes nothing else and is fast. Everything is derived from fixed seeds (dates relative to now).
"""
import random
from dataclasses import dataclass
from datetime import datetime

from django.db import transaction
from django.db.models import Count
from django.utils import timezone

from merchant.models import (
    BaseProduct, Carrier, Customer, CustomerGroup, ListingState, Merchant, OrderStatus, RegionGroup,
)

from .accounts import LOGINS, MERCHANTS, PASSWORD, ensure_users
from .catalog import build_catalog, save_catalog, save_switches
from .customers import ensure_customers, save_erp_codes
from .fakes import SEED
from .followups import save_followups
from .orders import OrderBuilder, save_orders
from .purchasing import history_plans, save_purchasing
from .reference import ensure_reference_data

__all__ = ["DemoSummary", "LOGINS", "PASSWORD", "load_demo"]

LEFT_AS_IS = "already has data, left as is"


@dataclass(frozen=True)
class DemoSummary:
    """What load_demo did (merchant code -> "generated" or LEFT_AS_IS) and what the demo data now holds."""

    outcomes: dict  # merchant code -> what this run did
    products: dict  # merchant code -> {listing state: count}
    orders: dict  # merchant code -> {order status: count}
    platform: dict  # "base products", "region groups", ... -> count

    def lines(self) -> list[str]:
        """The summary as text lines: counts per merchant, the platform's counts, then what this run did."""
        lines = [
            f"{code}: {sum(states.values())} products ("
            + ", ".join(f"{s} {states.get(s, 0)}" for s in ListingState.values)
            + f"), {sum(self.orders[code].values())} orders ("
            + ", ".join(f"{s} {self.orders[code].get(s, 0)}" for s in OrderStatus.values) + ")"
            for code, states in self.products.items()
        ]
        lines.append("platform: " + ", ".join(f"{n} {what}" for what, n in self.platform.items()))
        return lines + [f"{code}: {outcome}" for code, outcome in self.outcomes.items()]


def load_demo(*, now: datetime | None = None) -> DemoSummary:
    """Ensure the demo data (see the module docstring), all in one transaction; returns its summary.

    now (default: the current time) is what order, switch and batch dates are relative to.
    """
    now = now or timezone.now()
    today = timezone.localdate(now)
    outcomes = {}
    with transaction.atomic():
        ref = ensure_reference_data()
        ref["customers"] = ensure_customers(ref["customer_groups"])
        users = ensure_users()
        for index, plan in enumerate(MERCHANTS):
            merchant = Merchant.objects.get(code=plan.code)
            if merchant.products.exists() or merchant.orders.exists():
                outcomes[plan.code] = LEFT_AS_IS
                continue
            rng = random.Random(SEED + 100 * (index + 1))
            catalog = build_catalog(rng, merchant, plan, ref, today)
            save_catalog(catalog)
            if plan.extras:
                save_switches(rng, merchant, catalog, users, now)
            save_erp_codes(rng, merchant, plan, ref["customers"])
            builder = OrderBuilder(
                f"{SEED}:{plan.code}:orders", merchant=merchant, plan=plan, catalog=catalog, ref=ref,
                users=users, now=now,
            )
            orders = builder.build(plan.orders)
            picks = []
            if plan.extras:
                history, picks = history_plans(builder, catalog, now)
                orders += history
            save_orders(orders)
            if plan.extras:
                save_purchasing(merchant, picks, now)
                save_followups(merchant, users, now)
            outcomes[plan.code] = "generated"
    return _summary(outcomes)


def _summary(outcomes: dict) -> DemoSummary:
    products, orders = {}, {}
    for plan in MERCHANTS:
        merchant = Merchant.objects.get(code=plan.code)
        products[plan.code] = dict(merchant.products.values_list("listing_state").annotate(n=Count("pk")))
        orders[plan.code] = dict(merchant.orders.values_list("status").annotate(n=Count("pk")))
    platform = {
        "base products": BaseProduct.objects.count(), "region groups": RegionGroup.objects.count(),
        "customer groups": CustomerGroup.objects.count(), "carriers": Carrier.objects.count(),
        "customers": Customer.objects.count(),
    }
    return DemoSummary(outcomes=outcomes, products=products, orders=orders, platform=platform)
