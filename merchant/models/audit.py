from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _


class AuditSource(models.TextChoices):
    USER = "user", _("User")
    IMPORT = "import", _("Import")
    ERP = "erp", _("ERP")
    API = "api", _("Open API")
    MARKETPLACE = "marketplace", _("Marketplace")
    SYSTEM = "system", _("System")
    REVERT = "revert", _("Import revert")


class AuditEntry(models.Model):
    """One changed field of one object: who or what changed it, when, old -> new."""

    merchant = models.ForeignKey("merchant.Merchant", on_delete=models.CASCADE, related_name="+")
    at = models.DateTimeField(auto_now_add=True, db_index=True)
    source = models.CharField(max_length=12, choices=AuditSource.choices)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    entity = models.CharField(max_length=30)
    entity_id = models.BigIntegerField()
    field = models.CharField(max_length=100)  # price[GROUP CODE] labels carry the group code
    old_value = models.TextField(blank=True)
    new_value = models.TextField(blank=True)
    reason = models.CharField(max_length=300, blank=True)

    class Meta:
        verbose_name = _("audit entry")
        verbose_name_plural = _("audit entries")
        indexes = [models.Index(fields=["merchant", "entity", "entity_id", "-at"], name="audit_entity_idx")]
        ordering = ["-at", "-id"]

    def __str__(self):
        return f"{self.entity}#{self.entity_id}.{self.field}: {self.old_value} -> {self.new_value}"
