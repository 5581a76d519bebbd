"""A user's own orders list: the columns, sort and page size they chose, and their saved views (SPEC M14)."""
from functools import partial

from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.utils.translation import gettext as _

from merchant.models import Merchant, OrderListPreference, SavedOrderView
from merchant.permissions import Action, Actor

from .audit import merchant_settings_write
from .order_attention import order_attention_refresh

COLUMNS = ("source", "customer", "receiver", "created", "paid", "total", "status", "platform_status",
           "erp_status", "taken", "tracking", "memo")
DEFAULT_COLUMNS = ("source", "customer", "created", "paid", "total", "status", "erp_status", "taken")
SORTS = ("-created", "created", "-paid", "paid", "-total", "total")
PAGE_SIZES = (20, 50, 100, 200)
MAX_SAVED_VIEWS = 20


def order_list_preference(user) -> OrderListPreference:
    """The user's preference, unsaved defaults when they never chose."""
    pref = OrderListPreference.objects.filter(user=user).first()
    return pref or OrderListPreference(user=user, columns=list(DEFAULT_COLUMNS), sort="-created", page_size=50)


def order_list_preference_set(*, user, columns=None, sort: str | None = None,
                              page_size: int | None = None) -> OrderListPreference:
    """Remember what the user chose; values outside the known ones are ignored, not stored."""
    pref = order_list_preference(user)
    if columns is not None:
        pref.columns = [c for c in COLUMNS if c in set(columns)]
    if sort in SORTS:
        pref.sort = sort
    if page_size in PAGE_SIZES:
        pref.page_size = page_size
    pref.save()
    return pref


def saved_order_view_create(*, user, merchant, name: str, query: str) -> SavedOrderView:
    """Save the list's current filters + search under a name. Raises ValidationError naming the problem."""
    name = " ".join((name or "").split())
    if not name:
        raise ValidationError({"name": _("Give the view a name.")})
    if len(name) > 40:
        raise ValidationError({"name": _("Keep the name to 40 characters.")})
    if len(query) > 2000:
        raise ValidationError({"name": _("These filters are too long to save.")})
    if SavedOrderView.objects.filter(user=user).count() >= MAX_SAVED_VIEWS:
        raise ValidationError({"name": _("You have %(n)s saved views already: delete one first.")
                                       % {"n": MAX_SAVED_VIEWS}})
    try:
        with transaction.atomic():
            return SavedOrderView.objects.create(user=user, merchant=merchant, name=name, query=query)
    except IntegrityError:
        raise ValidationError({"name": _("You already have a view named “%(name)s”.") % {"name": name}})


def saved_order_view_delete(*, view: SavedOrderView) -> None:
    view.delete()


def order_exception_clocks_set(*, merchant: Merchant, take_hours: int, ship_hours: int, stall_hours: int,
                               actor: Actor) -> Merchant:
    """How long an order may wait at each step before the exception queue shows it (SPEC M14)."""
    actor.require(Action.SETTINGS)
    values = {"exception_take_hours": take_hours, "exception_ship_hours": ship_hours,
              "logistics_stall_hours": stall_hours}
    for field, hours in values.items():
        if not 1 <= hours <= 24 * 30:
            raise ValidationError({field: _("Enter a number of hours from 1 to 720.")})
    with transaction.atomic():
        locked, changes = merchant_settings_write(merchant=merchant, values=values, actor=actor)
        if changes:
            # New clocks: the queue is re-derived now rather than at the next minute's sweep.
            transaction.on_commit(partial(order_attention_refresh, merchant=locked))
    return locked
