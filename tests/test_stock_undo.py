"""A stock edit says what it did to auto sync and can be taken back, unless the stock changed since."""
import pytest
from django.urls import reverse

from merchant.models import Product, SkuSwitch

from .helpers import messages_of

pytestmark = pytest.mark.usefixtures("english_pages")


def edit(client, product, **data):
    return client.post(reverse("product_stock", args=[product.pk]), {"stock": "40", **data})


def test_undo_puts_the_stock_back_and_turns_the_pause_it_made_off(client_operator, product):
    before = product.stock
    response = edit(client_operator, product, pause_for="4")
    assert "Stock saved; automatic stock sync is paused until" in messages_of(response)[-1]
    assert SkuSwitch.objects.get(product=product, kind="stock").enabled is False
    response = client_operator.post(reverse("product_stock_undo", args=[product.pk]),
                                    {"previous": before, "set_to": "40", "resume": "1"})
    assert f"Undone: stock is {before} again." in messages_of(response)[-1]
    product.refresh_from_db()
    assert product.stock == before
    assert SkuSwitch.objects.get(product=product, kind="stock").enabled is True


def test_undo_is_refused_when_the_stock_changed_since(client_operator, product):
    before = product.stock
    edit(client_operator, product)
    Product.objects.filter(pk=product.pk).update(stock=55)  # the ERP sent a value meanwhile
    response = client_operator.post(reverse("product_stock_undo", args=[product.pk]),
                                    {"previous": before, "set_to": "40", "resume": "0"})
    assert "Not undone: the stock has changed since (it is 55 now)." in messages_of(response)[-1]
    product.refresh_from_db()
    assert product.stock == 55


def test_undo_of_another_merchant_s_product_is_not_found(client_outsider, product):
    response = client_outsider.post(reverse("product_stock_undo", args=[product.pk]),
                                    {"previous": "1", "set_to": str(product.stock), "resume": "0"})
    assert response.status_code == 404
