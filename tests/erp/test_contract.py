"""The contract's OpenAPI document (docs/erp-bridge.openapi.json) is the one the code builds, and its items are
our item fields exactly."""
import json
from pathlib import Path

from django.conf import settings

from merchant.services.inbound_fields import KIND_FIELDS
from sync.erp.management.commands.erp_bridge_openapi import document_text
from sync.erp.pull import ITEM_KIND

STORED = Path(settings.BASE_DIR) / "docs" / "erp-bridge.openapi.json"


def test_the_stored_document_is_current():
    # Regenerate with: python manage.py erp_bridge_openapi > docs/erp-bridge.openapi.json
    assert STORED.read_text(encoding="utf-8") == document_text()


def test_each_feeds_items_have_exactly_our_item_fields():
    schemas = json.loads(STORED.read_text(encoding="utf-8"))["components"]["schemas"]
    for feed, kind in ITEM_KIND.items():
        assert set(schemas[f"{feed.capitalize()}Item"]["properties"]) == {c.key for c in KIND_FIELDS[kind]}, feed
