"""The orders workbench (SPEC M14): tabs with counts, one search box, sort, page size, columns, saved views,
and the small JSON answer the page polls for new orders."""
import time

from django.conf import settings
from django.contrib import messages
from django.core.exceptions import ValidationError
from django.contrib.humanize.templatetags.humanize import intcomma
from django.db import connections
from django.db.models import Count, F, Max
from django.http import JsonResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import timezone
from django.utils.http import urlencode
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from merchant import selectors
from merchant.filters import OrderFilter
from merchant.forms import ExceptionClocksForm, OrderMemoForm, StatusForm
from merchant.models import Order, OrderFlag, SavedOrderView
from merchant.permissions import Action, role_allows
from merchant.selectors.orders import TABS, exception_orders, rules_of, tab_filter
from merchant.services import order_views
from merchant.views.common import form_error_from, merchant_view

POST = ("POST",)
# Parameters that shape how the list looks, not which orders it holds: never part of a saved view.
VIEW_ONLY = ("page", "sort", "size", "after", "rows")
L = gettext_lazy
COLUMN_LABELS = {
    "source": L("Source"), "customer": L("Customer"), "receiver": L("Receiver"), "created": L("Created"),
    "paid": L("Paid"), "total": L("Total"), "status": L("Status"), "platform_status": L("Platform status"),
    "erp_status": L("ERP status"), "taken": L("ERP sync"), "tracking": L("Tracking number"),
    "memo": L("Seller memo"),
}
SORT_FIELDS = {"created": "created_at", "paid": "paid_at", "total": "total_amount"}
# Past ten thousand orders, the tabs the planner expects to hold at most SMALL_TAB are counted exactly as long as
# that takes at most COUNT_MILLISECONDS for the page; the others say "about".
SMALL_TAB = 1_000
COUNT_MILLISECONDS = 15


def column_labels() -> list[tuple[str, str]]:
    # Built per request: the labels are in the request's language.
    return [(key, str(COLUMN_LABELS[key])) for key in order_views.COLUMNS]


class OrderList:
    """The list's parameters resolved once (the search is read once, whatever the number of tabs): `base`
    holds the orders of every tab, `orders` those of the current tab (and exception rule)."""

    def __init__(self, merchant, data):
        data = data.copy()
        for key in VIEW_ONLY:
            data.pop(key, None)
        self.merchant = merchant
        self.filter = f = OrderFilter(data or None, merchant=merchant, tabs=False)
        self.tab, rule = "all", ""
        if not f.is_bound:
            self.base = Order.objects.filter(merchant=merchant)
        elif not f.is_valid():
            self.base = Order.objects.none()
        else:
            self.base = f.qs
            self.tab = f.form.cleaned_data.get("tab") or "all"
            rule = f.form.cleaned_data.get("exception") or ""
        self.now = timezone.now()
        self._counts = None
        self.orders = self.base.filter(tab_filter(merchant, self.tab, self.now))
        if rule:
            self.orders = self.orders.filter(exception_orders(merchant, rule=rule))

    def tab_counts(self) -> list[dict]:
        """Each tab with the number of orders it lists under the current filters and search.

        When the filters and search hold at most ten thousand orders, every tab is counted exactly, all in
        one query over them. Past that each tab is PostgreSQL's estimate (with multi-column statistics on the
        state columns, migration 0011), said as "about": counting one tab exactly can mean reading most of a
        million orders (a rare tab under an unrelated filter), eight tabs on every page view.
        """
        if self._counts is None:
            self._counts = self._count_tabs()
        return [{"key": tab.key, "label": tab.label, "count": self._counts[tab.key][0],
                 "active": tab.key == self.tab, "about": self._counts[tab.key][1],
                 "text": _("about %(n)s") % {"n": intcomma(self._counts[tab.key][0])} if self._counts[tab.key][1]
                 else intcomma(self._counts[tab.key][0])} for tab in TABS]

    def _count_tabs(self) -> dict[str, tuple[int, bool]]:
        filters = {tab.key: tab.filter(self.merchant, self.now) for tab in TABS}
        aggregates = {key: Count("pk", filter=q) if q else Count("pk") for key, q in filters.items()}
        f = self.filter
        searched = f.is_bound and f.is_valid() and bool(f.form.cleaned_data.get("q")) and not f.search_large
        base = self.base.order_by()
        pg = connections[base.db].vendor == "postgresql"
        # Reading ten thousand orders to learn that there are more costs more than the whole page otherwise: when
        # the planner expects well over that (a large search, the unfiltered list), go straight to estimates.
        likely_small = not pg or (not f.search_large and selectors.planned_counts({"all": base})["all"]
                                  <= 2 * selectors.COUNT_EXACT_UP_TO)
        if searched or likely_small:
            row = base.aggregate(**aggregates) if searched else base[: selectors.COUNT_EXACT_UP_TO + 1].aggregate(
                **aggregates)
            if row["all"] <= selectors.COUNT_EXACT_UP_TO:
                return {key: (row[key], False) for key in filters}
        if not pg:  # no planner estimates to give: count
            return {key: (base.filter(q).count(), False) for key, q in filters.items()}
        counts = {}
        budget_ends = time.monotonic() + COUNT_MILLISECONDS / 1000
        estimates = selectors.planned_counts({key: base.filter(q) for key, q in filters.items()})
        for key, q in filters.items():
            estimate = estimates[key]
            # A tab the planner expects to be small is counted exactly while the page's small time budget
            # lasts ("0", not "about 1"); a rare tab under an unrelated filter would mean reading most orders.
            left = int((budget_ends - time.monotonic()) * 1000)
            exact = selectors.cheap_count(base.filter(q), SMALL_TAB, left) \
                if estimate <= SMALL_TAB and left >= 2 else None
            counts[key] = (exact, False) if exact is not None and exact <= SMALL_TAB else (estimate, True)
        return counts

    def current_count(self) -> tuple[int, bool] | None:
        """The current tab's count as tab_counts gave it, for the pager (None under an exception rule, whose
        rows are a part of the tab)."""
        if self.filter.is_bound and self.filter.is_valid() and self.filter.form.cleaned_data.get("exception"):
            return None
        self.tab_counts()
        return self._counts[self.tab]


