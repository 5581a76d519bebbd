from django.contrib import messages
from django.core.exceptions import ValidationError
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.utils.translation import ngettext

from merchant import selectors
from merchant.forms import ModuleSwitchForm, SkuSwitchForm
from merchant.models import Module, ModuleSwitch, SwitchKind
from merchant.permissions import Action
from merchant.selectors.held import held_rows, held_to_apply
from merchant.services import held, switches
from merchant.views.common import flash_errors, get_product_for_user, merchant_view, reposted_fields


@merchant_view()
def switch_overview(request):
    existing = {s.module: s for s in ModuleSwitch.objects.filter(merchant=request.merchant).select_related("changed_by")}
    paused_modules, paused_skus = selectors.paused_switches(request.merchant)
    return render(request, "merchant/switches.html", {
        "held": held_rows(request.merchant),
        "modules": [(value, label, existing.get(value)) for value, label in Module.choices],
        "paused_modules": paused_modules,
        "paused_skus": paused_skus,
        "module_form": ModuleSwitchForm(),
    })


def confirm_switch_on(request, rows, *, what: str, back: str):
    """The page shown before a switch is turned on while values are held: what will apply, old -> new; the
    same POST again with confirmed=1 applies it. None when nothing is held (nothing to confirm)."""
    if not rows or request.POST.get("confirmed") == "1":
        return None
    return render(request, "merchant/switch_on_confirm.html", {
        "rows": rows, "what": what, "fields": reposted_fields(request), "action": request.path, "back": back,
    })


def switched_on_message(what: str, applied: int) -> str:
    if not applied:
        return _("Automatic sync of %(what)s is on.") % {"what": what}
    return ngettext("Automatic sync of %(what)s is on: %(n)d held value applied.",
                    "Automatic sync of %(what)s is on: %(n)d held values applied.", applied) % {
        "what": what, "n": applied}


@merchant_view(Action.MODULE_SWITCH, ("POST",))
def module_switch(request):
    form = ModuleSwitchForm(request.POST)
    if not form.is_valid():
        messages.error(request, _("Invalid switch change."))
        return redirect("switches")
    module, enabled = form.cleaned_data["module"], form.cleaned_data["enabled"]
    label = str(Module(module).label)
    if enabled:
        preview = confirm_switch_on(request, held_to_apply(request.merchant, module=module), what=label,
                                    back=reverse("switches"))
        if preview is not None:
            return preview
    try:
        switch = switches.module_switch_set(merchant=request.merchant, module=module, enabled=enabled,
                                            until=form.until(), reason=form.cleaned_data["reason"],
                                            actor=request.actor)
        if enabled:
            messages.success(request, switched_on_message(label, switch.applied_count))
        else:
            messages.success(request, switches.paused_message(label, switch))
    except ValidationError as e:
        flash_errors(request, e)
    return redirect("switches")


@merchant_view(Action.SKU_SWITCH, ("POST",))
def sku_switch_resume(request, pk):
    """Resume one paused SKU switch from the paused list (after showing what it applies)."""
    product = get_product_for_user(request, pk)
    form = SkuSwitchForm(request.POST)
    if form.is_valid():
        kind = form.cleaned_data["kind"]
        what = f"{product}: {SwitchKind(kind).label}"
        preview = confirm_switch_on(request, held_to_apply(request.merchant, products=[product], kind=kind),
                                    what=what, back=reverse("switches"))
        if preview is not None:
            return preview
        done = switches.sku_switch_set(products=[product], kind=kind, enabled=True, actor=request.actor)
        messages.success(request, switched_on_message(what, sum(s.applied_count for s in done[:1])))
    return redirect("switches")


@merchant_view(Action.EDIT, ("POST",))
def held_decide(request, decision):
    """Apply or discard held values and records: one row (its own button) or the ticked ones."""
    tokens = [request.POST["one"]] if request.POST.get("one") else request.POST.getlist("held")
    if not tokens:
        messages.error(request, _("Choose at least one held value."))
        return redirect("switches")
    if decision == "apply":
        applied, problems = held.held_apply(merchant=request.merchant, tokens=tokens, actor=request.actor)
        messages.success(request, ngettext("%(n)d held value applied.", "%(n)d held values applied.", applied)
                         % {"n": applied})
        for problem in problems:
            messages.warning(request, problem)
    else:
        dropped = held.held_discard(merchant=request.merchant, tokens=tokens, actor=request.actor)
        messages.success(request, ngettext("%(n)d held value discarded: the value in force stays.",
                                           "%(n)d held values discarded: the values in force stay.", dropped)
                         % {"n": dropped})
    return redirect(request.POST.get("next") if request.POST.get("next", "").startswith("/") else "switches")
