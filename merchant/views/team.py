from django import forms
from django.contrib import messages
from django.contrib.auth import get_user_model
from django.db import IntegrityError, transaction
from django.shortcuts import get_object_or_404, redirect, render
from django.utils.translation import gettext as _

from merchant.forms import USERNAME_UNAVAILABLE, MemberForm, RoleForm
from merchant.models import Membership, Role
from merchant.permissions import Action
from merchant.views.common import merchant_view


@merchant_view(Action.USERS, ("GET", "POST"))
def team(request):
    """Owners add users to their merchant and change roles."""
    form = MemberForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            with transaction.atomic():
                user = get_user_model().objects.create_user(
                    username=form.cleaned_data["username"], password=form.cleaned_data["password"]
                )
                Membership.objects.create(user=user, merchant=request.merchant, role=form.cleaned_data["role"])
        except IntegrityError:
            # Taken between the form's check and the insert: the same neutral answer as the form's.
            form.add_error("username", forms.ValidationError(USERNAME_UNAVAILABLE, code="unavailable"))
        else:
            messages.success(request, _("User %(name)s added.") % {"name": user.username})
            return redirect("team")
    members = Membership.objects.filter(merchant=request.merchant).select_related("user").order_by("user__username")
    return render(request, "merchant/team.html", {"members": members, "form": form, "roles": Role.choices},
                  status=400 if request.method == "POST" else 200)


@merchant_view(Action.USERS, ("POST",))
def member_role(request, pk):
    member = get_object_or_404(Membership, merchant=request.merchant, pk=pk)
    form = RoleForm(request.POST)
    if form.is_valid():
        owners = Membership.objects.filter(merchant=request.merchant, role=Role.OWNER).exclude(pk=member.pk)
        if member.role == Role.OWNER and form.cleaned_data["role"] != Role.OWNER and not owners.exists():
            messages.error(request, _("A merchant needs at least one owner."))
        else:
            member.role = form.cleaned_data["role"]
            member.save(update_fields=["role"])
            messages.success(request, _("Role changed."))
    return redirect("team")