def filtered_orders(merchant, data):
    """(the filter, the merchant's orders the list parameters select); an invalid filter selects nothing."""
    listing = OrderList(merchant, data)
    return listing.filter, listing.orders


def tab_counts(merchant, data) -> list[dict]:
    return OrderList(merchant, data).tab_counts()


def _sort(request, pref) -> str:
    sort = request.GET.get("sort", "")
    return sort if sort in order_views.SORTS else pref.sort or "-created"


def _page_size(request, pref) -> int:
    size = request.GET.get("size", "")
    return int(size) if size.isdigit() and int(size) in order_views.PAGE_SIZES else pref.page_size


def _ordering(sort: str) -> list:
    descending = sort.startswith("-")
    field = SORT_FIELDS[sort.lstrip("-")]
    if field == "paid_at":  # unpaid orders last whichever way: the index is DESC NULLS LAST
        return [F(field).desc(nulls_last=True) if descending else F(field).asc(nulls_first=True),
                "-id" if descending else "id"]
    return [f"-{field}" if descending else field, "-id" if descending else "id"]


def _remember(request, pref, sort: str, size: int) -> None:
    """A sort or page size chosen through the list's links is the user's from now on."""
    if ("sort" in request.GET and sort != pref.sort) or ("size" in request.GET and size != pref.page_size):
        order_views.order_list_preference_set(user=request.user, sort=sort, page_size=size)


def _query(data, without=()) -> str:
    data = data.copy()
    for key in ("page", *without):
        data.pop(key, None)
    return data.urlencode()


def saved_view_query(data) -> str:
    """The part of the list's query string a saved view keeps, in a stable order."""
    data = data.copy()
    for key in (*VIEW_ONLY, "csrfmiddlewaretoken", "name", "next"):
        data.pop(key, None)
    return urlencode(sorted((k, v) for k, values in data.lists() for v in values if v))


def last_order_id(merchant) -> int:
    return Order.objects.filter(merchant=merchant).aggregate(m=Max("pk"))["m"] or 0


