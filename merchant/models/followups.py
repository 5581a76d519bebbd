"""Follow-ups (客服跟进): a work item for the merchant's customer service, opened by a rule and closed by a person.

The first kind is a stalled parcel: the carrier's trace of a marketplace order we shipped has had no new node
for longer than the merchant allows (Merchant.logistics_stall_hours). Sync opens it (sync.pipelines.trace); a member
assigns it, notes what was done and resolves it. A trace that moves again after opening does not close it: the
merchant's work item stays until someone resolves it, and the page says the parcel moved."""
from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from django.utils.translation import ngettext


class FollowUpKind(models.TextChoices):
    LOGISTICS_STALLED = "logistics_stalled", _("Parcel not moving")


class FollowUpStatus(models.TextChoices):
    OPEN = "open", _("Open")
    RESOLVED = "resolved", _("Resolved")


class FollowUp(models.Model):
    merchant = models.ForeignKey("merchant.Merchant", on_delete=models.CASCADE, related_name="followups")
    order = models.ForeignKey("merchant.Order", on_delete=models.CASCADE, related_name="followups",
                              verbose_name=_("order"))
    kind = models.CharField(_("kind"), max_length=24, choices=FollowUpKind.choices,
                            default=FollowUpKind.LOGISTICS_STALLED)
    status = models.CharField(_("status"), max_length=10, choices=FollowUpStatus.choices,
                              default=FollowUpStatus.OPEN)
    # The parcel as the carrier's trace names it when the follow-up opened.
    carrier_name = models.CharField(_("carrier"), max_length=100, blank=True)
    tracking_no = models.CharField(_("tracking number"), max_length=64, blank=True)
    # The last progress before the stall: the last trace node's time, or the shipping time when the trace has
    # none. With the order, the key of one stall: the same stall never opens a second follow-up.
    since = models.DateTimeField(_("no progress since"))
    last_node_at = models.DateTimeField(_("last trace node"), null=True, blank=True)
    last_node_text = models.CharField(_("last trace node"), max_length=300, blank=True)
    # The merchant's limit when it opened (hours without a new node).
    stall_hours = models.PositiveIntegerField(_("hours allowed without progress"))
    opened_at = models.DateTimeField(_("opened"), default=timezone.now)
    # The trace got a new node (or was signed for) after the follow-up opened.
    moved_at = models.DateTimeField(_("moved again"), null=True, blank=True)
    delivered = models.BooleanField(_("signed for"), default=False)
    assignee = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL,
                                 related_name="+", verbose_name=_("assignee"))
    note = models.TextField(_("note"), blank=True)
    resolved_at = models.DateTimeField(_("resolved"), null=True, blank=True)
    resolved_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL,
                                    related_name="+", verbose_name=_("resolved by"))

    class Meta:
        verbose_name = _("follow-up")
        verbose_name_plural = _("follow-ups")
        ordering = ["-opened_at", "-id"]
        constraints = [
            models.UniqueConstraint(fields=["order", "kind"], condition=Q(status="open"),
                                    name="uniq_followup_open"),
            models.UniqueConstraint(fields=["order", "kind", "since"], name="uniq_followup_stall"),
        ]
        indexes = [
            # The queue lists a merchant's follow-ups by status, newest first.
            models.Index(fields=["merchant", "status", "-opened_at"], name="followup_queue_idx"),
        ]

    def __str__(self):
        return f"{self.merchant_id}/{self.kind} order {self.order_id} {self.status}"

    @property
    def is_open(self) -> bool:
        return self.status == FollowUpStatus.OPEN

    def reason(self) -> str:
        """Why it opened, in the active language."""
        if self.last_node_at is None:
            return ngettext("No carrier trace node in the %(hours)d hour after shipping",
                            "No carrier trace node in the %(hours)d hours after shipping",
                            self.stall_hours) % {"hours": self.stall_hours}
        return ngettext("No new carrier trace node for more than %(hours)d hour",
                        "No new carrier trace node for more than %(hours)d hours",
                        self.stall_hours) % {"hours": self.stall_hours}
