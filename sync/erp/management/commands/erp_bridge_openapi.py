"""Print the ERP bridge contract's OpenAPI document: `manage.py erp_bridge_openapi > docs/erp-bridge.openapi.json`."""
import json

from django.core.management.base import BaseCommand

from sync.erp.contract import document


def document_text() -> str:
    """The document as it is stored in docs/ (stable key order, UTF-8 text, a final newline)."""
    return json.dumps(document(), ensure_ascii=False, indent=1) + "\n"


class Command(BaseCommand):
    help = "Print the OpenAPI 3 document of the ERP bridge contract (docs/erp-bridge.openapi.json)."

    def handle(self, *args, **options):
        self.stdout.write(document_text(), ending="")
