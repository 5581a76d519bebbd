"""Which of our products is which SKU on one marketplace connection: every role may look, only owners
link, unlink or refresh (they are connection settings)."""
from django.contrib import messages
from django.core.exceptions import ValidationError
from django.http import Http404
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils.translation import gettext as _

from merchant.models import Product
from merchant.permissions import Action
from merchant.views.common import flash_errors, merchant_view, paginate, querystring_without_page
from sync import mapping_selectors, mapping_services
from sync.marketplaces import adapter_class
from sync.models import MARKETPLACE_KINDS, Connection

POST = ("POST",)


def _get_marketplace_connection_for_user(request, pk) -> Connection:
    connection = get_object_or_404(Connection, merchant=request.merchant, pk=pk)
    if connection.kind not in MARKETPLACE_KINDS or "items" not in adapter_class(connection.kind).supports:
        raise Http404("not a marketplace connection with items")
    return connection


def _get_product_for_user(request, pk) -> Product:
    return get_object_or_404(Product, merchant=request.merchant, pk=pk)


def _back(request, connection) -> str:
    """The mapping page with the search and page the merchant came from (a local path only)."""
    url = request.POST.get("next", "")
    base = reverse("item_mapping", args=[connection.pk])
    return url if url.startswith(base) else base


@merchant_view()
def item_mapping(request, pk):
    connection = _get_marketplace_connection_for_user(request, pk)
    q = request.GET.get("q", "").strip()
    state = request.GET.get("state", "")
    state = state if state in mapping_selectors.MappingState.ALL else ""
    page = paginate(request, mapping_selectors.mapping_products(connection, q=q, state=state))
    listings = mapping_selectors.listings_by_sku(connection, [p.map_sku_id for p in page.object_list])
    rows = [(product, listings.get(product.map_sku_id)) for product in page.object_list]
    return render(request, "merchant/connections/item_mapping.html", {
        "connection": connection, "page": page, "rows": rows, "q": q, "state": state,
        "query": querystring_without_page(request), "summary": mapping_selectors.mapping_summary(connection),
        "here": request.get_full_path(),
    })


@merchant_view(Action.CONNECTIONS, ("GET", "POST"))
def item_mapping_link(request, pk, product_pk):
    """GET: the shop's SKUs to choose from (searched); POST sku_id: link the product to it."""
    connection = _get_marketplace_connection_for_user(request, pk)
    product = _get_product_for_user(request, product_pk)
    if request.method == "POST":
        try:
            sku_id = int(request.POST.get("sku_id", ""))
        except ValueError:
            messages.error(request, _("Choose a SKU of the shop."))
            return redirect("item_mapping_link", pk=connection.pk, product_pk=product.pk)
        try:
            mapping_services.mapping_link(connection=connection, product=product, sku_id=sku_id, actor=request.actor)
        except ValidationError as error:
            flash_errors(request, error)
            return redirect("item_mapping_link", pk=connection.pk, product_pk=product.pk)
        messages.success(request, _("%(code)s is linked to the chosen SKU; its stock, price and listing go out "
                                    "there now.") % {"code": product.erp_product_id})
        return redirect(_back(request, connection))
    q = request.GET.get("q", "").strip()
    if "q" not in request.GET:
        q = product.erp_product_id  # start with the SKUs carrying the product's code, if any
    page = paginate(request, mapping_selectors.mapping_listings(connection, q=q))
    return render(request, "merchant/connections/item_mapping_link.html", {
        "connection": connection, "product": product, "page": page, "q": q,
        "query": querystring_without_page(request) or f"q={q}", "next": request.GET.get("next", ""),
    })


@merchant_view(Action.CONNECTIONS, POST)
def item_mapping_unlink(request, pk, product_pk):
    connection = _get_marketplace_connection_for_user(request, pk)
    product = _get_product_for_user(request, product_pk)
    mapping_services.mapping_unlink(connection=connection, product=product, actor=request.actor)
    messages.success(request, _("%(code)s is unlinked: nothing about it is pushed to this marketplace.") % {
        "code": product.erp_product_id})
    return redirect(_back(request, connection))


@merchant_view(Action.CONNECTIONS, POST)
def item_mapping_by_code(request, pk, product_pk):
    connection = _get_marketplace_connection_for_user(request, pk)
    product = _get_product_for_user(request, product_pk)
    link = mapping_services.mapping_match_by_code(connection=connection, product=product, actor=request.actor)
    if link.found:
        messages.success(request, _("%(code)s is matched by its merchant code again.") % {
            "code": product.erp_product_id})
    else:
        messages.info(request, _("%(code)s is matched by its merchant code again; the shop has no SKU with that "
                                 "code, so it is not on this marketplace.") % {"code": product.erp_product_id})
    return redirect(_back(request, connection))


@merchant_view(Action.CONNECTIONS, POST)
def item_mapping_refresh(request, pk):
    connection = _get_marketplace_connection_for_user(request, pk)
    mapping_services.mapping_refresh_request(connection=connection, actor=request.actor)
    messages.info(request, _("Reading the shop's items is queued; this page shows the result when it is done."))
    if not connection.is_active:
        messages.warning(request, _("The connection is disabled or stopped: the job will do nothing until "
                                    "the connection is enabled again."))
    return redirect(_back(request, connection))
