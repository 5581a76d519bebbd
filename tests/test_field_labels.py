"""Audit entries and held values read as words: field keys and stored values turned into what a merchant reads."""
import pytest
from django.utils import translation

from merchant.field_labels import field_label, value_text
from merchant.models import AuditEntry, RegionGroup
from merchant.templatetags.backoffice import audit_sentence

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize("entity, field, value, label, shown", [
    ("product", "switch[stock]", "off until 2026-12-03 19:39", "库存自动同步", "关闭至 2026-12-03 19:39"),
    ("module_switch", "prices", "on", "价格自动同步", "开启"),
    ("product", "batch[B1].quantity", "5", "批次 B1：数量", "5"),
    ("product", "listing_state", "listed", "上架状态", "已上架"),
    ("order", "paid_at", "2026-12-02 04:34:28.430363+00:00", "付款时间", "2026-12-02 12:34:28"),
    ("membership", "role", "owner", "角色", "所有者"),
    ("product", "batch_managed", "False", "批次管理", "否"),
])
def test_keys_and_values_read_as_words_in_chinese(entity, field, value, label, shown):
    with translation.override("zh-hans"):
        assert (field_label(entity, field), value_text(entity, field, value)) == (label, shown)


def test_a_group_price_is_named_by_its_group_whether_the_key_holds_its_code_or_its_name():
    RegionGroup.objects.create(code="chuanyu", name="川渝")
    with translation.override("zh-hans"):
        assert field_label("product", "price[chuanyu]") == "川渝价格"
        assert field_label("product", "price[region_group:chuanyu]") == "川渝价格"
        assert field_label("product", "held[price[region_group:chuanyu]]") == "川渝价格的暂存值"


def test_an_audit_entry_is_a_sentence(merchant_a):
    entry = AuditEntry(merchant=merchant_a, source="user", entity="product", entity_id=1, field="default_price",
                       old_value="12.00", new_value="13.50")
    with translation.override("en"):
        assert audit_sentence(entry) == "Default price changed from 12.00 to 13.50"
        entry.old_value = ""
        assert audit_sentence(entry) == "Default price set to 13.50"
        entry.old_value, entry.new_value = "12.00", ""
        assert audit_sentence(entry) == "Default price removed (was 12.00)"
