"""Stock rules per marketplace connection, with per-SKU overrides (SPEC S11): what each shop is offered of a
product's sellable stock.

    sellable -> share (ratio, rounded down) -> + add / - subtract -> at least (never past sellable) -> at most
             -> 0 when sellable is below the threshold -> never below 0

With no rule a shop is offered the sellable stock itself. A SKU's override replaces the connection's rule as a
whole (not field by field), so what applies is always one rule the page can name. With "delist at 0" the item
is taken off sale while every one of our SKUs on it is offered 0, and put back on sale when one has stock
again (the product must still be listed here).

A rule is part of the value pushed: the outbox acknowledges the offered quantity, and changing a rule marks the
connection's stock (and listing) due, so what changed goes out.
"""
from dataclasses import dataclass, field

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils.translation import gettext as _

from merchant.permissions import Action, Actor
from merchant.sellable import sellable_stock
from merchant.services.audit import audit_changes

from .models import Connection, StockRule
from .outbox import outbox_products_changed

RULE_FIELDS = ("ratio_percent", "adjust", "minimum", "maximum", "zero_below", "auto_delist")


@dataclass
class Offered:
    """One product on one connection: sellable, what the rule offers, the steps that changed it (in words)."""

    sellable: int
    pushed: int
    rule: StockRule | None = None
    steps: list[str] = field(default_factory=list)

    @property
    def source(self) -> str:
        if self.rule is None:
            return ""
        return "sku" if self.rule.product_id else "connection"


def offered(sellable: int, rule: StockRule | None) -> Offered:
    """What `rule` offers of `sellable` units, with the steps that changed the number."""
    if rule is None:
        return Offered(sellable, max(sellable, 0))
    steps = []
    quantity = max(sellable, 0)
    if rule.ratio_percent != 100:
        quantity = quantity * rule.ratio_percent // 100
        steps.append(_("%(ratio)d%% of it: %(q)d") % {"ratio": rule.ratio_percent, "q": quantity})
    if rule.adjust:
        quantity += rule.adjust
        steps.append((_("plus %(n)d: %(q)d") if rule.adjust > 0 else _("minus %(n)d: %(q)d"))
                     % {"n": abs(rule.adjust), "q": quantity})
    if rule.minimum is not None and quantity < min(rule.minimum, sellable):
        quantity = min(rule.minimum, sellable)
        steps.append(_("at least %(n)d (never more than sellable): %(q)d") % {"n": rule.minimum, "q": quantity})
    if rule.maximum is not None and quantity > rule.maximum:
        quantity = rule.maximum
        steps.append(_("at most %(n)d") % {"n": rule.maximum})
    if rule.zero_below is not None and sellable < rule.zero_below and quantity:
        quantity = 0
        steps.append(_("sellable below %(n)d, so 0") % {"n": rule.zero_below})
    if quantity < 0:
        quantity = 0
        steps.append(_("never below 0"))
    return Offered(sellable, quantity, rule, steps)


def rules_for(connection_id: int, product_ids) -> dict[int, StockRule | None]:
    """{product id: the rule that applies on the connection (its override, else the connection's, else None)};
    two queries whatever the number of products."""
    product_ids = list(product_ids)
    default = StockRule.objects.filter(connection_id=connection_id, product__isnull=True).first()
    overrides = {r.product_id: r for r in StockRule.objects.filter(connection_id=connection_id,
                                                                    product_id__in=product_ids)}
    return {pk: overrides.get(pk, default) for pk in product_ids}


def offered_quantities(connection_id: int, products, merchant) -> dict[int, Offered]:
    """{product id: Offered} for the products (the merchant's, with stock and batch_managed loaded)."""
    products = list(products)
    sellable = sellable_stock(products, merchant)
    rules = rules_for(connection_id, [p.pk for p in products])
    return {p.pk: offered(sellable[p.pk], rules[p.pk]) for p in products}


def rule_sentence(rule: StockRule | None) -> str:
    """The rule in words, e.g. "80% of sellable, minus 2, at most 50, delist at 0"."""
    if rule is None:
        return _("all of the sellable stock")
    parts = [_("%(ratio)d%% of sellable") % {"ratio": rule.ratio_percent}]
    if rule.adjust:
        parts.append((_("plus %(n)d") if rule.adjust > 0 else _("minus %(n)d")) % {"n": abs(rule.adjust)})
    if rule.minimum is not None:
        parts.append(_("at least %(n)d") % {"n": rule.minimum})
    if rule.maximum is not None:
        parts.append(_("at most %(n)d") % {"n": rule.maximum})
    if rule.zero_below is not None:
        parts.append(_("0 when sellable is below %(n)d") % {"n": rule.zero_below})
    if rule.auto_delist:
        parts.append(_("delist at 0, relist when back"))
    return _(", ").join(parts)


