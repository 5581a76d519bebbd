"""Stock rules per marketplace connection with per-SKU overrides (SPEC S11, sync/stock_rules.py): each rule step
by name, the order they apply in, the push to the sandbox over HTTP (a changed rule pushes what changed; delist at
0 and relist), and the pages: what each role sees and may change."""
from types import SimpleNamespace

import pytest
from django.core.exceptions import PermissionDenied, ValidationError

from merchant.models import AuditEntry, AuditSource
from merchant.permissions import Actor
from merchant.services.stock import stock_set
from sync import stock_rules
from sync.models import Outbox, OutboxKind, StockRule
from sync.marketplaces.top.sandbox.models import SandboxSku
from sync.stock_rules import offered
from tests.factories import ConnectionFactory

from .test_outbound import push

SYSTEM = Actor.system(AuditSource.ERP)
pytestmark = pytest.mark.usefixtures("english")


def rule(**values):
    defaults = {"ratio_percent": 100, "adjust": 0, "minimum": None, "maximum": None, "zero_below": None,
                "auto_delist": False, "product_id": None}
    return SimpleNamespace(**{**defaults, **values})


# --- each step ------------------------------------------------------------------------------------------------------


def test_no_rule_offers_the_sellable_stock():
    assert offered(12, None).pushed == 12 and offered(-3, None).pushed == 0


def test_the_share_rounds_down():
    result = offered(10, rule(ratio_percent=85))
    assert result.pushed == 8 and result.steps == ["85% of it: 8"]


def test_a_fixed_add_and_subtract():
    assert offered(10, rule(adjust=5)).pushed == 15
    assert offered(10, rule(adjust=-3)).pushed == 7


def test_at_least_never_offers_more_than_is_sellable():
    assert offered(3, rule(ratio_percent=10, minimum=2)).pushed == 2
    assert offered(1, rule(ratio_percent=10, minimum=5)).pushed == 1
    assert offered(0, rule(minimum=5)).pushed == 0


def test_at_most_caps_the_quantity():
    assert offered(500, rule(maximum=50)).pushed == 50


def test_zero_below_a_threshold_looks_at_the_sellable_stock():
    assert offered(4, rule(zero_below=5)).pushed == 0
    assert offered(5, rule(zero_below=5)).pushed == 5
    assert offered(6, rule(ratio_percent=50, zero_below=5)).pushed == 3  # 6 is not below 5


def test_never_below_zero():
    result = offered(2, rule(adjust=-5))
    assert result.pushed == 0 and result.steps[-1] == "never below 0"


def test_the_steps_apply_in_order_share_add_at_least_at_most_threshold():
    result = offered(100, rule(ratio_percent=80, adjust=-10, minimum=75, maximum=72))
    # 80 -> 70 -> at least 75 -> at most 72
    assert result.pushed == 72
    assert len(result.steps) == 4


# --- which rule applies ----------------------------------------------------------------------------------------------


def test_a_skus_override_replaces_the_connections_rule_as_a_whole(db, product):
    connection = ConnectionFactory(merchant=product.merchant)
    StockRule.objects.create(connection=connection, ratio_percent=50, maximum=3)
    assert stock_rules.rules_for(connection.pk, [product.pk])[product.pk].ratio_percent == 50
    StockRule.objects.create(connection=connection, product=product, ratio_percent=90)
    applied = stock_rules.rules_for(connection.pk, [product.pk])[product.pk]
    assert (applied.ratio_percent, applied.maximum) == (90, None)


def test_setting_a_rule_is_audited_and_marks_only_that_connections_stock(db, product, owner_actor):
    connection = ConnectionFactory(merchant=product.merchant)
    other = ConnectionFactory(merchant=product.merchant)
    stock_rules.stock_rule_set(connection=connection, actor=owner_actor, ratio_percent=80, adjust=-1)
    entry = AuditEntry.objects.get(entity="connection", entity_id=connection.pk, field="stock_rule")
    assert entry.old_value == "all of the sellable stock" and entry.new_value == "80% of sellable, minus 1"
    assert Outbox.objects.filter(connection=connection, product=product, kind=OutboxKind.STOCK, pending=True).exists()
    assert not Outbox.objects.filter(connection=other).exists()


def test_at_most_below_at_least_is_refused_and_nothing_changes(db, product, owner_actor):
    connection = ConnectionFactory(merchant=product.merchant)
    with pytest.raises(ValidationError):
        stock_rules.stock_rule_set(connection=connection, actor=owner_actor, minimum=10, maximum=5)
    assert not StockRule.objects.exists() and not AuditEntry.objects.exists()


@pytest.mark.parametrize("actor", ["operator_actor", "viewer_actor"])
def test_only_owners_set_rules(request, db, product, actor):
    connection = ConnectionFactory(merchant=product.merchant)
    with pytest.raises(PermissionDenied):
        stock_rules.stock_rule_set(connection=connection, actor=request.getfixturevalue(actor), ratio_percent=50)
    assert not StockRule.objects.exists()


# --- pushed to the sandbox marketplace over HTTP -------------------------------------------------------------------


def quantity(code) -> int:
    return SandboxSku.objects.get(outer_sku_id=code).quantity


def onsale(code) -> bool:
    return SandboxSku.objects.select_related("item").get(outer_sku_id=code).item.approve_status == "onsale"


