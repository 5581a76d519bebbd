"""The orders list filters (SPEC M10), shared by the list page, the export and the CLI; the products list's
sort and page size."""
from dataclasses import dataclass

import django_filters
from django import forms
from django.db.models import Q
from django.conf import settings
from django.utils.translation import gettext_lazy as _

from merchant.models import (PLATFORM_STATUS_LABELS, ErpCustomerCode, ErpStatus, Order, OrderFlag, OrderSource,
                             OrderStatus)
from merchant.validators import validate_storable_text
from merchant.selectors.orders import EXCEPTION_RULES, TABS, exception_orders, order_search, tab_filter

DT = forms.DateTimeInput(attrs={"type": "datetime-local"})
TAKEN_CHOICES = [("yes", _("Taken by ERP")), ("no", _("Not taken yet"))]


class OrderFilter(django_filters.FilterSet):
    q = django_filters.CharFilter(
        label=_("Search"), method="filter_q", validators=[validate_storable_text],
        widget=forms.TextInput(attrs={"type": "search", "placeholder": _(
            "Order number, receiver, phone or its last 4 digits, tracking number, buyer, item, customer code")}),
    )
    tab = django_filters.ChoiceFilter(choices=[(t.key, t.label) for t in TABS], label=_("Tab"), method="filter_tab",
                                      widget=forms.HiddenInput)
    exception = django_filters.ChoiceFilter(choices=[(r.key, r.label) for r in EXCEPTION_RULES],
                                            label=_("Exception"), method="filter_exception")
    flag = django_filters.ChoiceFilter(choices=[c for c in OrderFlag.choices if c[0]], label=_("Flag"))
    # Kept for links that name one order (reconciliation reports); the search box covers it for people.
    order_no = django_filters.CharFilter(label=_("Order number"), method="filter_order_no",
                                         widget=forms.HiddenInput)
    created_from = django_filters.IsoDateTimeFilter(
        field_name="created_at", lookup_expr="gte", label=_("Created from"), widget=DT
    )
    created_to = django_filters.IsoDateTimeFilter(
        field_name="created_at", lookup_expr="lt", label=_("Created before"), widget=DT
    )
    paid_from = django_filters.IsoDateTimeFilter(field_name="paid_at", lookup_expr="gte", label=_("Paid from"), widget=DT)
    paid_to = django_filters.IsoDateTimeFilter(field_name="paid_at", lookup_expr="lt", label=_("Paid before"), widget=DT)
    status = django_filters.ChoiceFilter(choices=OrderStatus.choices, label=_("Status"))
    platform_status = django_filters.ChoiceFilter(choices=list(PLATFORM_STATUS_LABELS.items()),
                                                  label=_("Platform status"))
    erp_status = django_filters.ChoiceFilter(
        choices=[("none", _("Not yet"))] + [c for c in ErpStatus.choices if c[0]], label=_("ERP status"),
        method="filter_erp_status",
    )
    taken = django_filters.ChoiceFilter(choices=TAKEN_CHOICES, label=_("ERP sync"), method="filter_taken")
    source = django_filters.ChoiceFilter(choices=OrderSource.choices, label=_("Source"))
    unmapped = django_filters.ChoiceFilter(
        choices=[("yes", _("Yes")), ("no", _("No"))], label=_("Has unmapped lines"), method="filter_unmapped",
    )
    # A search box rather than a list: a merchant may have thousands of customers.
    customer = django_filters.CharFilter(
        label=_("Customer"), method="filter_customer",
        widget=forms.TextInput(attrs={"placeholder": _("Name, USCC or ERP code")}),
    )

    class Meta:
        model = Order
        fields = []

    def __init__(self, data=None, *args, merchant=None, tabs=True, **kwargs):
        super().__init__(data, *args, **kwargs)
        self.merchant = merchant
        # tabs=False: the tab and exception rule are read but not applied (the list applies them itself, so
        # that every tab's count shares one resolved search).
        self.tabs = tabs
        self.search_large = False  # set when the search matched too many orders to count exactly

    @property
    def qs(self):
        return super().qs.filter(merchant=self.merchant)

    def filter_q(self, queryset, name, value):
        search = order_search(self.merchant, value)
        self.search_large = search.large
        return queryset.filter(search.filter)

    def filter_tab(self, queryset, name, value):
        return queryset.filter(tab_filter(self.merchant, value)) if self.tabs else queryset

    def filter_exception(self, queryset, name, value):
        return queryset.filter(exception_orders(self.merchant, rule=value)) if self.tabs else queryset

    def filter_order_no(self, queryset, name, value):
        return queryset.filter(order_no=value.strip()) if value.strip() else queryset

    def filter_erp_status(self, queryset, name, value):
        return queryset.filter(erp_status="" if value == "none" else value)

    def filter_customer(self, queryset, name, value):
        value = value.strip()
        if not value:
            return queryset
        coded = ErpCustomerCode.objects.filter(merchant=self.merchant, code=value).values("customer_id")
        return queryset.filter(
            Q(customer__name__icontains=value) | Q(customer__uscc=value.upper()) | Q(customer_id__in=coded)
        )

    def filter_taken(self, queryset, name, value):
        return queryset.filter(taken_by_erp=(value == "yes"))

    def filter_unmapped(self, queryset, name, value):
        return queryset.filter(has_unmapped_lines=(value == "yes"))


# --- the products list: sortable columns and page size -----------------------------------------------------------

PRODUCT_SORTS = {"erp": "erp_product_id", "name": "name", "price": "default_price", "stock": "stock",
                 "updated": "updated_at"}
PRODUCT_PAGE_SIZES = (20, 50, 100, 200)


@dataclass(frozen=True)
class ProductListOptions:
    """The sort (`sort=name`, `sort=-price`) and page size (`per=100`) of the products list, read from the
    address; anything unknown falls back to the default rather than failing. Links keep both (the pager and
    the column headers build on the current query string)."""

    sort: str = "erp"
    descending: bool = False
    per_page: int = settings.PAGE_SIZE

    @classmethod
    def from_query(cls, params) -> "ProductListOptions":
        raw = params.get("sort", "")
        key = raw.removeprefix("-")
        per = params.get("per", "")
        return cls(
            sort=key if key in PRODUCT_SORTS else "erp",
            descending=key in PRODUCT_SORTS and raw.startswith("-"),
            per_page=int(per) if per.isdigit() and int(per) in PRODUCT_PAGE_SIZES else settings.PAGE_SIZE,
        )

    def order_by(self) -> tuple[str, ...]:
        """Ordered by the column, then by ERP product id (unique per merchant) so pages never overlap."""
        sign = "-" if self.descending else ""
        fields = [PRODUCT_SORTS[self.sort]]
        if self.sort != "erp":
            fields.append("erp_product_id")
        return tuple(sign + f for f in fields)

    def header_links(self, params) -> dict[str, dict]:
        """Per column key: the address that sorts by it (ascending first, reversed when already sorted by it,
        back on the first page) and its current direction ("asc", "desc" or "")."""
        links = {}
        for key in PRODUCT_SORTS:
            current = key == self.sort
            query = params.copy()
            query.pop("page", None)
            query["sort"] = f"-{key}" if current and not self.descending else key
            links[key] = {"query": query.urlencode(),
                          "direction": ("desc" if self.descending else "asc") if current else ""}
        return links
