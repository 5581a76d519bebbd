from django.contrib import messages
from django.core.exceptions import ValidationError
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _

from merchant import selectors
from merchant.filters import PRODUCT_PAGE_SIZES, ProductListOptions
from merchant.forms import (
    BatchForm, BulkProductForm, GroupPriceForm, ProductForm, SearchForm, SkuSwitchForm, StockForm, pause_until,
)
from merchant.models import ListingState, Product, SwitchKind
from merchant.permissions import Action
from merchant.services import catalog, stock, switches
from merchant.templatetags.backoffice import money
from merchant.views.common import (
    flash_errors, form_error_from, get_batch_for_user, get_group_price_for_user, get_product_for_user,
    merchant_view, querystring_without_page,
)
from sync import outbound_status

POST = ("POST",)


@merchant_view(methods=("GET", "POST"))
def product_list(request):
    if request.method == "POST":
        return _bulk_action(request)
    f = request.GET
    search = SearchForm(f)
    q = search.query()
    options = ProductListOptions.from_query(f)
    qs = selectors.products_search(
        request.merchant, q=q or "", listing_state=f.get("state", ""), matched=f.get("matched", ""),
        zero_stock=f.get("zero_stock") == "1", paused=f.get("paused", ""), order_by=options.order_by(),
    )
    if q is None:
        qs = qs.none()
    page = selectors.EstimatedCountPaginator(qs, options.per_page).get_page(request.GET.get("page"))
    paused = selectors.paused_kinds_by_product(page.object_list)
    return render(request, "merchant/products/list.html", {
        "page": page,
        "rows": [(p, paused.get(p.pk, set())) for p in page.object_list],
        "states": ListingState.choices,
        "kinds": SwitchKind.choices,
        "bulk_form": BulkProductForm(),
        "query": querystring_without_page(request),
        "filters": f,
        "search": search,
        "options": options,
        "sort_links": options.header_links(f),
        "page_sizes": PRODUCT_PAGE_SIZES,
    }, status=200 if q is not None else 400)


def _bulk_action(request):
    form = BulkProductForm(request.POST)
    ids = [i for i in request.POST.getlist("ids") if i.isdigit()]  # a malformed id must not be a 500
    if not form.is_valid() or not ids:
        messages.error(request, _("Choose an action and at least one product."))
        return redirect(request.get_full_path())
    products = list(Product.objects.filter(merchant=request.merchant, pk__in=ids))
    action = form.cleaned_data["action"]
    try:
        if action in ("list", "delist"):
            changed, refused = catalog.listing_set(products=products, listed=action == "list", actor=request.actor)
            messages.success(request, _("%(n)s products changed.") % {"n": len(changed)})
            for product, reason in refused:
                messages.warning(request, _("%(product)s refused: %(reason)s") % {"product": product, "reason": reason})
        else:
            verb, kind = action.split("_")
            switches.sku_switch_set(
                products=products, kind=kind, enabled=verb == "resume", actor=request.actor,
                until=pause_until(form.cleaned_data.get("pause_for") or "") if verb == "pause" else None,
            )
            messages.success(request, _("Switches changed for %(n)s products.") % {"n": len(products)})
    except ValidationError as e:
        flash_errors(request, e)
    return redirect(request.get_full_path())


def retail_below_default_text(product) -> str:
    return _("The suggested retail price %(retail)s is below the default price %(default)s: pharmacies would "
             "sell at a loss. Saved anyway; check it is what you meant.") % {
        "retail": money(product.suggested_retail_price), "default": money(product.default_price)}


def _render_detail(request, product, status=200, **forms):
    product = selectors.product_detail(request.merchant, product.pk)
    switch_states = {s.kind: s for s in product.switches.all()}
    context = {
        "product": product,
        "switch_states": [(kind, label, switch_states.get(kind)) for kind, label in SwitchKind.choices],
        "stock_sync_on": switches.auto_sync_on(
            merchant_id=product.merchant_id, module="stock", product=product, kind=SwitchKind.STOCK
        ),
        "held_values": list(product.held_values.all()),
        "audit": selectors.audit_for(request.merchant, "product", product.pk),
        "product_form": forms.get("product_form") or ProductForm(instance=product),
        "stock_form": forms.get("stock_form") or StockForm(initial={"stock": product.stock}),
        "price_form": forms.get("price_form") or GroupPriceForm(),
        "batch_form": forms.get("batch_form") or BatchForm(),
        "switch_form": forms.get("switch_form") or SkuSwitchForm(),
        "listing_refusal": catalog.listing_refusal(product, True),
        "pushes": outbound_status.product_pushes(product),
    }
    return render(request, "merchant/products/detail.html", context, status=status)


