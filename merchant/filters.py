"""The orders list filters (SPEC M10), shared by the list page, the export and the CLI."""
import django_filters
from django import forms
from django.forms.utils import flatatt
from django.utils.html import conditional_escape, escape, format_html
from django.utils.safestring import mark_safe
from django.utils.translation import gettext_lazy as _

from merchant.models import Customer, ErpStatus, Order, OrderSource, OrderStatus

DT = forms.DateTimeInput(attrs={"type": "datetime-local"})
TAKEN_CHOICES = [("yes", _("Taken by ERP")), ("no", _("Not taken yet"))]


class FastSelect(forms.Select):
    """A plain select written directly: the same markup as forms.Select without a template per option.

    Django renders every option through two templates; with the customer list that made the filter form
    cost more than all the orders page's queries together (bench/pages.py, SPEC N pages bar).
    """

    def render(self, name, value, attrs=None, renderer=None):
        choices = [choice for choice in self.choices]  # not list(): its length hint costs a COUNT query
        if any(isinstance(label, (list, tuple)) for _value, label in choices):
            return super().render(name, value, attrs, renderer)  # option groups: the general path
        selected = set(self.format_value(value))
        options = []
        for val, label in choices:
            val = "" if val is None else str(val)
            options.append(f'<option value="{escape(val)}"{" selected" if val in selected else ""}>'
                           f"{conditional_escape(label)}</option>")
        final_attrs = self.build_attrs(self.attrs, {**(attrs or {}), "name": name})
        return format_html("<select{}>{}</select>", flatatt(final_attrs), mark_safe("".join(options)))


class OrderFilter(django_filters.FilterSet):
    order_no = django_filters.CharFilter(label=_("Order number"), method="filter_order_no")
    created_from = django_filters.IsoDateTimeFilter(
        field_name="created_at", lookup_expr="gte", label=_("Created from"), widget=DT
    )
    created_to = django_filters.IsoDateTimeFilter(
        field_name="created_at", lookup_expr="lt", label=_("Created before"), widget=DT
    )
    paid_from = django_filters.IsoDateTimeFilter(field_name="paid_at", lookup_expr="gte", label=_("Paid from"), widget=DT)
    paid_to = django_filters.IsoDateTimeFilter(field_name="paid_at", lookup_expr="lt", label=_("Paid before"), widget=DT)
    status = django_filters.ChoiceFilter(choices=OrderStatus.choices, label=_("Status"), widget=FastSelect)
    platform_status = django_filters.CharFilter(label=_("Platform status"))
    erp_status = django_filters.ChoiceFilter(
        choices=[("none", _("Not yet"))] + [c for c in ErpStatus.choices if c[0]], label=_("ERP status"),
        method="filter_erp_status", widget=FastSelect,
    )
    taken = django_filters.ChoiceFilter(
        choices=TAKEN_CHOICES, label=_("ERP sync"), method="filter_taken", widget=FastSelect
    )
    source = django_filters.ChoiceFilter(choices=OrderSource.choices, label=_("Source"), widget=FastSelect)
    customer = django_filters.ModelChoiceFilter(
        queryset=Customer.objects.none(), label=_("Customer"), widget=FastSelect
    )

    class Meta:
        model = Order
        fields = []

    def __init__(self, data=None, *args, merchant=None, customers=None, **kwargs):
        super().__init__(data, *args, **kwargs)
        self.merchant = merchant
        if customers is not None:
            self.filters["customer"].queryset = customers

    @property
    def qs(self):
        return super().qs.filter(merchant=self.merchant)

    def filter_order_no(self, queryset, name, value):
        return queryset.filter(order_no=value.strip()) if value.strip() else queryset

    def filter_erp_status(self, queryset, name, value):
        return queryset.filter(erp_status="" if value == "none" else value)

    def filter_taken(self, queryset, name, value):
        return queryset.filter(taken_by_erp=(value == "yes"))
