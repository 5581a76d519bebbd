"""The team page: owners add members, change roles, deactivate/reactivate, remove, set passwords.

Removing and deactivating show a confirm page first (GET); only its POST acts. The rules (last active owner,
not yourself) live in merchant/services/team.py.
"""
from django import forms
from django.contrib import messages
from django.core.exceptions import ValidationError
from django.db import IntegrityError
from django.shortcuts import get_object_or_404, redirect, render
from django.utils.translation import gettext as _
from django.utils.translation import pgettext

from merchant.forms import USERNAME_UNAVAILABLE, MemberForm, MemberPasswordForm, RoleForm
from merchant.models import Membership, Role
from merchant.permissions import Action
from merchant.services.team import (
    member_active_set, member_add, member_password_set, member_remove, member_role_set,
)
from merchant.views.common import flash_errors, form_error_from, merchant_view


def _member(request, pk) -> Membership:
    return get_object_or_404(Membership.objects.select_related("user"), merchant=request.merchant, pk=pk)


@merchant_view(Action.USERS, ("GET", "POST"))
def team(request):
    form = MemberForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            member = member_add(merchant=request.merchant, actor=request.actor, **form.cleaned_data)
        except IntegrityError:
            # Taken between the form's check and the insert: the same neutral answer as the form's.
            form.add_error("username", forms.ValidationError(USERNAME_UNAVAILABLE, code="unavailable"))
        else:
            messages.success(request, _("User %(name)s added.") % {"name": member.user.username})
            return redirect("team")
    members = (Membership.objects.filter(merchant=request.merchant).select_related("user")
               .order_by("-user__is_active", "user__username"))
    return render(request, "merchant/team.html", {"members": members, "form": form, "roles": Role.choices},
                  status=400 if request.method == "POST" else 200)


@merchant_view(Action.USERS, ("POST",))
def member_role(request, pk):
    member = _member(request, pk)
    form = RoleForm(request.POST)
    if form.is_valid():
        try:
            member_role_set(member=member, actor=request.actor, role=form.cleaned_data["role"])
        except ValidationError as error:
            flash_errors(request, error)
        else:
            messages.success(request, _("Role changed."))
    return redirect("team")


def _confirm(request, member, *, title, explanation, button):
    return render(request, "merchant/team_confirm.html",
                  {"member": member, "title": title, "explanation": explanation, "button": button})


def _act(request, write, success: str):
    try:
        write()
    except ValidationError as error:
        flash_errors(request, error)
    else:
        messages.success(request, success)
    return redirect("team")


@merchant_view(Action.USERS, ("GET", "POST"))
def member_deactivate(request, pk):
    member = _member(request, pk)
    name = member.user.username
    if request.method == "GET":
        return _confirm(
            request, member, title=_("Deactivate %(name)s?") % {"name": name},
            explanation=_("%(name)s can no longer log in and is logged out at once. Their history stays; you "
                          "can reactivate them later.") % {"name": name},
            button=_("Deactivate"))
    return _act(request, lambda: member_active_set(member=member, actor=request.actor, active=False),
                _("%(name)s is deactivated and can no longer log in.") % {"name": name})


@merchant_view(Action.USERS, ("POST",))
def member_reactivate(request, pk):
    member = _member(request, pk)
    return _act(request, lambda: member_active_set(member=member, actor=request.actor, active=True),
                _("%(name)s can log in again.") % {"name": member.user.username})


@merchant_view(Action.USERS, ("GET", "POST"))
def member_delete(request, pk):
    member = _member(request, pk)
    name = member.user.username
    if request.method == "GET":
        return _confirm(
            request, member, title=_("Remove %(name)s from the team?") % {"name": name},
            explanation=_("%(name)s can no longer log in. The changes they made stay in the history under their "
                          "name; the username cannot be used again.") % {"name": name},
            button=pgettext("team member", "Remove"))
    return _act(request, lambda: member_remove(member=member, actor=request.actor),
                _("%(name)s was removed from the team.") % {"name": name})


@merchant_view(Action.USERS, ("GET", "POST"))
def member_password(request, pk):
    member = _member(request, pk)
    form = MemberPasswordForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            member_password_set(member=member, actor=request.actor, password=form.cleaned_data["password"])
        except ValidationError as error:
            form_error_from(form, error)
        else:
            messages.success(request, _("New password set for %(name)s. Tell them in person or by phone; they "
                                        "are logged out everywhere.") % {"name": member.user.username})
            return redirect("team")
    return render(request, "merchant/team_password.html", {"member": member, "form": form},
                  status=400 if request.method == "POST" else 200)
