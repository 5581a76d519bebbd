from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class SandboxDouyinConfig(AppConfig):
    name = "sync.marketplaces.douyin.sandbox"
    label = "sandbox_douyin"
    verbose_name = _("Sandbox Douyin shop")
