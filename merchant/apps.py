from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class MerchantConfig(AppConfig):
    name = "merchant"
    verbose_name = _("Merchant back office")

    def ready(self):
        from merchant import client_address, lookups  # noqa: F401  registers field__any, the TRUSTED_PROXIES check
