"""The Simplified Chinese catalog is complete, keeps its placeholders, and its compiled .mo matches the .po.

After adding UI strings: run makemessages, translate the new entries, then compilemessages (`make messages`).
"""
import re
from pathlib import Path

import polib
import pytest
from django.utils import translation

LC_MESSAGES = Path(__file__).resolve().parent.parent / "locale" / "zh_Hans" / "LC_MESSAGES"
PO_PATH = LC_MESSAGES / "django.po"
MO_PATH = LC_MESSAGES / "django.mo"

PLACEHOLDER = re.compile(r"%\(\w+\)[sdif]|%[sdif]|\{\{\s*\w+\s*\}\}")


@pytest.fixture(scope="module")
def po():
    return polib.pofile(str(PO_PATH))


def active(po):
    return [e for e in po if not e.obsolete]


def translations(entry):
    """Every msgstr of an entry: the single one, or each plural form."""
    if entry.msgid_plural:
        return [entry.msgstr_plural[k] for k in sorted(entry.msgstr_plural)]
    return [entry.msgstr]


def catalog(entries):
    """msgid (with context and plural) -> msgstr(s), the shape shared by .po and .mo entries."""
    return {(e.msgctxt, e.msgid, e.msgid_plural): tuple(translations(e)) for e in entries if e.msgid}


def test_every_message_has_a_chinese_translation(po):
    untranslated = [e.msgid for e in active(po) if not all(s.strip() for s in translations(e))]
    assert untranslated == []


def test_no_message_is_left_fuzzy(po):
    assert [e.msgid for e in active(po) if "fuzzy" in e.flags] == []
    assert not po.metadata_is_fuzzy


def test_translations_keep_the_source_placeholders(po):
    broken = []
    for e in active(po):
        for source in [e.msgid] + ([e.msgid_plural] if e.msgid_plural else []):
            for text in translations(e):
                if sorted(PLACEHOLDER.findall(source)) != sorted(PLACEHOLDER.findall(text)):
                    broken.append((source, text))
    assert broken == []


def test_compiled_catalog_matches_the_po_file(po):
    assert MO_PATH.exists(), "run compilemessages"
    mo = polib.mofile(str(MO_PATH))
    assert catalog(mo) == catalog(active(po)), "django.mo is stale: run compilemessages"


def test_chinese_is_served_for_the_default_language():
    with translation.override("zh-hans"):
        assert translation.gettext("Dashboard") == "工作台"
        assert translation.gettext("Awaiting shipment") == "待发货"
