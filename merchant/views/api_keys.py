"""Open API keys (SPEC A1, M1): owners create, rotate and revoke their merchant's keys; a secret is shown once,
on the page that answers its creation, and never again (it is stored only encrypted)."""
from django.contrib import messages
from django.core.exceptions import ValidationError
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils.translation import gettext as _

from merchant.forms import ApiKeyForm
from merchant.models import ApiCredential
from merchant.permissions import Action
from merchant.services.api_credentials import api_credential_create, api_credential_revoke, api_credential_rotate
from merchant.views.common import confirm_first, flash_errors, merchant_view


def _get_credential_for_user(request, pk) -> ApiCredential:
    return get_object_or_404(ApiCredential, merchant=request.merchant, pk=pk)


def _secret_page(request, credential: ApiCredential, secret: str, replaced: ApiCredential | None = None):
    """The one answer that carries the secret. Rendered, not redirected to, so the secret never goes into the
    session or a message; no-store keeps it out of the browser's and proxies' caches."""
    response = render(request, "merchant/api_keys/secret.html",
                      {"credential": credential, "secret": secret, "replaced": replaced})
    response["Cache-Control"] = "no-store"
    return response


@merchant_view(Action.API_CREDENTIALS, ("GET", "POST"))
def api_keys(request):
    """The merchant's keys, and a new one."""
    form = ApiKeyForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        credential, secret = api_credential_create(merchant=request.merchant, actor=request.actor,
                                                   name=form.cleaned_data["name"])
        return _secret_page(request, credential, secret)
    credentials = ApiCredential.objects.filter(merchant=request.merchant).select_related("created_by")
    return render(request, "merchant/api_keys/list.html", {"credentials": credentials, "form": form},
                  status=400 if request.method == "POST" else 200)


@merchant_view(Action.API_CREDENTIALS, ("POST",))
def api_key_rotate(request, pk):
    old = _get_credential_for_user(request, pk)
    try:
        credential, secret = api_credential_rotate(credential=old, actor=request.actor)
    except ValidationError as error:
        flash_errors(request, error)
        return redirect("api_keys")
    old.refresh_from_db(fields=["revoked_at"])
    return _secret_page(request, credential, secret, replaced=old)


@merchant_view(Action.API_CREDENTIALS, ("POST",))
def api_key_revoke(request, pk):
    credential = _get_credential_for_user(request, pk)
    if credential.revoked_at is None:
        ask = confirm_first(
            request, title=_("Revoke key %(key)s?") % {"key": credential.key},
            message=_("Requests signed with this key are refused from then on: put a new key into your ERP first."),
            button=_("Revoke the key"), back=reverse("api_keys"))
        if ask is not None:
            return ask
        api_credential_revoke(credential=credential, actor=request.actor)
        messages.success(request, _("Key %(key)s revoked: requests signed with it are refused from now on.")
                         % {"key": credential.key})
    return redirect("api_keys")