@merchant_view()
def product_detail(request, pk):
    return _render_detail(request, get_product_for_user(request, pk))


@merchant_view(Action.EDIT, POST)
def product_edit(request, pk):
    product = get_product_for_user(request, pk)
    form = ProductForm(request.POST, instance=Product.objects.get(pk=product.pk))
    if form.is_valid():
        try:
            saved = catalog.product_update(product=product, actor=request.actor,
                                           **{f: form.cleaned_data[f] for f in form.Meta.fields})
            messages.success(request, _("Product saved."))
            if saved.retail_below_default:
                messages.warning(request, retail_below_default_text(saved))
            return redirect(product)
        except ValidationError as e:
            form_error_from(form, e)
    return _render_detail(request, product, status=400, product_form=form)


@merchant_view(Action.EDIT, POST)
def product_stock(request, pk):
    product = get_product_for_user(request, pk)
    form = StockForm(request.POST)
    if form.is_valid():
        try:
            # "" is a real choice ("until turned back on"); only a form without the pause menu means "no".
            pause = form.cleaned_data.get("pause_for", "") if "pause_for" in request.POST else "no"
            stock.stock_set_by_hand(
                product=product, quantity=form.cleaned_data["stock"], actor=request.actor,
                reason=form.cleaned_data["reason"], pause_sync=pause != "no",
                until=pause_until(pause) if pause != "no" else None,
            )
            messages.success(request, _("Stock saved."))
            return redirect(product)
        except ValidationError as e:
            form_error_from(form, e)
    return _render_detail(request, product, status=400, stock_form=form)


@merchant_view(Action.EDIT, POST)
def product_listing(request, pk):
    product = get_product_for_user(request, pk)
    listed = request.POST.get("listed") == "1"
    _changed, refused = catalog.listing_set(products=[product], listed=listed, actor=request.actor)
    for _p, reason in refused:
        messages.error(request, _("Refused: %(reason)s") % {"reason": reason})
    if not refused:
        messages.success(request, _("Listed.") if listed else _("Delisted."))
    return redirect(product)


@merchant_view(Action.EDIT, POST)
def group_price_add(request, pk):
    product = get_product_for_user(request, pk)
    form = GroupPriceForm(request.POST)
    if form.is_valid():
        region, customer = form.groups()
        try:
            catalog.group_price_set(product=product, price=form.cleaned_data["price"], actor=request.actor,
                                    region_group=region, customer_group=customer)
            messages.success(request, _("Price saved."))
            return redirect(product)
        except ValidationError as e:
            form_error_from(form, e)
    return _render_detail(request, product, status=400, price_form=form)


@merchant_view(Action.EDIT, POST)
def group_price_delete(request, pk, price_pk):
    product = get_product_for_user(request, pk)
    catalog.group_price_delete(group_price=get_group_price_for_user(request, product, price_pk), actor=request.actor)
    messages.success(request, _("Price removed."))
    return redirect(product)


@merchant_view(Action.EDIT, POST)
def batch_save(request, pk, batch_pk=None):
    product = get_product_for_user(request, pk)
    batch = get_batch_for_user(request, product, batch_pk) if batch_pk else None
    form = BatchForm(request.POST)
    if form.is_valid():
        try:
            catalog.batch_save(product=product, batch=batch, actor=request.actor, **form.cleaned_data)
            messages.success(request, _("Batch saved."))
            return redirect(product)
        except ValidationError as e:
            form_error_from(form, e)
    return _render_detail(request, product, status=400, batch_form=form)


@merchant_view(Action.EDIT, POST)
def batch_delete(request, pk, batch_pk):
    product = get_product_for_user(request, pk)
    catalog.batch_delete(batch=get_batch_for_user(request, product, batch_pk), actor=request.actor)
    messages.success(request, _("Batch removed."))
    return redirect(product)


@merchant_view(Action.SKU_SWITCH, POST)
def product_switch(request, pk):
    product = get_product_for_user(request, pk)
    form = SkuSwitchForm(request.POST)
    if form.is_valid():
        try:
            switches.sku_switch_set(products=[product], kind=form.cleaned_data["kind"],
                                    enabled=form.cleaned_data["enabled"], until=form.until(),
                                    reason=form.cleaned_data["reason"], actor=request.actor)
            messages.success(request, _("Switch saved."))
            return redirect(product)
        except ValidationError as e:
            form_error_from(form, e)
    return _render_detail(request, product, status=400, switch_form=form)
