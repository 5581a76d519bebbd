"""How a batch stands against its expiry date, as the product page and the shipment form show it."""
from dataclasses import dataclass
from datetime import date

# Batches expiring within this many days (or the merchant's expiry exclusion window, when longer) show the days
# left: a pharmacy plans returns and promotions about three months ahead.
NEAR_EXPIRY_DAYS = 90


@dataclass(frozen=True)
class BatchExpiry:
    state: str  # "expired", "near" or "ok" (CSS class of its badge)
    days_left: int


def batch_expiry(expiry_date: date, today: date, window: int = 0) -> BatchExpiry:
    """A batch is expired from its expiry date on (it is no longer on sale that day, SPEC M6)."""
    days = (expiry_date - today).days
    if days <= 0:
        return BatchExpiry("expired", 0)
    return BatchExpiry("near" if days <= max(window, NEAR_EXPIRY_DAYS) else "ok", days)


def usable_batches(product, today: date) -> list:
    """Batches a shipment can take, first-expiry-first-out: not expired, with quantity."""
    return list(product.batches.filter(expiry_date__gt=today, quantity__gt=0).order_by("expiry_date", "batch_no"))
