"""Operator CLI: a new Open API key for a merchant; prints the key and its secret (shown only here)."""
import json

from django.core.management.base import BaseCommand, CommandError, no_translations

from merchant.models import AuditSource, Merchant
from merchant.permissions import Actor
from merchant.services.api_credentials import api_credential_create


class Command(BaseCommand):
    help = "api_key_create MERCHANT_CODE [--name NAME]: prints {\"key\": ..., \"secret\": ...} once"

    def add_arguments(self, parser):
        parser.add_argument("merchant_code")
        parser.add_argument("--name", default="")

    @no_translations  # one language on the terminal: service messages in English like the command's own
    def handle(self, merchant_code, name="", **options):
        merchant = Merchant.objects.filter(code=merchant_code).first()
        if merchant is None:
            raise CommandError(f"no merchant with code {merchant_code!r}")
        credential, secret = api_credential_create(merchant=merchant, actor=Actor.system(AuditSource.SYSTEM),
                                                   name=name)
        self.stdout.write(json.dumps({"merchant": merchant.code, "key": credential.key, "secret": secret}))
