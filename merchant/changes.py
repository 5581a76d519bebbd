"""The domain's change log: what a write changed that others outside the back office may have to hear about
(the products' stock, price or listing, orders, batches crossing the expiry window, the merchant's settings).

A service calls these inside its own transaction. Each call is handed, synchronously and in that same
transaction, to the subscribers registered at start (sync registers its outbox writer in SyncConfig.ready),
so what they record commits or rolls back with the write itself: nothing is lost between the two. With no
subscriber a call does nothing, and the back office works on its own.

The domain decides what a change means (which products' sellable stock an order moves, which settings
sellable stock depends on); a subscriber decides what to do with it (which connections to tell, when).

A subscriber is any object with these methods (all keyword-only, each returning how many rows it marked):
    products_changed(merchant_id, product_ids, kinds)   product_ids None = every product of the merchant
    orders_changed(orders)                              status or lines of these orders changed
    expiring_batches_recheck(today)                     a day passed: batches crossed expiry windows
"""
from collections.abc import Iterable
from datetime import date
from typing import Protocol

from merchant.sellable import SELLABLE_SETTINGS, products_held_by

STOCK, PRICE, LISTING = "stock", "price", "listing"
KINDS = (STOCK, PRICE, LISTING)
# Product fields -> what changed for the outside (batch_managed: stock then comes from batches).
FIELD_KINDS = {"stock": STOCK, "batch_managed": STOCK, "default_price": PRICE, "listing_state": LISTING}


class Subscriber(Protocol):
    def products_changed(self, *, merchant_id: int, product_ids: list[int] | None, kinds: tuple[str, ...]) -> int: ...

    def orders_changed(self, *, orders: list) -> int: ...

    def expiring_batches_recheck(self, *, today: date | None) -> int: ...


_subscribers: list[Subscriber] = []


def subscribe(subscriber: Subscriber) -> None:
    """Hear every change from now on. Registering the same subscriber again is a no-op (ready() may run
    more than once in tests)."""
    if not any(existing is subscriber or existing == subscriber for existing in _subscribers):
        _subscribers.append(subscriber)


def unsubscribe(subscriber: Subscriber) -> None:
    _subscribers[:] = [existing for existing in _subscribers if existing is not subscriber and existing != subscriber]


def subscribers() -> tuple[Subscriber, ...]:
    return tuple(_subscribers)


def kinds_of(fields: Iterable[str]) -> tuple[str, ...]:
    """The kinds of change (stock, price, listing) a change of these product fields makes (maybe none)."""
    return tuple(sorted({FIELD_KINDS[name] for name in fields if name in FIELD_KINDS}))


def products_changed(*, merchant_id: int, product_ids: Iterable[int] | None, kinds: Iterable[str]) -> int:
    """The `kinds` (stock, price, listing) of these products of the merchant changed; `product_ids=None` means
    all of them (a setting sellable stock depends on changed). Call it inside the write's transaction."""
    kinds = tuple(kind for kind in dict.fromkeys(kinds) if kind in KINDS)
    if not kinds or not _subscribers:
        return 0
    if product_ids is not None:
        product_ids = sorted({pk for pk in product_ids if pk})
        if not product_ids:
            return 0
    return sum(s.products_changed(merchant_id=merchant_id, product_ids=product_ids, kinds=kinds)
               for s in _subscribers)


def orders_changed(*, orders: Iterable) -> int:
    """Orders' status or lines changed: the sellable stock of their products may have moved (unless the ERP
    took the order, merchant.sellable), and the subscribers hear of the orders themselves (a shipped one must
    reach its marketplace). Call it inside the write's transaction; a few queries per 500 orders."""
    if not _subscribers:
        return 0
    orders = list(orders)
    marked = 0
    for merchant_id, product_ids in products_held_by(orders).items():
        marked += products_changed(merchant_id=merchant_id, product_ids=product_ids, kinds=(STOCK,))
    return marked + sum(s.orders_changed(orders=orders) for s in _subscribers)


def order_changed(*, order) -> int:
    """An order's status or lines changed: see orders_changed."""
    return orders_changed(orders=[order])


def expiring_batches_recheck(*, today: date | None = None) -> int:
    """A day passed: batches crossed their merchant's expiry exclusion window with nobody editing anything, so
    the sellable stock of their products may differ from what the outside last heard. Run by the daily
    batch-expiry job."""
    return sum(s.expiring_batches_recheck(today=today) for s in _subscribers)


def settings_changed(*, merchant_id: int, fields: Iterable[str]) -> int:
    """The merchant's settings `fields` changed; those sellable stock depends on move every product's."""
    if not SELLABLE_SETTINGS & set(fields):
        return 0
    return products_changed(merchant_id=merchant_id, product_ids=None, kinds=(STOCK,))
