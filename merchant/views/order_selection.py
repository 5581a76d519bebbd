"""The orders a request selects: the repeated `id` parameter, as the orders list's check boxes send it, or
with `scope=all` every order the list's filters (sent along) match.

Pages that act on several orders (printing, bulk actions) read the selection through these functions, so the
list page only has to send `id=1&id=2...` by GET, or by POST when the ids would make the URL too long for
browsers and proxies (500 ids are about 5 KB).
"""
from django.conf import settings
from django.db.models import QuerySet

from merchant.models import Order

# Larger than any database id (bigint), so a value past it is junk rather than an id.
_MAX_ID = 2**63 - 1


def _data(request):
    return request.POST if request.method == "POST" else request.GET


def _raw_values(request) -> list[str]:
    values = request.GET.getlist("id")
    if request.method == "POST":
        values += request.POST.getlist("id")
    return values


def parse_ids(values) -> list[int]:
    """Distinct positive integer ids in the order first given; anything else is dropped."""
    seen: dict[int, None] = {}
    for value in values:
        value = value.strip()
        # isdigit() alone would take other scripts' digits ("١٢"), which int() turns into numbers too.
        if not (value.isascii() and value.isdigit()):
            continue
        number = int(value)
        if 0 < number <= _MAX_ID:
            seen.setdefault(number)
    return list(seen)


def selected_order_ids(request) -> list[int]:
    """The ticked order ids: distinct integers in the order sent, junk ignored, at most
    settings.ORDER_SELECTION_MAX of them (the first ones). Read from GET, and from POST on a POST."""
    return parse_ids(_raw_values(request))[: settings.ORDER_SELECTION_MAX]


def selection_is_capped(request) -> bool:
    """Whether more orders were ticked than settings.ORDER_SELECTION_MAX (the rest are left out)."""
    return len(parse_ids(_raw_values(request))) > settings.ORDER_SELECTION_MAX


def selects_all_matching(request) -> bool:
    """Whether the list's "select all matching orders" was chosen (scope=all) rather than ticked rows."""
    return _data(request).get("scope") == "all"


def selected_orders(request) -> QuerySet:
    """The request.merchant's selected orders: those ticked (another merchant's ids are silently left out), or
    with scope=all those the list's filters match. Raises order_bulk.SelectionTooLarge when scope=all matches
    more than settings.ORDER_SELECTION_MAX orders."""
    if selects_all_matching(request):
        # The list's own rule for "all matching" (its filters, its cap), so printing takes what bulk actions take.
        from merchant.views.order_bulk import orders_selected

        return orders_selected(request.merchant, _data(request))
    return Order.objects.filter(merchant=request.merchant, pk__in=selected_order_ids(request))
