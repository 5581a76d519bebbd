from django.contrib import messages
from django.core.exceptions import ValidationError
from django.middleware.csrf import get_token
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.html import format_html
from django.utils.translation import gettext as _
from django.utils.translation import ngettext

from merchant import selectors
from merchant.batch_expiry import batch_expiry
from merchant.selectors.held import held_to_apply, value_row
from merchant.filters import PRODUCT_PAGE_SIZES, ProductListOptions
from merchant.forms import (
    BatchForm, BulkProductForm, GroupPriceForm, ProductForm, SearchForm, SkuSwitchForm, StockForm, StockRuleForm,
    pause_until,
)
from merchant.models import ListingState, Module, Product, SwitchKind
from merchant.permissions import Action, role_allows
from merchant.selectors.presale import presale_frozen_for_product
from merchant.services import catalog, stock, switches
from merchant.templatetags.backoffice import money
from merchant.views.common import (
    flash_errors, form_error_from, get_batch_for_user, get_group_price_for_user, get_product_for_user,
    merchant_view, querystring_without_page,
)
from merchant.views.switches import confirm_switch_on, switched_on_message
from sync import outbound_status, stock_rules

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
            if verb == "resume":
                what = ngettext("%(kind)s of %(n)d product", "%(kind)s of %(n)d products", len(products)) % {
                    "kind": SwitchKind(kind).label, "n": len(products)}
                preview = confirm_switch_on(request, held_to_apply(request.merchant, products=products, kind=kind),
                                            what=what, back=request.get_full_path())
                if preview is not None:
                    return preview
            done = switches.sku_switch_set(
                products=products, kind=kind, enabled=verb == "resume", actor=request.actor,
                until=pause_until(form.cleaned_data.get("pause_for") or "") if verb == "pause" else None,
            )
            if verb == "resume":
                messages.success(request, switched_on_message(what, done[0].applied_count if done else 0))
            else:
                messages.success(request, switches.paused_message(
                    ngettext("%(kind)s of %(n)d product", "%(kind)s of %(n)d products", len(products)) % {
                        "kind": SwitchKind(kind).label, "n": len(products)}, done[0]))
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
    today, window = timezone.localdate(), request.merchant.expiry_exclusion_days
    editing = forms.get("editing_batch")
    batch_form = forms.get("batch_form") or BatchForm(initial=_batch_initial(editing))
    context = {
        "product": product,
        "switch_states": [(kind, label, switch_states.get(kind)) for kind, label in SwitchKind.choices],
        "stock_sync_on": switches.auto_sync_on(
            merchant_id=product.merchant_id, module="stock", product=product, kind=SwitchKind.STOCK
        ),
        "held_values": [value_row(held) for held in product.held_values.all()],
        "audit": selectors.audit_for(request.merchant, "product", product.pk),
        "product_form": forms.get("product_form") or ProductForm(instance=product),
        "stock_form": forms.get("stock_form") or StockForm(initial={"stock": product.stock}),
        "price_form": forms.get("price_form") or GroupPriceForm(),
        "batch_form": batch_form,
        "editing_batch": editing,
        "batches": [(b, batch_expiry(b.expiry_date, today, window)) for b in product.batches.all()],
        "switch_form": forms.get("switch_form") or SkuSwitchForm(),
        "listing_refusal": catalog.listing_refusal(product, True),
        "pushes": outbound_status.product_pushes(product),
        "shop_stock": [(row, StockRuleForm(instance=row.override or row.offer.rule,
                                                auto_id=f"id_rule{row.connection.pk}_%s"))
                       for row in stock_rules.product_offers(product, request.merchant)],
        "presale_frozen": presale_frozen_for_product(request.merchant, product),
    }
    context["presale_frozen_total"] = sum(line.quantity for line in context["presale_frozen"])
    return render(request, "merchant/products/detail.html", context, status=status)


def _batch_initial(batch) -> dict:
    if batch is None:
        return {}
    return {"batch_no": batch.batch_no, "production_date": batch.production_date,
            "expiry_date": batch.expiry_date, "quantity": batch.quantity}


