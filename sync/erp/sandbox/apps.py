from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class SandboxErpConfig(AppConfig):
    name = "sync.erp.sandbox"
    label = "sandbox_erp"
    verbose_name = _("Sandbox ERP bridge")
