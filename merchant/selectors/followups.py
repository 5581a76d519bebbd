"""Reads of the follow-up queue (merchant.models.followups)."""
from django.db.models import QuerySet

from merchant.models import FollowUp, FollowUpStatus


def followups_for(merchant, *, status: str = FollowUpStatus.OPEN, assignee=None, unassigned: bool = False
                  ) -> QuerySet:
    """The merchant's follow-ups with the given status ("" for all), optionally of one assignee or of nobody;
    oldest stall first for open ones (the longest waiting parcel is the most urgent), newest first otherwise."""
    rows = FollowUp.objects.filter(merchant=merchant).select_related("order", "assignee", "resolved_by")
    if status:
        rows = rows.filter(status=status)
    if unassigned:
        rows = rows.filter(assignee__isnull=True)
    elif assignee is not None:
        rows = rows.filter(assignee=assignee)
    if status == FollowUpStatus.OPEN:
        return rows.order_by("since", "id")
    return rows.order_by("-opened_at", "-id")


def followups_open_count(merchant) -> int:
    return FollowUp.objects.filter(merchant=merchant, status=FollowUpStatus.OPEN).count()
