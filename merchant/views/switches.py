from django.contrib import messages
from django.core.exceptions import ValidationError
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _

from merchant import selectors
from merchant.forms import ModuleSwitchForm, SkuSwitchForm
from merchant.models import Module, ModuleSwitch
from merchant.permissions import Action
from merchant.services import switches
from merchant.views.common import flash_errors, get_product_for_user, merchant_view


@merchant_view()
def switch_overview(request):
    existing = {s.module: s for s in ModuleSwitch.objects.filter(merchant=request.merchant).select_related("changed_by")}
    paused_modules, paused_skus = selectors.paused_switches(request.merchant)
    held_items, held_values = selectors.held_records(request.merchant)
    return render(request, "merchant/switches.html", {
        "held_items": held_items, "held_values": held_values,
        "modules": [(value, label, existing.get(value)) for value, label in Module.choices],
        "paused_modules": paused_modules,
        "paused_skus": paused_skus,
        "module_form": ModuleSwitchForm(),
    })


@merchant_view(Action.MODULE_SWITCH, ("POST",))
def module_switch(request):
    form = ModuleSwitchForm(request.POST)
    if not form.is_valid():
        messages.error(request, _("Invalid switch change."))
        return redirect("switches")
    try:
        switches.module_switch_set(merchant=request.merchant, module=form.cleaned_data["module"],
                                   enabled=form.cleaned_data["enabled"], until=form.until(),
                                   reason=form.cleaned_data["reason"], actor=request.actor)
        messages.success(request, _("Switch saved."))
    except ValidationError as e:
        flash_errors(request, e)
    return redirect("switches")


@merchant_view(Action.SKU_SWITCH, ("POST",))
def sku_switch_resume(request, pk):
    """Resume one paused SKU switch from the paused list."""
    product = get_product_for_user(request, pk)
    form = SkuSwitchForm(request.POST)
    if form.is_valid():
        switches.sku_switch_set(products=[product], kind=form.cleaned_data["kind"], enabled=True, actor=request.actor)
        messages.success(request, _("Auto sync resumed for %(p)s.") % {"p": product})
    return redirect("switches")
