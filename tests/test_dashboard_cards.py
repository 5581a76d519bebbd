"""The dashboard does not mislead: every card's number is the count of the list it opens, the charts carry a
scale, and paused modules and SKUs, failed pushes and stopped connections are surfaced with links."""
import re
from datetime import timedelta
from urllib.parse import urlsplit

import pytest
from django.urls import reverse
from django.utils import timezone

from merchant.models import ListingState, OrderStatus
from merchant.templatetags.backoffice import bar_chart, nice_top
from sync.models import Outbox, OutboxKind

from .factories import (
    ConnectionFactory, HeldValueFactory, ModuleSwitchFactory, OrderFactory, ProductFactory, SkuSwitchFactory,
)

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("english_pages")]

CARD = re.compile(r'<a class="stat" href="(?P<href>[^"]+)"><div class="n">(?P<n>[\d,]+)</div>')


@pytest.fixture
def busy_merchant(merchant_a):
    """Something behind every card, with orders that a loose link would miscount: taken and not taken,
    awaiting shipment and partly shipped, and shipped ones not taken (not open any more)."""
    listed = [ProductFactory(merchant=merchant_a) for _ in range(3)]
    ProductFactory(merchant=merchant_a, listing_state=ListingState.DELISTED)
    for status, taken, n in ((OrderStatus.AWAITING_SHIPMENT, False, 3), (OrderStatus.PARTIALLY_SHIPPED, False, 2),
                             (OrderStatus.AWAITING_SHIPMENT, True, 4), (OrderStatus.SHIPPED, False, 5),
                             (OrderStatus.COMPLETED, False, 1)):
        for _ in range(n):
            OrderFactory(merchant=merchant_a, status=status, taken_by_erp=taken, items=0)
    HeldValueFactory(product=listed[0])
    HeldValueFactory(product=listed[1], field="default_price", value="9.90")
    SkuSwitchFactory(product=listed[2], enabled=False)
    return merchant_a


def list_count(client, href: str) -> int:
    """How many rows the list behind a card's link holds."""
    parts = urlsplit(href)
    response = client.get(f"{parts.path}?{parts.query}" if parts.query else parts.path)
    assert response.status_code == 200, href
    context = response.context
    if parts.path == reverse("switches"):
        if parts.fragment == "held":
            return len(context["held"])
        if parts.fragment == "paused":
            return len(context["paused_skus"])
        pytest.fail(f"the card {href} names no list of the switches page")
    return context["page"].paginator.count


def test_every_card_shows_the_count_of_the_list_it_opens(client_owner, busy_merchant):
    page = client_owner.get(reverse("dashboard")).content.decode()
    cards = [(m["href"].replace("&amp;", "&"), int(m["n"].replace(",", ""))) for m in CARD.finditer(page)]

    assert len(cards) >= 8  # products by state (4), awaiting shipment, not taken, held, paused SKUs
    for href, number in cards:
        assert list_count(client_owner, href) == number, href
    numbers = dict(cards)
    assert numbers[reverse("order_list") + "?tab=awaiting_shipment"] == 9
    assert numbers[reverse("order_list") + "?tab=awaiting_shipment&taken=no"] == 5
    assert numbers[reverse("switches") + "#held"] == 2 and numbers[reverse("switches") + "#paused"] == 1


def test_paused_modules_skus_failed_pushes_and_stopped_connections_are_surfaced(client_owner, merchant_a):
    now = timezone.now()
    ModuleSwitchFactory(merchant=merchant_a, module="prices", enabled=False, changed_at=now - timedelta(hours=3))
    SkuSwitchFactory(product=ProductFactory(merchant=merchant_a), enabled=False)
    shop = ConnectionFactory(merchant=merchant_a, name="Tmall flagship")
    ConnectionFactory(merchant=merchant_a, name="JD shop", stopped_reason="The marketplace session has expired")
    product = ProductFactory(merchant=merchant_a)
    Outbox.objects.create(connection=shop, kind=OutboxKind.STOCK, product=product, due_at=now, failed_at=now,
                          last_error="refused")

    page = client_owner.get(reverse("dashboard")).content.decode()
    attention = page[page.index('id="attention"'):]

    assert "Module Prices: auto sync is paused" in attention and "3\xa0hours" in attention
    assert "(until turned back on)" in attention
    assert "1 SKU switch is paused" in attention
    assert f'href="{shop.get_absolute_url()}#pushes"' in attention and "Tmall flagship: 1 push failed" in attention
    assert "Connection JD shop: jobs are stopped." in attention


def test_nothing_to_surface_shows_no_attention_box(client_owner, merchant_a):
    assert 'id="attention"' not in client_owner.get(reverse("dashboard")).content.decode()


def test_a_chart_scale_starts_at_zero_with_labelled_ticks_and_a_small_rate_draws_a_small_bar():
    svg = str(bar_chart([("10:00", 0.1), ("11:00", 0)], height=200, unit="%", floor=5))
    assert 'data-scale-top="5"' in svg
    assert [t for t in re.findall(r'class="tick"[^>]*>([^<]+)<', svg)] == ["0%", "1%", "2%", "3%", "4%", "5%"]
    heights = [float(h) for h in re.findall(r'<rect [^>]*height="([\d.]+)"', svg)]
    assert 0 < heights[0] < 200 * 0.1 / 5  # 0.1 % of a 5 % scale: a sliver, not a full bar
    assert (nice_top(0.1, 5), nice_top(7), nice_top(130), nice_top(0)) == (5, 10, 200, 1)
