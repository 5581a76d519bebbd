"""The follow-up queue (客服跟进): parcels whose carrier trace stalled, to assign, note and resolve."""
from django.contrib import messages
from django.core.exceptions import ValidationError
from django.shortcuts import get_object_or_404, redirect, render
from django.utils.translation import gettext as _

from merchant.forms import FollowUpAssignForm, FollowUpNoteForm
from merchant.models import AuditEntry, FollowUp, FollowUpStatus
from merchant.permissions import Action
from merchant.selectors.followups import followups_for
from merchant.services import followups as service
from merchant.views.common import flash_errors, merchant_view, paginate

POST = ("POST",)
STATUS_TABS = {"open": FollowUpStatus.OPEN, "resolved": FollowUpStatus.RESOLVED, "all": ""}


def _get_followup_for_user(request, pk) -> FollowUp:
    return get_object_or_404(FollowUp.objects.select_related("order", "assignee", "resolved_by"),
                             merchant=request.merchant, pk=pk)


@merchant_view()
def followup_list(request):
    tab = request.GET.get("status", "open")
    tab = tab if tab in STATUS_TABS else "open"
    who = request.GET.get("assignee", "")
    rows = followups_for(request.merchant, status=STATUS_TABS[tab], assignee=request.user if who == "me" else None,
                         unassigned=who == "none")
    counts = {key: followups_for(request.merchant, status=status).count() for key, status in STATUS_TABS.items()
              if key != "all"}
    return render(request, "merchant/followups/list.html", {
        "page": paginate(request, rows), "tab": tab, "who": who, "counts": counts})


@merchant_view()
def followup_detail(request, pk):
    followup = _get_followup_for_user(request, pk)
    audit = AuditEntry.objects.filter(merchant=request.merchant, entity="followup", entity_id=followup.pk) \
        .select_related("actor")
    return render(request, "merchant/followups/detail.html", {
        "f": followup, "audit": audit,
        "assign_form": FollowUpAssignForm(merchant=request.merchant, initial={"assignee": followup.assignee}),
        "note_form": FollowUpNoteForm(initial={"note": followup.note}),
    })


def _act(request, followup, done_message, call):
    try:
        call()
    except ValidationError as error:
        flash_errors(request, error)
    else:
        messages.success(request, done_message)
    return redirect("followup_detail", followup.pk)


@merchant_view(Action.EDIT, POST)
def followup_assign(request, pk):
    followup = _get_followup_for_user(request, pk)
    form = FollowUpAssignForm(request.POST, merchant=request.merchant)
    if not form.is_valid():
        flash_errors(request, ValidationError(_("Choose a member of your team.")))
        return redirect("followup_detail", followup.pk)
    assignee = form.cleaned_data["assignee"]
    done = _("Assigned to %(name)s.") % {"name": assignee.get_full_name() or assignee.username} if assignee \
        else _("Nobody is assigned now.")
    return _act(request, followup, done,
                lambda: service.followup_assign(followup=followup, assignee=assignee, actor=request.actor))


@merchant_view(Action.EDIT, POST)
def followup_note(request, pk):
    followup = _get_followup_for_user(request, pk)
    form = FollowUpNoteForm(request.POST)
    if not form.is_valid():
        flash_errors(request, ValidationError([e for errors in form.errors.values() for e in errors]))
        return redirect("followup_detail", followup.pk)
    return _act(request, followup, _("Note saved."),
                lambda: service.followup_note(followup=followup, text=form.cleaned_data["note"], actor=request.actor))


@merchant_view(Action.EDIT, POST)
def followup_resolve(request, pk):
    followup = _get_followup_for_user(request, pk)
    form = FollowUpNoteForm(request.POST)
    if not form.is_valid():
        flash_errors(request, ValidationError([e for errors in form.errors.values() for e in errors]))
        return redirect("followup_detail", followup.pk)
    return _act(request, followup, _("Follow-up resolved."),
                lambda: service.followup_resolve(followup=followup, note=form.cleaned_data["note"],
                                                 actor=request.actor))
