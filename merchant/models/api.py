"""Open API credentials (SPEC A1): a merchant's ERP signs every request with a key's secret."""
from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _

from merchant import secrets


class ApiCredential(models.Model):
    merchant = models.ForeignKey("merchant.Merchant", on_delete=models.CASCADE, related_name="api_credentials")
    name = models.CharField(_("name"), max_length=100, blank=True)
    # Public: sent with every request to say which secret signed it.
    key = models.CharField(_("API key"), max_length=40, unique=True)
    secret_encrypted = models.TextField(editable=False)
    created_at = models.DateTimeField(_("created"), auto_now_add=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    revoked_at = models.DateTimeField(_("revoked"), null=True, blank=True)
    last_used_at = models.DateTimeField(_("last used"), null=True, blank=True)

    class Meta:
        verbose_name = _("API credential")
        verbose_name_plural = _("API credentials")
        ordering = ["merchant", "-created_at"]

    def __str__(self):
        return self.key

    @property
    def secret(self) -> str:
        return secrets.decrypt(self.secret_encrypted)

    @secret.setter
    def secret(self, value: str) -> None:
        self.secret_encrypted = secrets.encrypt(value)


class ApiNonce(models.Model):
    """A nonce already used with a key; the unique constraint is what refuses a replay."""

    credential = models.ForeignKey(ApiCredential, on_delete=models.CASCADE, related_name="+")
    nonce = models.CharField(max_length=64)
    seen_at = models.DateTimeField(db_index=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["credential", "nonce"], name="uniq_api_nonce")]


class IdempotencyRecord(models.Model):
    """The answer to a write sent with an Idempotency-Key: the same key gets the same answer and no second
    effect. Written in the write's own transaction, so an answer is stored exactly when its effect is."""

    merchant = models.ForeignKey("merchant.Merchant", on_delete=models.CASCADE, related_name="+")
    key = models.CharField(max_length=100)
    # What the key was first used for: the same key on another request is refused, not answered wrongly.
    request_hash = models.CharField(max_length=64)
    status = models.PositiveSmallIntegerField()
    response = models.JSONField()
    created_at = models.DateTimeField(db_index=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["merchant", "key"], name="uniq_idempotency_key")]

    def __str__(self):
        return self.key


class OrderTake(models.Model):
    """The orders one marking `GET /api/v1/orders` returned, so an ERP that lost the answer can fetch that
    page again by its take id (the orders are marked taken by then and no longer come back as not taken)."""

    merchant = models.ForeignKey("merchant.Merchant", on_delete=models.CASCADE, related_name="+")
    credential = models.ForeignKey(ApiCredential, on_delete=models.CASCADE, related_name="+")
    # Public and unguessable (a take id is shown in ERP logs); lookups are merchant-scoped as well.
    public_id = models.CharField(max_length=40, unique=True)
    # In the order of the page; an order deleted since is left out of the repeat.
    order_ids = models.JSONField(default=list)
    next_cursor = models.TextField(blank=True)
    created_at = models.DateTimeField(db_index=True)

    def __str__(self):
        return self.public_id
