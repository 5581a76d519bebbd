import uuid

from django.conf import settings
from django.db import models
from django.urls import reverse
from django.utils.translation import gettext_lazy as _, pgettext_lazy


class ImportKind(models.TextChoices):
    PRODUCTS = "products", _("Products")
    PRICES = "prices", _("Prices")
    BATCHES = "batches", _("Batches")
    STOCK = "stock", _("Stock")
    CUSTOMER_CODES = "customer_codes", _("ERP customer codes")
    LOGISTICS = "logistics", _("Shipping (logistics)")


class ImportStatus(models.TextChoices):
    QUEUED = "queued", _("Waiting to be checked")
    VALIDATING = "validating", _("Checking")
    PREVIEW = "preview", _("Ready for review")
    APPLYING = "applying", _("Applying")
    APPLIED = "applied", _("Applied")
    FAILED = "failed", _("Could not be read")
    CANCELLED = "cancelled", _("Cancelled")


class ImportInterruption(models.TextChoices):
    """What the import recovery did when a step's worker was lost (the page says it in the merchant's words)."""

    REQUEUED = "requeued", _("The check had not started and was queued again")
    CHECK_RESTARTED = "check_restarted", _("The check was interrupted and restarted")
    APPLY_INTERRUPTED = "apply_interrupted", _("Applying was interrupted; nothing was changed")
    GAVE_UP = "gave_up", _("The check was interrupted too many times")


def _upload_to(job, filename):
    # The merchant's file name is shown from file_name; the stored name is ours (no path tricks).
    return f"imports/{job.merchant_id}/{uuid.uuid4().hex}.{job.file_format}"


class ImportJob(models.Model):
    """One uploaded file: checked in the background into a change set, reviewed, then applied (SPEC M4)."""

    merchant = models.ForeignKey("merchant.Merchant", on_delete=models.CASCADE, related_name="imports")
    kind = models.CharField(_("kind"), max_length=16, choices=ImportKind.choices)
    status = models.CharField(_("status"), max_length=12, choices=ImportStatus.choices, default=ImportStatus.QUEUED)
    file = models.FileField(upload_to=_upload_to, max_length=200)
    file_name = models.CharField(_("file"), max_length=200)
    file_format = models.CharField(max_length=4)  # xlsx or csv
    file_size = models.BigIntegerField(default=0)
    uploaded_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+",
        verbose_name=_("uploaded by"),
    )
    applied_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+",
        verbose_name=_("applied by"),
    )
    created_at = models.DateTimeField(_("uploaded"), auto_now_add=True)
    validated_at = models.DateTimeField(null=True, blank=True)
    applied_at = models.DateTimeField(_("applied"), null=True, blank=True)
    # Progress of the running step, written by the worker and polled by the page.
    rows_done = models.IntegerField(default=0)
    rows_estimate = models.IntegerField(null=True, blank=True)
    step_started_at = models.DateTimeField(null=True, blank=True)
    # The lease of the worker running the step: a check renews it every chunk; an apply, whose transaction
    # no other connection can see into, takes it for its whole time limit. A lapsed lease means the worker
    # is gone; the token keeps a worker that was given up on from writing over the step's next attempt.
    lease_until = models.DateTimeField(null=True, blank=True)
    lease_token = models.CharField(max_length=32, blank=True)
    # Recovery of a lost step (merchant.services.imports.imports_recover): how often, when, and what it did.
    restarts = models.PositiveSmallIntegerField(default=0)
    interrupted_at = models.DateTimeField(null=True, blank=True)
    interruption = models.CharField(max_length=20, choices=ImportInterruption.choices, blank=True)
    rows_total = models.IntegerField(_("rows"), default=0)
    new_count = models.IntegerField(_("new"), default=0)
    changed_count = models.IntegerField(_("changed"), default=0)
    unchanged_count = models.IntegerField(_("unchanged"), default=0)
    invalid_count = models.IntegerField(_("invalid"), default=0)
    applied_count = models.IntegerField(_("applied rows"), default=0)
    skipped_count = models.IntegerField(_("skipped rows"), default=0)
    valid_only = models.BooleanField(default=False)
    # Header row: column index -> canonical key (unknown columns are absent), and notes for the reader.
    columns = models.JSONField(default=dict)
    warnings = models.JSONField(default=list)
    # SKUs whose automatic stock / price sync is on among the rows that change them: {"stock": n, "price": n}.
    sync_on = models.JSONField(default=dict)
    error = models.TextField(blank=True)
    # A revert is itself a change set, of the same kind, that puts back what an applied import changed.
    reverts = models.ForeignKey("self", null=True, blank=True, on_delete=models.SET_NULL, related_name="reverted_by",
                                verbose_name=_("reverts"))
    # Rows left out on confirm because their target changed after the preview (ImportRow.stale says how).
    stale_count = models.IntegerField(_("rows changed since the check"), default=0)

    class Meta:
        verbose_name = _("import")
        verbose_name_plural = _("imports")
        ordering = ["-created_at", "-id"]
        indexes = [
            models.Index(fields=["merchant", "-created_at"], name="import_merchant_idx"),
            # The recovery's scan every minute: only imports in a working state.
            models.Index(fields=["status"], condition=models.Q(status__in=["queued", "validating", "applying"]),
                         name="import_working_idx"),
        ]

    def __str__(self):
        return f"{self.kind} {self.file_name}"

    def get_absolute_url(self):
        return reverse("import_detail", args=[self.pk])


class RowAction(models.TextChoices):
    # Row states on the preview: "New"/"Changed" alone translate as other words (新值, 变更时间).
    NEW = "new", pgettext_lazy("import row state", "New")
    CHANGED = "changed", pgettext_lazy("import row state", "Changed")
    UNCHANGED = "unchanged", _("Unchanged")
    INVALID = "invalid", _("Invalid")


class ImportRow(models.Model):
    """One row of the change set that does something or is refused (unchanged rows are only counted).

    data holds the row's values as read (blank cells left out): applying re-plans them against the
    database as it is then, so a concurrent edit is never overwritten with a stale "old" value.
    """

    job = models.ForeignKey(ImportJob, on_delete=models.CASCADE, related_name="rows")
    row_number = models.IntegerField()
    action = models.CharField(max_length=10, choices=RowAction.choices)
    key = models.CharField(max_length=200, blank=True)
    data = models.JSONField(default=dict)
    changes = models.JSONField(default=dict)  # field -> [old, new], as text
    errors = models.JSONField(default=list)  # [{"column": key, "value": text, "reason": text}]
    # Set on confirm: whether the row was written, or, when its target changed since the preview, field ->
    # [value at preview, value now, value in the file] and the row is left out.
    applied = models.BooleanField(default=False)
    stale = models.JSONField(default=dict)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["job", "row_number"], name="uniq_import_row")]
        indexes = [models.Index(fields=["job", "action", "row_number"], name="importrow_action_idx")]

    def __str__(self):
        return f"{self.job_id}:{self.row_number} {self.action}"