def _rule_changed(connection: Connection, product_ids, before: str, after: str, actor: Actor) -> None:
    if before == after:
        return
    if product_ids is None:
        audit_changes(merchant_id=connection.merchant_id, entity="connection", entity_id=connection.pk,
                      changes={"stock_rule": (before, after)}, actor=actor)
    else:
        for pk in product_ids:
            audit_changes(merchant_id=connection.merchant_id, entity="product", entity_id=pk,
                          changes={f"stock_rule[{connection.pk}]": (before, after)}, actor=actor)
    outbox_products_changed(merchant_id=connection.merchant_id, product_ids=product_ids, kinds=("stock", "listing"),
                            connection_ids=[connection.pk])


def stock_rule_set(*, connection: Connection, actor: Actor, product=None, **values) -> StockRule:
    """Set the connection's rule (no product) or the product's override on it; audited, and the connection's
    stock and listing of the products it covers marked due. Raises PermissionDenied for a role that may not
    manage connections and ValidationError for values out of range (at most below at least)."""
    actor.require(Action.CONNECTIONS)
    if product is not None and product.merchant_id != connection.merchant_id:
        raise ValueError("the product and the connection belong to different merchants")
    with transaction.atomic():
        rule = StockRule.objects.select_for_update().filter(connection=connection, product=product).first()
        # What applied before: this rule, or (for a new override) the connection's rule, or none.
        applied = rule if rule or product is None else rules_for(connection.pk, [product.pk])[product.pk]
        before = rule_sentence(applied)
        rule = rule or StockRule(connection=connection, product=product)
        for name in RULE_FIELDS:
            if name in values:
                setattr(rule, name, values[name])
        if rule.minimum is not None and rule.maximum is not None and rule.maximum < rule.minimum:
            raise ValidationError({"maximum": _("“At most” cannot be below “at least”.")})
        rule.full_clean(exclude=["connection", "product"])
        rule.save()
        _rule_changed(connection, None if product is None else [product.pk], before, rule_sentence(rule), actor)
    return rule


def stock_rule_clear(*, connection: Connection, actor: Actor, product=None) -> None:
    """Remove the product's override (the connection's rule applies again) or the connection's rule (all of the
    sellable stock is offered); audited and pushed as stock_rule_set is."""
    actor.require(Action.CONNECTIONS)
    with transaction.atomic():
        rule = StockRule.objects.select_for_update().filter(connection=connection, product=product).first()
        if rule is None:
            return
        before = rule_sentence(rule)
        rule.delete()
        after = rule_sentence(rules_for(connection.pk, [product.pk])[product.pk] if product else None)
        _rule_changed(connection, None if product is None else [product.pk], before, after, actor)


@dataclass
class ConnectionOffer:
    connection: Connection
    offer: Offered
    rule_text: str
    override: StockRule | None
    pushed_value: str


def product_offers(product, merchant) -> list[ConnectionOffer]:
    """Per marketplace connection of the merchant: the product's stock in force -> sellable -> offered, the rule
    that applies (in words; `override` when the SKU has its own) and the value the marketplace last acknowledged.
    A few queries per connection."""
    from .models import ConnectionKind, Outbox, OutboxKind

    connections = list(Connection.objects.filter(merchant=merchant, kind=ConnectionKind.TOP).order_by("name", "pk"))
    if not connections:
        return []
    sellable = sellable_stock([product], merchant)[product.pk]
    pushed = dict(Outbox.objects.filter(product=product, kind=OutboxKind.STOCK, connection__in=connections)
                  .values_list("connection_id", "pushed_value"))
    rows = []
    for connection in connections:
        rule = rules_for(connection.pk, [product.pk])[product.pk]
        rows.append(ConnectionOffer(connection, offered(sellable, rule), rule_sentence(rule),
                                    rule if rule is not None and rule.product_id else None,
                                    pushed.get(connection.pk, "")))
    return rows
