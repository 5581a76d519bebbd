"""Bulk actions on the orders list (SPEC M14): on the rows ticked, or on every order the filters match, always
after a page that says how many orders it will change and how."""
from django.conf import settings
from django.contrib import messages
from django.core.exceptions import ValidationError
from django.http import QueryDict
from django.shortcuts import render
from django.utils.translation import gettext as _
from django.utils.translation import ngettext

from merchant import selectors
from merchant.models import Order, OrderFlag, OrderStatus
from merchant.permissions import Action
from merchant.services import order_exchange
from merchant.services import orders as order_services
from merchant.views.common import merchant_view
from merchant.views.order_list import _back, back_url, filtered_orders
from merchant.views.order_selection import parse_ids

POST = ("POST",)
# The bulk form's own fields; everything else it posts is the list's filters (for "all matching").
OWN_FIELDS = ("csrfmiddlewaretoken", "action", "scope", "id", "new_status", "reason", "new_flag", "new_memo", "confirm",
              "next")
SAMPLE = 10


class SelectionTooLarge(Exception):
    pass


def selection_ids(data) -> list[int]:
    """The ticked orders' ids from a posted form (junk ignored), at most ORDER_SELECTION_MAX of them."""
    return parse_ids(data.getlist("id"))[: settings.ORDER_SELECTION_MAX]


def orders_selected(merchant, data):
    """The merchant's orders a bulk form means: those ticked, or with scope=all every order its filters match.
    Raises SelectionTooLarge when that is more than ORDER_SELECTION_MAX orders."""
    if data.get("scope") == "all":
        filters = QueryDict(mutable=True)
        for key, values in data.lists():
            if key not in OWN_FIELDS:
                filters.setlist(key, values)
        _f, qs = filtered_orders(merchant, filters)
        if selectors.estimated_count(qs, exact_up_to=settings.ORDER_SELECTION_MAX) > settings.ORDER_SELECTION_MAX:
            raise SelectionTooLarge
        return qs
    return Order.objects.filter(merchant=merchant, pk__in=selection_ids(data))


def _plan(action: str, orders, data) -> tuple[str, int, dict]:
    """What the action will do: a sentence, how many orders it changes, and per reason how many it leaves."""
    total = orders.count()
    if action == "status":
        status = data.get("new_status", "")
        outcome = order_services.orders_status_change_plan(orders=orders, status=status)
        return (_("Change the status to “%(status)s”, with the reason “%(reason)s”.")
                % {"status": OrderStatus(status).label, "reason": data.get("reason", "").strip()},
                outcome.changed, outcome.skipped)
    if action in ("taken", "not_taken"):
        taken = action == "taken"
        changing = orders.filter(taken_by_erp=not taken).count()
        left = {(_("already taken by the ERP") if taken else _("not taken by the ERP")): total - changing}
        sentence = (_("Mark as taken by the ERP: the ERP will not be offered them again.") if taken else
                    _("Mark as not taken by the ERP: the ERP is offered them again on its next order query."))
        return sentence, changing, {k: v for k, v in left.items() if v}
    if action == "memo":
        memo = data.get("new_memo", "").strip()
        changing = orders.exclude(seller_memo=memo).count()
        left = {_("already had this memo"): total - changing}
        sentence = (_("Set the seller memo to “%(memo)s”.") % {"memo": memo} if memo
                    else _("Clear the seller memo."))
        return sentence, changing, {k: v for k, v in left.items() if v}
    flag = data.get("new_flag", "")
    changing = orders.exclude(flag=flag).count()
    left = {_("already had this flag"): total - changing}
    return (_("Set the flag to “%(flag)s”.") % {"flag": OrderFlag(flag).label}, changing,
            {k: v for k, v in left.items() if v})


def _check(action: str, data) -> str | None:
    """Why the posted action cannot be planned, or None."""
    if action == "status":
        if data.get("new_status") not in OrderStatus.values:
            return _("Choose the new status.")
        if not data.get("reason", "").strip():
            return _("Give a reason for the status change.")
        if len(data.get("reason", "")) > 300:
            return _("Keep the reason to 300 characters.")
    if action == "flag" and data.get("new_flag") not in OrderFlag.values:
        return _("Choose a flag colour.")
    if action == "memo" and len(data.get("new_memo", "").strip()) > 500:
        return _("Keep the memo to 500 characters.")
    if action not in ("status", "taken", "not_taken", "flag", "memo"):
        return _("Choose an action.")
    return None


def _apply(request, action: str, orders, data) -> tuple[int, dict]:
    if action == "status":
        outcome = order_services.orders_status_change_many(
            orders=orders, status=data["new_status"], reason=data["reason"].strip(), actor=request.actor)
        return outcome.changed, outcome.skipped
    if action in ("taken", "not_taken"):
        mark = order_exchange.orders_mark_taken if action == "taken" else order_exchange.orders_mark_not_taken
        changed = mark(merchant=request.merchant, orders=list(orders), actor=request.actor,
                       reason=_("bulk action on the orders list"))
        return changed, {}
    if action == "memo":
        outcome = order_services.orders_memo_set(orders=orders, memo=data.get("new_memo", ""), actor=request.actor)
    else:
        outcome = order_services.orders_flag_set(orders=orders, flag=data["new_flag"], actor=request.actor)
    return outcome.changed, outcome.skipped


@merchant_view(Action.EDIT, POST)
def order_bulk(request):
    data = request.POST
    action = data.get("action", "")
    problem = _check(action, data)
    try:
        orders = orders_selected(request.merchant, data) if problem is None else Order.objects.none()
    except SelectionTooLarge:
        problem = _("More than %(max)s orders match: narrow the filters, then try again.") % {
            "max": f"{settings.ORDER_SELECTION_MAX:,}"}
    if problem is None and not orders.exists():
        problem = _("Tick at least one order, or choose all orders that match.")
    if problem:
        messages.error(request, problem)
        return _back(request)
    if data.get("confirm") != "1":
        sentence, changing, skipped = _plan(action, orders, data)
        return render(request, "merchant/orders/bulk_confirm.html", {
            "sentence": sentence, "changing": changing, "skipped": sorted(skipped.items()),
            "total": orders.count(), "sample": list(orders.order_by("-created_at")[:SAMPLE]),
            "fields": [(k, v) for k, values in data.lists() if k not in ("csrfmiddlewaretoken", "confirm")
                       for v in values],
            "next": back_url(data),
        })
    try:
        changed, skipped = _apply(request, action, orders, data)
    except ValidationError as e:
        for message in e.messages:
            messages.error(request, message)
        return _back(request)
    messages.success(request, ngettext("%(n)s order changed.", "%(n)s orders changed.", changed)
                     % {"n": f"{changed:,}"})
    for reason, n in sorted(skipped.items()):
        messages.warning(request, ngettext("%(n)s order left as it was: %(reason)s.",
                                           "%(n)s orders left as they were: %(reason)s.", n)
                         % {"n": f"{n:,}", "reason": reason})
    return _back(request)
