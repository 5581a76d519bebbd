from django.db import models
from django.urls import reverse
from django.utils.translation import gettext_lazy as _

from merchant.validators import validate_uscc


class Customer(models.Model):
    """A platform customer (a buyer business); merchants attach their own ERP codes to it."""

    name = models.CharField(_("name"), max_length=200)
    uscc = models.CharField(
        _("unified social credit code"), max_length=18, unique=True, validators=[validate_uscc]
    )
    contact = models.CharField(_("contact"), max_length=100, blank=True)
    phone = models.CharField(_("phone"), max_length=30, blank=True)
    province = models.CharField(_("province"), max_length=30, blank=True)
    customer_group = models.ForeignKey(
        "merchant.CustomerGroup", null=True, blank=True, on_delete=models.SET_NULL, verbose_name=_("customer group")
    )

    class Meta:
        verbose_name = _("customer")
        verbose_name_plural = _("customers")
        ordering = ["name"]

    def __str__(self):
        return self.name

    def get_absolute_url(self):
        return reverse("customer_detail", args=[self.pk])


class ErpCustomerCode(models.Model):
    merchant = models.ForeignKey("merchant.Merchant", on_delete=models.CASCADE, related_name="erp_customer_codes")
    customer = models.ForeignKey(Customer, on_delete=models.CASCADE, related_name="erp_codes")
    code = models.CharField(_("ERP customer code"), max_length=64)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name = _("ERP customer code")
        verbose_name_plural = _("ERP customer codes")
        constraints = [
            models.UniqueConstraint(fields=["merchant", "customer"], name="uniq_erp_code_customer"),
            models.UniqueConstraint(fields=["merchant", "code"], name="uniq_erp_code_value"),
        ]

    def __str__(self):
        return self.code
