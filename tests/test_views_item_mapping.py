"""The marketplace items page of a connection: which product is which SKU, search and paging, links made and
removed by hand (owners only), and the shop's SKUs to choose from."""
import pytest
from django.urls import reverse
from django.utils import timezone

from merchant.models import AuditEntry
from sync.pipelines.items import mapping_rematch
from sync.models import ConnectionKind, MappingLink, MarketplaceListing, MarketplaceSku, Outbox

from .factories import ConnectionFactory, ProductFactory

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("english", "english_pages")]


@pytest.fixture
def shop(merchant_a):
    """A connection whose last refresh read two SKUs: one carrying P-ON's code, one carrying no code of ours."""
    connection = ConnectionFactory(merchant=merchant_a, name="Tmall shop")
    now = timezone.now()
    for sku_id, num_iid, code, title in ((501, 9001, "P-ON", "Cold granules"), (502, 9002, "", "Vitamin C")):
        MarketplaceListing.objects.create(connection=connection, num_iid=num_iid, sku_id=sku_id, title=title,
                                          sku_name="规格:标准装", outer_id=code, properties=f"1627207:{sku_id}",
                                          quantity=3, seen_at=now)
    return connection


@pytest.fixture
def products(merchant_a, shop):
    on = ProductFactory(merchant=merchant_a, erp_product_id="P-ON", name="感冒灵颗粒")
    off = ProductFactory(merchant=merchant_a, erp_product_id="P-OFF", name="维生素C片")
    mapping_rematch(shop)
    return on, off


def page(client, connection, **params):
    return client.get(reverse("item_mapping", args=[connection.pk]), params)


def link(connection, product) -> MarketplaceSku:
    return MarketplaceSku.objects.get(connection=connection, product=product)


def test_the_page_shows_where_each_product_is_and_the_others_as_not_on_this_marketplace(client_viewer, shop,
                                                                                       products):
    on, off = products
    response = page(client_viewer, shop)
    html = response.content.decode()
    assert response.status_code == 200
    rows = {product.erp_product_id: listing for product, listing in response.context["rows"]}
    assert rows["P-ON"].sku_id == 501 and rows["P-OFF"] is None
    assert "Cold granules" in html and "Not on this marketplace" in html and "Matched by merchant code" in html
    assert "1 of our products are on this marketplace, 1 are not" in html
    # A viewer reads it, with nothing to press.
    assert "/unlink/" not in html and "/link/" not in html and "refresh-items" not in html


def test_search_and_state_filters(client_owner, shop, products, settings):
    codes = lambda response: [p.erp_product_id for p, _listing in response.context["rows"]]  # noqa: E731
    assert codes(page(client_owner, shop, q="p-o")) == ["P-OFF", "P-ON"]  # code prefix, any case
    assert codes(page(client_owner, shop, q="维生素")) == ["P-OFF"]
    assert codes(page(client_owner, shop, q="501")) == ["P-ON"]  # the SKU id it maps to
    assert codes(page(client_owner, shop, state="on")) == ["P-ON"]
    assert codes(page(client_owner, shop, state="off")) == ["P-OFF"]
    settings.PAGE_SIZE = 1
    second = page(client_owner, shop, page=2)
    assert codes(second) == ["P-ON"] and "Page 2 of 2" in second.content.decode()


def test_an_owner_unlinks_a_product_and_it_is_audited(client_owner, owner, shop, products):
    on, _off = products
    back = reverse("item_mapping", args=[shop.pk]) + "?q=P"
    response = client_owner.post(reverse("item_mapping_unlink", args=[shop.pk, on.pk]), {"next": back})
    assert response.status_code == 302 and response.url == back
    assert link(shop, on).link == MappingLink.UNLINKED and not link(shop, on).found
    entry = AuditEntry.objects.get(entity="product", entity_id=on.pk, field="marketplace_link")
    assert entry.actor == owner and "Cold granules" in entry.old_value and "not on this marketplace" in entry.new_value
    assert "Unlinked by hand" in page(client_owner, shop).content.decode()

    client_owner.post(reverse("item_mapping_by_code", args=[shop.pk, on.pk]))
    assert link(shop, on).found and link(shop, on).link == MappingLink.AUTO


def test_an_owner_links_a_product_to_a_sku_chosen_from_the_shop(client_owner, shop, products):
    _on, off = products
    choose = client_owner.get(reverse("item_mapping_link", args=[shop.pk, off.pk]))
    assert choose.status_code == 200 and choose.context["q"] == "P-OFF"  # starts with its own code
    everything = client_owner.get(reverse("item_mapping_link", args=[shop.pk, off.pk]), {"q": ""})
    assert [row.sku_id for row in everything.context["page"].object_list] == [501, 502]
    assert [row.sku_id for row in client_owner.get(reverse("item_mapping_link", args=[shop.pk, off.pk]),
                                                   {"q": "vitamin"}).context["page"].object_list] == [502]

    response = client_owner.post(reverse("item_mapping_link", args=[shop.pk, off.pk]), {"sku_id": "502"})

    assert response.status_code == 302
    assert (link(shop, off).link, link(shop, off).sku_id, link(shop, off).num_iid) == (MappingLink.MANUAL, 502, 9002)
    assert Outbox.objects.filter(connection=shop, product=off, pending=True).count() == 3  # stock, price, listing
    assert "Linked by hand" in page(client_owner, shop).content.decode()


def test_linking_to_a_sku_the_shop_does_not_have_is_refused_with_a_message(client_owner, shop, products):
    _on, off = products
    response = client_owner.post(reverse("item_mapping_link", args=[shop.pk, off.pk]), {"sku_id": "777"},
                                 follow=True)
    assert "no such SKU" in response.content.decode()
    assert not link(shop, off).found


@pytest.mark.parametrize("who", ["client_operator", "client_viewer"])
def test_only_owners_change_the_mapping(request, who, shop, products):
    client = request.getfixturevalue(who)
    on, off = products
    assert client.post(reverse("item_mapping_unlink", args=[shop.pk, on.pk])).status_code == 403
    assert client.post(reverse("item_mapping_link", args=[shop.pk, off.pk]), {"sku_id": "502"}).status_code == 403
    assert client.post(reverse("item_mapping_refresh", args=[shop.pk])).status_code == 403
    assert link(shop, on).found and not link(shop, off).found


def test_another_merchants_product_or_an_erp_connection_is_not_found(client_owner, shop, outsider_product,
                                                                      merchant_a):
    assert client_owner.post(reverse("item_mapping_unlink", args=[shop.pk, outsider_product.pk])).status_code == 404
    erp = ConnectionFactory(merchant=merchant_a, kind=ConnectionKind.ERP)
    assert page(client_owner, erp).status_code == 404


def test_the_connection_page_links_to_its_items(client_owner, shop, products):
    html = client_owner.get(reverse("connection_detail", args=[shop.pk])).content.decode()
    assert reverse("item_mapping", args=[shop.pk]) in html
    assert "1 of our products are on this marketplace, 1 are not" in html
