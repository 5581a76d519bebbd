"""Presale freeze (SPEC S10): the merchant's choice of when presale orders go to the ERP."""
from django.contrib import messages
from django.core.exceptions import ValidationError
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _

from merchant.forms import PresaleSettingsForm
from merchant.permissions import Action
from merchant.selectors.presale import presale_frozen_summary
from merchant.services import presale
from merchant.views.common import form_error_from, merchant_view


@merchant_view(Action.SETTINGS, methods=("GET", "POST"))
def presale_settings(request):
    form = PresaleSettingsForm(request.POST or None, initial={"handoff": request.merchant.presale_handoff})
    if request.method == "POST" and form.is_valid():
        try:
            presale.merchant_presale_handoff_set(merchant=request.merchant, handoff=form.cleaned_data["handoff"],
                                                 actor=request.actor)
        except ValidationError as e:
            form_error_from(form, e)
        else:
            messages.success(request, _("Presale settings saved."))
            return redirect("presale_settings")
    return render(request, "merchant/orders/presale_settings.html", {
        "form": form, "frozen": presale_frozen_summary(request.merchant)}, status=400 if form.errors else 200)