@merchant_view()
def order_list(request):
    pref = order_views.order_list_preference(request.user)
    sort, size = _sort(request, pref), _page_size(request, pref)
    _remember(request, pref, sort, size)
    listing = OrderList(request.merchant, request.GET)
    f = listing.filter
    qs = listing.orders.select_related("customer", "connection").order_by(*_ordering(sort))
    tabs = listing.tab_counts()
    page = selectors.EstimatedCountPaginator(qs, size, known=listing.current_count()).get_page(request.GET.get("page"))
    rows = list(page.object_list)
    tab = listing.tab
    can_edit = role_allows(request.user.membership.role, Action.EDIT)
    saved = list(SavedOrderView.objects.filter(user=request.user, merchant=request.merchant))
    current_view = saved_view_query(request.GET)
    return render(request, "merchant/orders/list.html", {
        "filter": f,
        "page": page,
        "rows": rows,
        "reasons": {o.pk: rules_of(o.attention) for o in rows} if tab == "exceptions" else None,
        "tabs": tabs,
        "tab": tab,
        "tab_query": _query(request.GET, without=("tab", "exception")),
        "query": _query(request.GET),
        "sort_query": _query(request.GET, without=("sort",)),
        "size_query": _query(request.GET, without=("size",)),
        "sort": sort,
        "size": size,
        "sizes": order_views.PAGE_SIZES,
        "columns": pref.columns or list(order_views.DEFAULT_COLUMNS),
        "column_choices": column_labels(),
        "saved_views": [(v, v.query == current_view) for v in saved],
        "current_view": current_view,
        "can_edit": can_edit,
        "status_form": StatusForm(),
        "flags": [c for c in OrderFlag.choices if c[0]],
        "last_id": last_order_id(request.merchant),
        "selection_max": settings.ORDER_SELECTION_MAX,
        "filter_fields": [field for field in f.form if field.name not in ("q", "tab", "order_no")],
        "more_open": any(request.GET.get(name) for name in f.filters if name not in ("q", "tab", "order_no")),
        "memo_form": OrderMemoForm(),
    })


@merchant_view()
def order_list_live(request):
    """What changed since the page was drawn: how many new orders match its filters, the tab counts, and on
    request the new rows themselves, for the page to add without reloading (and losing the selection)."""
    after = request.GET.get("after", "")
    after = int(after) if after.isdigit() else last_order_id(request.merchant)
    listing = OrderList(request.merchant, request.GET)
    new = listing.orders.filter(pk__gt=after)
    answer = {
        "new": selectors.estimated_count(new),
        "tabs": {t["key"]: {"count": t["count"], "text": t["text"]} for t in listing.tab_counts()},
    }
    if request.GET.get("rows") == "1":
        pref = order_views.order_list_preference(request.user)
        rows = list(new.select_related("customer", "connection").order_by("-pk")[:200])
        answer["last_id"] = rows[0].pk if rows else after
        answer["rows"] = render_to_string("merchant/orders/rows.html", {
            "rows": rows, "columns": pref.columns or list(order_views.DEFAULT_COLUMNS),
            "selectable": True, "fresh": True,
            "reasons": {o.pk: rules_of(o.attention) for o in rows} if listing.tab == "exceptions" else None,
        }, request=request)
    return JsonResponse(answer)


def back_url(data) -> str:
    """Where a posted form returns to: the orders list it came from, never another address."""
    target = data.get("next", "")
    home = reverse("order_list")
    return target if target == home or target.startswith(home + "?") else home


def _back(request):
    return redirect(back_url(request.POST))


@merchant_view(methods=POST)
def order_list_columns(request):
    columns = [c for c in request.POST.getlist("columns") if c in order_views.COLUMNS]
    order_views.order_list_preference_set(user=request.user, columns=columns or list(order_views.DEFAULT_COLUMNS))
    messages.success(request, _("Columns saved."))
    return _back(request)


@merchant_view(methods=POST)
def saved_view_create(request):
    query = saved_view_query(request.POST)
    try:
        view = order_views.saved_order_view_create(user=request.user, merchant=request.merchant,
                                                   name=request.POST.get("name", ""), query=query)
    except ValidationError as e:
        for message in e.messages:
            messages.error(request, message)
        return _back(request)
    messages.success(request, _("View “%(name)s” saved: it is a tab of yours now.") % {"name": view.name})
    return redirect(reverse("order_list") + ("?" + query if query else ""))


@merchant_view(methods=POST)
def saved_view_delete(request, pk):
    view = get_object_or_404(SavedOrderView, pk=pk, user=request.user, merchant=request.merchant)
    order_views.saved_order_view_delete(view=view)
    messages.success(request, _("View “%(name)s” deleted.") % {"name": view.name})
    return redirect("order_list")


@merchant_view(Action.SETTINGS, methods=("GET", "POST"))
def exception_settings(request):
    m = request.merchant
    form = ExceptionClocksForm(request.POST or None, initial={
        "take_hours": m.exception_take_hours, "ship_hours": m.exception_ship_hours,
        "stall_hours": m.logistics_stall_hours})
    if request.method == "POST" and form.is_valid():
        try:
            order_views.order_exception_clocks_set(merchant=m, actor=request.actor, **form.cleaned_data)
        except ValidationError as e:
            form_error_from(form, e)
        else:
            messages.success(request, _("Exception settings saved."))
            return redirect(reverse("order_list") + "?tab=exceptions")
    return render(request, "merchant/orders/exception_settings.html", {"form": form},
                  status=400 if form.errors else 200)
