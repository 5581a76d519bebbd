"""Stock rules (SPEC S11): a connection's rule on its page, a SKU's override on the product page. Only owners
(who manage connections) change them; every role sees what applies."""
from django.contrib import messages
from django.core.exceptions import ValidationError
from django.shortcuts import get_object_or_404, redirect
from django.utils.translation import gettext as _

from merchant.forms import StockRuleForm
from merchant.permissions import Action
from merchant.views.common import get_product_for_user, merchant_view
from sync import stock_rules
from sync.models import MARKETPLACE_KINDS, Connection, StockRule

POST = ("POST",)


def _get_marketplace_for_user(request, pk) -> Connection:
    return get_object_or_404(Connection, merchant=request.merchant, kind__in=MARKETPLACE_KINDS, pk=pk)


def _save(request, connection, product, back: str):
    rule = StockRule.objects.filter(connection=connection, product=product).first()
    form = StockRuleForm(request.POST, instance=rule or StockRule(connection=connection, product=product))
    if not form.is_valid():
        errors = "; ".join(f"{form.fields[name].label if name in form.fields else ''} {', '.join(e)}".strip()
                           for name, e in form.errors.items())
        messages.error(request, _("The stock rule was not saved: %(errors)s") % {"errors": errors})
        return redirect(back)
    try:
        stock_rules.stock_rule_set(connection=connection, product=product, actor=request.actor,
                                   **{name: form.cleaned_data[name] for name in stock_rules.RULE_FIELDS})
    except ValidationError as error:
        messages.error(request, _("The stock rule was not saved: %(errors)s") % {"errors": " ".join(error.messages)})
        return redirect(back)
    messages.success(request, _("Stock rule saved; the marketplace gets the new quantities with the next push."))
    return redirect(back)


@merchant_view(Action.CONNECTIONS, POST)
def connection_stock_rule(request, pk):
    connection = _get_marketplace_for_user(request, pk)
    return _save(request, connection, None, connection.get_absolute_url() + "#stock-rule")


@merchant_view(Action.CONNECTIONS, POST)
def connection_stock_rule_clear(request, pk):
    connection = _get_marketplace_for_user(request, pk)
    stock_rules.stock_rule_clear(connection=connection, actor=request.actor)
    messages.success(request, _("Stock rule removed: this marketplace is offered all of the sellable stock."))
    return redirect(connection.get_absolute_url() + "#stock-rule")


@merchant_view(Action.CONNECTIONS, POST)
def product_stock_rule(request, pk, connection_pk):
    product = get_product_for_user(request, pk)
    connection = _get_marketplace_for_user(request, connection_pk)
    return _save(request, connection, product, product.get_absolute_url() + "#shop-stock")


@merchant_view(Action.CONNECTIONS, POST)
def product_stock_rule_clear(request, pk, connection_pk):
    product = get_product_for_user(request, pk)
    connection = _get_marketplace_for_user(request, connection_pk)
    stock_rules.stock_rule_clear(connection=connection, product=product, actor=request.actor)
    messages.success(request, _("This product follows the connection's stock rule again."))
    return redirect(product.get_absolute_url() + "#shop-stock")