@pytest.mark.django_db(transaction=True)
def test_each_shop_gets_the_quantity_its_rule_says_and_a_changed_rule_pushes_it(top, catalog, owner_actor):
    product = catalog[0]
    stock_set(product=product, quantity=40, actor=SYSTEM)
    stock_rules.stock_rule_set(connection=top, actor=owner_actor, ratio_percent=50, maximum=15)
    push(top)
    assert quantity(product.erp_product_id) == 15
    assert Outbox.objects.get(connection=top, product=product, kind=OutboxKind.STOCK).pushed_value == "15"

    stock_rules.stock_rule_set(connection=top, product=product, actor=owner_actor, ratio_percent=100, adjust=-4)
    push(top)
    assert quantity(product.erp_product_id) == 36
    # The other products follow the connection's rule: 10 in stock, half of it.
    assert quantity(catalog[1].erp_product_id) == 5

    stock_rules.stock_rule_clear(connection=top, product=product, actor=owner_actor)
    push(top)
    assert quantity(product.erp_product_id) == 15


@pytest.mark.django_db(transaction=True)
def test_delist_at_zero_takes_the_item_off_sale_and_relists_it_when_stock_is_back(top, catalog, owner_actor):
    product = catalog[0]
    stock_rules.stock_rule_set(connection=top, product=product, actor=owner_actor, zero_below=3, auto_delist=True)
    stock_set(product=product, quantity=2, actor=SYSTEM)
    push(top)
    push(top, "listing")
    assert quantity(product.erp_product_id) == 0 and not onsale(product.erp_product_id)

    stock_set(product=product, quantity=20, actor=SYSTEM)
    push(top)
    push(top, "listing")
    assert quantity(product.erp_product_id) == 20 and onsale(product.erp_product_id)


# --- pages ------------------------------------------------------------------------------------------------------------


@pytest.fixture
def shop_connection(product):
    connection = ConnectionFactory(merchant=product.merchant, name="天猫旗舰店")
    StockRule.objects.create(connection=connection, ratio_percent=80, adjust=-1)
    return connection


def test_the_product_page_shows_stock_in_force_sellable_and_offered_with_the_rule(client_owner, product,
                                                                                   shop_connection):
    product.stock = 10
    product.save(update_fields=["stock"])
    client_owner.defaults["HTTP_ACCEPT_LANGUAGE"] = "en"
    page = client_owner.get(product.get_absolute_url()).content.decode()
    card = page[page.index('id="shop-stock"'):]
    assert "天猫旗舰店" in card and "<strong>7</strong>" in card
    assert "The connection's rule: 80% of sellable, minus 1" in card
    assert f'action="/products/{product.pk}/stock-rule/{shop_connection.pk}/"' in card


@pytest.mark.parametrize("who", ["client_operator", "client_viewer"])
def test_other_roles_see_the_rule_but_cannot_change_it(request, product, shop_connection, who):
    client = request.getfixturevalue(who)
    page = client.get(product.get_absolute_url()).content.decode()
    assert 'id="shop-stock"' in page and "/stock-rule/" not in page
    response = client.post(f"/products/{product.pk}/stock-rule/{shop_connection.pk}/", {"ratio_percent": 10})
    assert response.status_code == 403
    assert not StockRule.objects.filter(product=product).exists()


def test_an_owner_gives_a_product_its_own_rule_from_its_page(client_owner, product, shop_connection):
    response = client_owner.post(f"/products/{product.pk}/stock-rule/{shop_connection.pk}/",
                                 {"ratio_percent": 60, "adjust": 0, "maximum": 5})
    assert response.status_code == 302
    override = StockRule.objects.get(product=product)
    assert (override.ratio_percent, override.maximum) == (60, 5)
    assert AuditEntry.objects.filter(entity="product", entity_id=product.pk,
                                     field=f"stock_rule[{shop_connection.pk}]").exists()


def test_an_owner_sets_the_connections_rule_on_its_page(client_owner, shop_connection):
    page = client_owner.get(shop_connection.get_absolute_url()).content.decode()
    assert 'id="stock-rule"' in page
    response = client_owner.post(f"/connections/{shop_connection.pk}/stock-rule/",
                                 {"ratio_percent": 70, "adjust": 2, "minimum": 1, "maximum": 3})
    assert response.status_code == 302
    assert StockRule.objects.get(connection=shop_connection, product=None).maximum == 3


def test_a_bad_rule_is_refused_with_the_reason(client_owner, shop_connection):
    client_owner.defaults["HTTP_ACCEPT_LANGUAGE"] = "en"
    response = client_owner.post(f"/connections/{shop_connection.pk}/stock-rule/",
                                 {"ratio_percent": 150, "adjust": 0}, follow=True)
    assert "not saved" in response.content.decode()
    assert StockRule.objects.get(connection=shop_connection, product=None).ratio_percent == 80


def test_another_merchant_cannot_touch_the_rules(client_outsider, product, shop_connection):
    assert client_outsider.post(f"/connections/{shop_connection.pk}/stock-rule/",
                                {"ratio_percent": 1, "adjust": 0}).status_code == 404
    assert client_outsider.post(f"/products/{product.pk}/stock-rule/{shop_connection.pk}/",
                                {"ratio_percent": 1, "adjust": 0}).status_code == 404
    assert StockRule.objects.get(connection=shop_connection).ratio_percent == 80


def test_at_most_below_an_existing_at_least_is_refused(db, product, owner_actor):
    connection = ConnectionFactory(merchant=product.merchant)
    stock_rules.stock_rule_set(connection=connection, actor=owner_actor, minimum=10)
    with pytest.raises(ValidationError):
        stock_rules.stock_rule_set(connection=connection, actor=owner_actor, maximum=5)
    assert StockRule.objects.get(connection=connection).maximum is None


def test_a_product_of_another_merchant_cannot_get_a_rule_on_this_connection(db, product, outsider_product,
                                                                            owner_actor):
    connection = ConnectionFactory(merchant=product.merchant)
    with pytest.raises(ValueError):
        stock_rules.stock_rule_set(connection=connection, actor=owner_actor, product=outsider_product,
                                   ratio_percent=10)
    assert not StockRule.objects.exists()
