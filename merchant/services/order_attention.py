"""Keeps each order's attention bits (which exception rules catch it, SPEC M14) in step with the rules.

The rules depend on the clock (paid four hours ago and still not taken...) and on records other apps write
(ERP refusals, refused logistics pushes), so a minute-by-minute sweep re-derives them for the merchant, and the
order services refresh the orders they touch when their transaction commits, so a merchant's own action shows
at once. Returns of the sweep name the orders that newly need attention, for the notifications.
"""
import threading
from functools import partial

from django.conf import settings
from django.db import transaction
from django.urls import reverse
from django.utils import timezone, translation
from django.utils.translation import gettext as _
from django.utils.translation import ngettext

from merchant.models import Merchant, Order
from merchant.models.notifications import NotificationEvent
from merchant.selectors.orders import EXCEPTION_RULES, RULE_BITS, attention_masks, rules_of

from .notifications import notify

UPDATE_BATCH = 5000
LISTED_IN_MESSAGE = 10
_pending = threading.local()


def _write(merchant_id: int, wanted: dict[int, int], current: dict[int, int]) -> list[int]:
    """Write the orders whose bits differ; returns the ids that went from no attention to some."""
    by_mask: dict[int, list[int]] = {}
    for pk in set(wanted) | set(current):
        mask = wanted.get(pk, 0)
        if mask != current.get(pk, 0):
            by_mask.setdefault(mask, []).append(pk)
    for mask, ids in by_mask.items():
        for start in range(0, len(ids), UPDATE_BATCH):
            Order.objects.filter(merchant_id=merchant_id, pk__in=ids[start:start + UPDATE_BATCH]).update(
                attention=mask)
    return [pk for pk, mask in wanted.items() if mask and not current.get(pk)]


def order_attention_refresh(*, merchant: Merchant, now=None) -> list[int]:
    """Re-derive every order's attention bits for the merchant (the sweep). Returns the ids of orders that
    newly need attention."""
    now = now or timezone.now()
    wanted: dict[int, int] = {}
    for rule in EXCEPTION_RULES:
        for pk in rule.orders(merchant, now).values_list("pk", flat=True).iterator(chunk_size=5000):
            wanted[pk] = wanted.get(pk, 0) | RULE_BITS[rule.key]
    current = dict(Order.objects.filter(merchant=merchant, attention__gt=0).values_list("pk", "attention"))
    return _write(merchant.pk, wanted, current)


def order_attention_refresh_ids(*, merchant: Merchant, order_ids) -> list[int]:
    """Re-derive the attention bits of these orders of the merchant only (a few queries, whatever their
    number). Returns the ids of orders that newly need attention."""
    ids = list(order_ids)
    if not ids:
        return []
    wanted = attention_masks(merchant, ids)
    current = dict(Order.objects.filter(merchant=merchant, pk__in=ids).values_list("pk", "attention"))
    return _write(merchant.pk, wanted, current)


def order_attention_touch(*, merchant_id: int, order_ids) -> None:
    """Refresh these orders' attention bits once the current transaction commits (at once outside one).

    A bulk path touching thousands of orders in one transaction gets one refresh at its commit, not one per
    order: the ids collect here and the first commit callback takes them all.
    """
    pending = getattr(_pending, "ids", None)
    if pending is None:
        pending = _pending.ids = {}
    pending.setdefault(merchant_id, set()).update(order_ids)
    transaction.on_commit(partial(_flush))


def _flush() -> None:
    pending = getattr(_pending, "ids", None) or {}
    _pending.ids = {}
    for merchant_id, ids in pending.items():
        merchant = Merchant.objects.filter(pk=merchant_id).first()
        if merchant is not None:
            order_attention_refresh_ids(merchant=merchant, order_ids=ids)


def order_exceptions_notify(*, merchant: Merchant, order_ids) -> None:
    """Tell the merchant's notification centre and robots that these orders newly need someone, each with why
    (one message per cooldown, however many sweeps find more)."""
    orders = list(Order.objects.filter(merchant=merchant, pk__in=list(order_ids)[:LISTED_IN_MESSAGE])
                  .order_by("-created_at").only("order_no", "attention"))
    with translation.override(settings.LANGUAGE_CODE):
        n = len(order_ids)
        lines = [_("Order %(no)s: %(why)s") % {"no": o.order_no, "why": "; ".join(str(r.label) for r in rules_of(
            o.attention))} for o in orders]
        if n > len(orders):
            lines.append(_("…and %(count)d more.") % {"count": n - len(orders)})
        notify(merchant=merchant, event=NotificationEvent.ORDER_EXCEPTIONS, subject_key="new",
               title=ngettext("%(n)s order needs attention", "%(n)s orders need attention", n) % {"n": n},
               body="\n".join(lines), url=reverse("order_list") + "?tab=exceptions")
