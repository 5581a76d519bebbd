"""Print-ready pages for a selection of orders: delivery notes and the pick list (A4, the browser prints)."""
from django.conf import settings
from django.shortcuts import render
from django.urls import reverse
from django.utils import timezone
from django.utils.http import url_has_allowed_host_and_scheme

from merchant.selectors_print import print_selection
from merchant.views.common import merchant_view
from merchant.views.order_bulk import SelectionTooLarge
from merchant.views.order_selection import (
    selected_order_ids, selected_orders, selection_is_capped, selects_all_matching,
)

# POST carries the same fields: 500 ids may not fit in a URL (CSRF-checked like every POST).
GET_OR_POST = ("GET", "POST")
EMPTY = "merchant/orders/print/empty.html"


def _back_url(request, orders) -> str:
    """Where the back link goes: `next` when it is a path on this site (the orders list sends its own URL),
    else the order's page for one order, else the orders list."""
    back = (request.POST.get("next") if request.method == "POST" else None) or request.GET.get("next", "")
    if back.startswith("/") and url_has_allowed_host_and_scheme(back, {request.get_host()}, request.is_secure()):
        return back
    return orders[0].get_absolute_url() if len(orders) == 1 else reverse("order_list")


def _render(request, kind: str, template: str):
    try:
        orders = selected_orders(request)
    except SelectionTooLarge:
        return render(request, EMPTY, {"kind": kind, "too_many": True, "selection_max": settings.ORDER_SELECTION_MAX})
    # Ticked rows print in the order ticked; all matching orders newest first.
    position = None if selects_all_matching(request) else selected_order_ids(request)
    selection = print_selection(request.merchant, orders, today=timezone.localdate(), position=position)
    if not selection.orders:
        return render(request, EMPTY, {"kind": kind})
    return render(request, template, {
        "kind": kind, "selection": selection, "back_url": _back_url(request, selection.orders),
        "ids": [o.pk for o in selection.orders], "capped": selection_is_capped(request),
        "selection_max": settings.ORDER_SELECTION_MAX, "printed_at": timezone.now(),
    })


@merchant_view(methods=GET_OR_POST)
def order_print_delivery_notes(request):
    return _render(request, "delivery_notes", "merchant/orders/print/delivery_notes.html")


@merchant_view(methods=GET_OR_POST)
def order_print_pick_list(request):
    return _render(request, "pick_list", "merchant/orders/print/pick_list.html")