@merchant_view()
def product_detail(request, pk):
    product = get_product_for_user(request, pk)
    # ?batch=<id> opens that batch in the batch form, to be edited in place.
    editing = None
    if request.GET.get("batch", "").isdigit() and role_allows(request.actor.role, Action.EDIT):
        editing = get_batch_for_user(request, product, int(request.GET["batch"]))
    return _render_detail(request, product, editing_batch=editing)


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
            # Nothing chosen means no pause: a stock edit never stops the SKU following the ERP by itself.
            pause = form.cleaned_data.get("pause_for") or "no"
            previous = product.stock
            was_on = switches.auto_sync_on(merchant_id=product.merchant_id, module=Module.STOCK, product=product,
                                           kind=SwitchKind.STOCK)
            stock.stock_set_by_hand(
                product=product, quantity=form.cleaned_data["stock"], actor=request.actor,
                reason=form.cleaned_data["reason"], pause_sync=pause != "no",
                until=pause_until(pause) if pause != "no" else None,
            )
            messages.success(request, stock_saved_message(request, product, previous=previous,
                                                          paused=pause != "no" and was_on))
            return redirect(product)
        except ValidationError as e:
            form_error_from(form, e)
    return _render_detail(request, product, status=400, stock_form=form)


def stock_saved_message(request, product, *, previous: int, paused: bool):
    """What a stock edit did to the SKU's auto sync, in words, with a button that takes it back."""
    switch = product.switches.filter(kind=SwitchKind.STOCK).first()
    if switch is not None and not switch.is_on():
        if switch.paused_until:
            text = _("Stock saved; automatic stock sync is paused until %(time)s.") % {
                "time": timezone.localtime(switch.paused_until).strftime("%H:%M" if timezone.localdate(
                    switch.paused_until) == timezone.localdate() else "%Y-%m-%d %H:%M")}
        else:
            text = _("Stock saved; automatic stock sync stays off until someone turns it back on.")
    elif switches.module_pause(product.merchant, Module.STOCK) is not None:
        text = _("Stock saved; automatic stock sync is off for the whole stock module.")
    else:
        text = _("Stock saved. Automatic stock sync is on: the next stock the ERP sends replaces this value.")
    undo = format_html(
        ' <form class="inline-form" method="post" action="{}"><input type="hidden" name="csrfmiddlewaretoken" '
        'value="{}"><input type="hidden" name="previous" value="{}"><input type="hidden" name="set_to" value="{}">'
        '<input type="hidden" name="resume" value="{}"><button type="submit" class="link">{}</button></form>',
        reverse("product_stock_undo", args=[product.pk]), get_token(request), previous, product.stock,
        "1" if paused else "0", _("Undo"),
    )
    return format_html("{}{}", text, undo)


@merchant_view(Action.EDIT, POST)
def product_stock_undo(request, pk):
    """Take a stock edit back: the previous stock, and the SKU's auto stock sync on again if the edit paused it."""
    product = get_product_for_user(request, pk)
    try:
        previous, set_to = int(request.POST.get("previous", "")), int(request.POST.get("set_to", ""))
    except ValueError:
        messages.error(request, _("Nothing to undo."))
        return redirect(product)
    try:
        stock.stock_edit_undo(product=product, previous=previous, set_to=set_to,
                              resume=request.POST.get("resume") == "1", actor=request.actor)
        messages.success(request, _("Undone: stock is %(n)s again.") % {"n": previous})
    except ValidationError as e:
        flash_errors(request, e)
    return redirect(product)


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
    return _render_detail(request, product, status=400, batch_form=form, editing_batch=batch)


@merchant_view(Action.EDIT, POST)
def batch_delete(request, pk, batch_pk):
    product = get_product_for_user(request, pk)
    try:
        catalog.batch_delete(batch=get_batch_for_user(request, product, batch_pk), actor=request.actor)
        messages.success(request, _("Batch removed."))
    except ValidationError as error:
        flash_errors(request, error)
    return redirect(product)


@merchant_view(Action.SKU_SWITCH, POST)
def product_switch(request, pk):
    product = get_product_for_user(request, pk)
    form = SkuSwitchForm(request.POST)
    if form.is_valid():
        kind, enabled = form.cleaned_data["kind"], form.cleaned_data["enabled"]
        what = f"{product}: {SwitchKind(kind).label}"
        if enabled:
            preview = confirm_switch_on(request, held_to_apply(request.merchant, products=[product], kind=kind),
                                        what=what, back=product.get_absolute_url())
            if preview is not None:
                return preview
        try:
            done = switches.sku_switch_set(products=[product], kind=kind, enabled=enabled, until=form.until(),
                                           reason=form.cleaned_data["reason"], actor=request.actor)
            messages.success(request, switched_on_message(what, done[0].applied_count) if enabled
                             else switches.paused_message(what, done[0]))
            return redirect(product)
        except ValidationError as e:
            form_error_from(form, e)
    return _render_detail(request, product, status=400, switch_form=form)
