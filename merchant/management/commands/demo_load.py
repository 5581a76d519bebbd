"""Load the demo data set (merchant.demo): merchants demo and other, their users, catalogs, customers, orders."""
import os
import time

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from merchant.demo import LOGINS, PASSWORD, load_demo


class Command(BaseCommand):
    help = "Load the demo data (merchants demo and other, users, catalog, customers, orders). Safe to re-run."

    def add_arguments(self, parser):
        parser.add_argument(
            "--force", action="store_true",
            help="Run even with DEBUG off (creates users with the public password demo12345).",
        )

    def handle(self, *args, force=False, **options):
        if not settings.DEBUG and not force:
            raise CommandError(
                "Refusing to load demo data with DEBUG off: it creates users with the public password "
                f"{PASSWORD}. Use --force if this really is a demo installation."
            )
        started = time.monotonic()
        summary = load_demo()
        for line in summary.lines():
            self.stdout.write(f"  {line}")
        if settings.SANDBOX_ENABLED:
            self.stdout.write(f"  sandbox marketplace: {self._connect_marketplace()}")
            self.stdout.write(f"  sandbox Douyin shop: {self._connect_douyin()}")
        self.stdout.write(self.style.SUCCESS(
            f"Demo data ready in {time.monotonic() - started:.1f} s. "
            f"Logins (password {PASSWORD}): {', '.join(LOGINS)}"
        ))

    @staticmethod
    def _server() -> str:
        host = os.environ.get("HOST", "127.0.0.1")
        host = "127.0.0.1" if host in ("0.0.0.0", "::") else host
        return f"http://{host}:{os.environ.get('PORT', '8000')}"

    def _connect_douyin(self) -> dict:
        """The demo merchant's Douyin shop, served by the same server, next to the TOP shop."""
        from merchant.demo.accounts import MERCHANTS
        from merchant.models import Merchant
        from sync.marketplaces.douyin.sandbox.demo import demo_douyin_connect

        return demo_douyin_connect(merchant=Merchant.objects.get(code=MERCHANTS[0].code),
                                   base_url=f"{self._server()}/sandbox/douyin")

    def _connect_marketplace(self) -> dict:
        """Connect the demo merchant to the sandbox marketplace this server serves (SPEC D1)."""
        from merchant.demo.accounts import MERCHANTS
        from merchant.models import Merchant
        from sync.marketplaces.top.sandbox.demo import demo_marketplace_connect

        gateway = f"{self._server()}/sandbox/top/router/rest"
        return demo_marketplace_connect(merchant=Merchant.objects.get(code=MERCHANTS[0].code), gateway_url=gateway)
