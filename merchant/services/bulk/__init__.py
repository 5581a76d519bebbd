"""Bulk writes shared by the spreadsheet import and the Open API: plan a batch of items against the
database (new / changed / unchanged / invalid, old -> new per field), then apply the plan.

Each kind's Plan loads what a batch of items needs in a few queries (never one per item), and applying
writes with bulk statements. Callers run apply inside one transaction, re-planning with lock=True so
the "old" values and the rules see the rows as they are at that moment.
"""
from .batches import BatchesPlan
from .common import Item, Outcome
from .customer_codes import CustomerCodesPlan
from .listing import ListingPlan
from .logistics import LogisticsPlan
from .prices import PricesPlan
from .products import ProductsPlan
from .stock import StockPlan

PLANS = {
    "products": ProductsPlan, "prices": PricesPlan, "batches": BatchesPlan, "stock": StockPlan,
    "customer_codes": CustomerCodesPlan, "listing": ListingPlan, "logistics": LogisticsPlan,
}

__all__ = ["PLANS", "Item", "Outcome"]
