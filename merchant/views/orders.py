from django.contrib import messages
from django.core.exceptions import ValidationError
from django.shortcuts import redirect, render
from django.utils import timezone
from django.utils.translation import gettext as _

from merchant import selectors
from merchant.batch_expiry import usable_batches
from merchant.filters import OrderFilter
from merchant.forms import ErpStatusForm, LogisticsForm, OrderMemoForm, ShipmentLineForm, StatusForm
from merchant.selectors.orders import exception_reasons
from merchant.permissions import Action
from merchant.services import orders as order_services
from merchant.views.common import form_error_from, get_order_for_user, merchant_view
from sync import outbound_status

POST = ("POST",)


def order_filter(request) -> OrderFilter:
    """The orders list filter bound to the request, scoped to the user's merchant."""
    return OrderFilter(request.GET or None, merchant=request.merchant)


def _render_detail(request, order, status=200, **forms):
    order = selectors.order_detail(request.merchant, order.pk)
    remaining = order_services.remaining_quantities(order)
    items = list(order.items.all())
    line_forms = [
        (item, remaining[item.pk], forms.get("line_forms", {}).get(item.pk) or _line_form(item))
        for item in items
    ]
    status_form = forms.get("status_form") or StatusForm()
    allowed = order_services.allowed_transitions(order)
    status_form.fields["status"].choices = [(c, label) for c, label in status_form.fields["status"].choices
                                            if c in allowed]
    return render(request, "merchant/orders/detail.html", {
        "order": order,
        "items": items,
        "line_forms": line_forms,
        "can_ship": order.status in order_services.SHIPPABLE,
        "status_form": status_form,
        "allowed": allowed,
        "logistics_form": forms.get("logistics_form") or LogisticsForm(),
        "shipment_form": forms.get("shipment_form") or LogisticsForm(prefix="s"),
        "erp_form": forms.get("erp_form") or ErpStatusForm(),
        "audit": selectors.audit_for(request.merchant, "order", order.pk),
        "logistics_push": outbound_status.order_logistics_push(order),
        "memo_form": forms.get("memo_form") or OrderMemoForm(initial={"seller_memo": order.seller_memo,
                                                                      "flag": order.flag}),
        "exceptions": exception_reasons(request.merchant, [order.pk]).get(order.pk, []),
    }, status=status)


def _line_form(item, data=None) -> ShipmentLineForm:
    """A shipment line; for a product with batches it picks one of its usable batches (FEFO) rather than a typed
    number. Shipments recorded through the API or an import still name batch numbers."""
    today = timezone.localdate()
    product = item.product if item.product_id else None
    picks = product is not None and (product.batch_managed or product.batches.exists())
    batches = usable_batches(product, today) if picks else None
    return ShipmentLineForm(data, prefix=f"i{item.pk}", batches=batches, today=today)


@merchant_view()
def order_detail(request, pk):
    return _render_detail(request, get_order_for_user(request, pk))


def _run(request, order, form, form_key, call, success):
    """Validate the form, call the service; on any error re-render the page with it at the field."""
    if form.is_valid():
        try:
            call(form.cleaned_data)
            messages.success(request, success)
            return redirect(order)
        except ValidationError as e:
            form_error_from(form, e)
    return _render_detail(request, order, status=400, **{form_key: form})


@merchant_view(Action.EDIT, POST)
def order_status(request, pk):
    order = get_order_for_user(request, pk)
    return _run(request, order, StatusForm(request.POST), "status_form", lambda d: order_services.order_status_change(
        order=order, status=d["status"], reason=d["reason"], actor=request.actor), _("Status changed."))


@merchant_view(Action.EDIT, POST)
def order_logistics(request, pk):
    order = get_order_for_user(request, pk)
    return _run(request, order, LogisticsForm(request.POST), "logistics_form",
                lambda d: order_services.order_logistics_enter(
                    order=order, carrier=d["carrier"], tracking_no=d["tracking_no"], actor=request.actor),
                _("Logistics saved: the order is shipped."))


@merchant_view(Action.EDIT, POST)
def order_shipment(request, pk):
    order = get_order_for_user(request, pk)
    form = LogisticsForm(request.POST, prefix="s")
    items = list(order.items.select_related("product"))
    line_forms = {item.pk: _line_form(item, request.POST) for item in items}
    if not all(f.is_valid() for f in line_forms.values()):
        form.is_valid()
        return _render_detail(request, order, status=400, shipment_form=form, line_forms=line_forms)
    lines = [
        order_services.ShipmentLine(order_item=item, quantity=line_forms[item.pk].cleaned_data["quantity"] or 0,
                                    batch_no=(line_forms[item.pk].cleaned_data["batch_no"] or "").strip(),
                                    production_date=line_forms[item.pk].cleaned_data["production_date"],
                                    expiry_date=line_forms[item.pk].cleaned_data["expiry_date"])
        for item in items
    ]
    if form.is_valid():
        try:
            order_services.order_shipment_add(order=order, carrier=form.cleaned_data["carrier"],
                                              tracking_no=form.cleaned_data["tracking_no"], lines=lines,
                                              actor=request.actor)
            messages.success(request, _("Shipment saved."))
            return redirect(order)
        except ValidationError as e:
            form_error_from(form, e)
    return _render_detail(request, order, status=400, shipment_form=form, line_forms=line_forms)


@merchant_view(Action.EDIT, POST)
def order_erp_status(request, pk):
    order = get_order_for_user(request, pk)
    return _run(request, order, ErpStatusForm(request.POST), "erp_form",
                lambda d: order_services.order_erp_status_add(
                    order=order, erp_status=d["erp_status"], message=d["message"], actor=request.actor),
                _("ERP status saved."))


@merchant_view(Action.EDIT, POST)
def order_memo(request, pk):
    order = get_order_for_user(request, pk)
    return _run(request, order, OrderMemoForm(request.POST), "memo_form", lambda d: order_services.order_memo_set(
        order=order, memo=d["seller_memo"], flag=d["flag"], actor=request.actor), _("Memo saved."))
