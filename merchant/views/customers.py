from django.contrib import messages
from django.core.exceptions import ValidationError
from django.shortcuts import redirect, render
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.translation import gettext as _

from merchant import selectors
from merchant.forms import ErpCodeForm, SearchForm
from merchant.models import UnmatchedErpCustomer
from merchant.permissions import Action
from merchant.services.customers import erp_code_set
from merchant.views.common import (
    form_error_from, get_customer_for_user, merchant_view, paginate, querystring_without_page,
)


@merchant_view()
def customer_list(request):
    unmatched = UnmatchedErpCustomer.objects.listed_for(request.merchant)
    if request.GET.get("tab") == "unmatched":
        page = paginate(request, unmatched)
        return render(request, "merchant/customers/unmatched.html", {
            "page": page, "query": querystring_without_page(request), "unmatched_count": page.paginator.count,
        })
    search = SearchForm(request.GET)
    q = search.query()
    customers = selectors.customers_for_merchant(request.merchant, q or "")
    page = paginate(request, customers if q is not None else customers.none())
    codes = selectors.erp_codes_by_customer(request.merchant, page.object_list)
    return render(request, "merchant/customers/list.html", {
        "page": page, "rows": [(c, codes.get(c.pk, "")) for c in page.object_list],
        "query": querystring_without_page(request), "q": request.GET.get("q", ""), "search": search,
        "unmatched_count": unmatched.count(),
    }, status=200 if q is not None else 400)


def _render_detail(request, customer, form=None, status=200):
    code = selectors.erp_codes_by_customer(request.merchant, [customer]).get(customer.pk, "")
    orders = customer.orders.filter(merchant=request.merchant).order_by("-created_at")[:20]
    return render(request, "merchant/customers/detail.html", {
        "customer": customer, "code": code, "orders": orders, "form": form or ErpCodeForm(initial={"code": code}),
        "audit": selectors.audit_for(request.merchant, "customer", customer.pk),
    }, status=status)


@merchant_view()
def customer_detail(request, pk):
    return _render_detail(request, get_customer_for_user(request, pk))


@merchant_view(Action.EDIT, ("POST",))
def customer_erp_code(request, pk):
    """Inline ERP code entry; on success go back where the form was, on error show it at the field."""
    customer = get_customer_for_user(request, pk)
    form = ErpCodeForm(request.POST)
    if form.is_valid():
        try:
            erp_code_set(merchant=request.merchant, customer=customer, code=form.cleaned_data["code"],
                         actor=request.actor)
            messages.success(request, _("ERP code saved for %(name)s.") % {"name": customer.name})
            back = request.POST.get("next", "")
            safe = url_has_allowed_host_and_scheme(back, {request.get_host()}, request.is_secure())
            return redirect(back if back and safe else customer)
        except ValidationError as e:
            form_error_from(form, e)
    return _render_detail(request, customer, form=form, status=400)
