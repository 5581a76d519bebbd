from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class SyncConfig(AppConfig):
    name = "sync"
    verbose_name = _("Sync engine")

    def ready(self):
        # Robot webhook addresses are checked by the outbound layer's own rules before they are saved.
        from merchant.services.notifications import webhook_url_check_register

        from .robots import webhook_url_problem

        webhook_url_check_register(webhook_url_problem)

        # The back office's changes (merchant.changes) are written to the outbox inside their own transaction.
        from merchant import changes

        from .outbox import OutboxWriter

        changes.subscribe(OutboxWriter())
