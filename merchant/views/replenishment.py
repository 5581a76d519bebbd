"""The purchase suggestions page (采购建议), its export, the merchant's defaults and one product's settings."""
from django.contrib import messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.paginator import Paginator
from django.http import HttpResponseBadRequest, StreamingHttpResponse
from django.shortcuts import redirect, render
from django.utils import timezone
from django.utils.translation import gettext as _

from merchant import selectors
from merchant.forms import ReplenishmentDefaultsForm, ReplenishmentProductForm
from merchant.permissions import Action, role_allows
from merchant.replenishment import DEFAULT_SORT, SORTS, replenishment_suggestions, suggestion_list
from merchant.services import replenishment as services
from merchant.spreadsheets import replenishment_export
from merchant.validators import validate_storable_text
from merchant.views.common import form_error_from, get_product_for_user, merchant_view, querystring_without_page
from merchant.views.exports import CONTENT_TYPES

PAGE_SIZE = 50


def _options(params) -> dict:
    """The list's search text, "only with something to order" and sort, read from the address; a text that
    cannot be searched for (a NUL) is dropped rather than failing the query."""
    q = params.get("q", "").strip()
    try:
        validate_storable_text(q)
    except ValidationError:
        q = ""
    sort = params.get("sort", DEFAULT_SORT)
    if sort.removeprefix("-") not in SORTS:
        sort = DEFAULT_SORT
    return {"q": q, "only_positive": params.get("only") == "1", "sort": sort}


def _sort_links(params, sort: str) -> dict:
    links = {}
    current, descending = sort.removeprefix("-"), sort.startswith("-")
    for key in SORTS:
        query = params.copy()
        query.pop("page", None)
        # Numbers first sort biggest first, texts A to Z; a second click reverses.
        numeric = key in ("available", "on_order", "forecast", "suggested")
        if key == current:
            query["sort"] = key if descending else f"-{key}"
        else:
            query["sort"] = f"-{key}" if numeric else key
        links[key] = {"query": query.urlencode(),
                      "direction": ("desc" if descending else "asc") if key == current else ""}
    return links


@merchant_view()
def replenishment_list(request):
    options = _options(request.GET)
    rows = suggestion_list(request.merchant, **options)
    page = Paginator(rows, PAGE_SIZE).get_page(request.GET.get("page"))
    m = request.merchant
    return render(request, "merchant/replenishment/list.html", {
        "page": page,
        "filters": options,
        "query": querystring_without_page(request),
        "sort_links": _sort_links(request.GET, options["sort"]),
        "can_edit": role_allows(request.user.membership.role, Action.EDIT),
        "can_settings": role_allows(request.user.membership.role, Action.SETTINGS),
        "defaults": {"lead": m.replenish_lead_days, "review": m.replenish_review_days,
                     "safety": m.replenish_safety_days},
        "to_order": sum(1 for s in rows if s.suggested_qty > 0),
    })


@merchant_view(Action.EXPORT)
def replenishment_export_view(request):
    fmt = request.GET.get("format", "xlsx")
    if fmt not in ("xlsx", "csv"):
        return HttpResponseBadRequest(_("Unknown export format."))
    rows = suggestion_list(request.merchant, **_options(request.GET))
    if fmt == "xlsx":
        chunks = replenishment_export.xlsx_chunks(rows)
    else:
        chunks = replenishment_export.csv_chunks(rows)
    response = StreamingHttpResponse(chunks, content_type=CONTENT_TYPES[fmt])
    stamp = timezone.localtime().strftime("%Y%m%d-%H%M%S")
    response["Content-Disposition"] = (
        f'attachment; filename="purchase-suggestions-{request.merchant.code}-{stamp}.{fmt}"')
    return response


@merchant_view(Action.SETTINGS, methods=("GET", "POST"))
def replenishment_settings(request):
    m = request.merchant
    form = ReplenishmentDefaultsForm(request.POST or None, initial={
        "lead_days": m.replenish_lead_days, "review_days": m.replenish_review_days,
        "safety_days": m.replenish_safety_days})
    if request.method == "POST" and form.is_valid():
        try:
            services.replenishment_defaults_set(merchant=m, actor=request.actor, **form.cleaned_data)
        except ValidationError as e:
            form_error_from(form, e)
        else:
            messages.success(request, _("Purchase settings saved."))
            return redirect("replenishment_list")
    return render(request, "merchant/replenishment/settings.html", {
        "form": form, "audit": selectors.audit_for(m, "merchant", m.pk),
    }, status=400 if form.errors else 200)


def _back(params) -> str:
    """The suggestions list address to return to (with its search and sort), only ever a path of that list."""
    back = params.get("next", "")
    return back if back.startswith("/replenishment/?") or back == "/replenishment/" else ""


@merchant_view(methods=("GET", "POST"))
def replenishment_product(request, pk):
    product = get_product_for_user(request, pk)
    row = getattr(product, "replenishment", None)
    can_edit = role_allows(request.user.membership.role, Action.EDIT)
    initial = {"on_order": row.on_order if row else 0, "lead_days": row.lead_days if row else None,
               "review_days": row.review_days if row else None, "safety_days": row.safety_days if row else None}
    form = ReplenishmentProductForm(request.POST or None, initial=initial, merchant=request.merchant)
    if request.method == "POST":
        if not can_edit:
            raise PermissionDenied("Viewers may not edit purchase settings.")
        if form.is_valid():
            try:
                services.replenishment_product_set(product=product, actor=request.actor, **form.cleaned_data)
            except ValidationError as e:
                form_error_from(form, e)
            else:
                messages.success(request, _("Purchase settings of %(product)s saved.") % {"product": product.name})
                return redirect(_back(request.POST) or "replenishment_list")
    suggestion = replenishment_suggestions(request.merchant, [product])[0]
    return render(request, "merchant/replenishment/product.html", {
        "product": product, "form": form, "suggestion": suggestion, "can_edit": can_edit,
        "audit": selectors.audit_for(request.merchant, "replenishment", product.pk),
        "next": _back(request.POST if request.method == "POST" else request.GET),
    }, status=400 if form.errors else 200)
