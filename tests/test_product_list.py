"""The products list: search by ERP id / barcode prefix in any letter case, name, and pinyin of Chinese names;
sortable columns and a page size, both kept in the pager and header links."""
from datetime import timedelta
from decimal import Decimal

import pytest
from django.urls import reverse
from django.utils import timezone

from merchant.models import Product
from merchant.pinyin import name_pinyin
from merchant.services.bulk import ProductsPlan

from .factories import ProductFactory

pytestmark = pytest.mark.usefixtures("english_pages")


def listed(client, **params) -> list[str]:
    response = client.get(reverse("product_list"), params)
    assert response.status_code == 200
    return [p.erp_product_id for p, _kinds in response.context["rows"]]


@pytest.fixture
def shelf(merchant_a, outsider_product):
    ProductFactory(merchant=merchant_a, erp_product_id="P10016", name="感冒灵颗粒", barcode="6901234567892")
    ProductFactory(merchant=merchant_a, erp_product_id="P10017", name="复方感冒灵片", barcode="6901234500001")
    ProductFactory(merchant=merchant_a, erp_product_id="P20001", name="阿莫西林胶囊", barcode="6922222222222")
    ProductFactory(merchant=merchant_a, erp_product_id="X-9", name="Vitamin C", barcode="4000000000001")
    ProductFactory(merchant=merchant_a, erp_product_id="H-1", name="红霉素软膏", barcode="4000000000002")


@pytest.mark.parametrize("q, expected", [
    ("P10016", ["P10016"]),
    ("p10016", ["P10016"]),                # any letter case
    ("p1001", ["P10016", "P10017"]),       # a prefix of the ERP id
    ("10016", []),                         # the middle of an id is not a prefix
    ("69012345", ["P10016", "P10017"]),    # a barcode prefix
    ("6901234567892", ["P10016"]),         # the whole barcode
    ("感冒灵", ["P10016", "P10017"]),       # the name contains it
    ("阿莫", ["P20001"]),
    ("gmlkl", ["P10016"]),                 # pinyin initials
    ("GML", ["P10016", "P10017"]),         # initials, any case, inside the name
    ("ganmao", ["P10016", "P10017"]),      # full pinyin
    ("ganmaoling", ["P10016", "P10017"]),
    ("gan mao", ["P10016", "P10017"]),     # syllables typed apart
    ("amoxilin", ["P20001"]),
    ("vitamin", ["X-9"]),                  # a Latin name as it is
    ("mlkl x", []),
    ("hmsrg", ["H-1"]),
    ("gm", ["P10016", "P10017"]),          # initials only: not hon-gm-eisu across two syllables
    ("ongmei", []),                        # full pinyin matches from a syllable's start
    ("an", []),                            # initials are not matched inside a syllable (g-an)
    ("hongmeis", ["H-1"]),                 # the last syllable may be typed in part
])
def test_search(client_owner, shelf, q, expected):
    assert listed(client_owner, q=q) == expected


def test_search_never_shows_another_merchants_product(client_owner, shelf, outsider_product):
    assert listed(client_owner, q=outsider_product.erp_product_id) == []
    assert listed(client_owner, q=outsider_product.name) == []


def test_pinyin_follows_the_name_when_edited(client_owner, shelf, owner):
    from merchant.permissions import Actor
    from merchant.services.catalog import product_update

    product = Product.objects.get(erp_product_id="X-9")
    product_update(product=product, actor=Actor.for_user(owner), name="维生素C片")
    assert listed(client_owner, q="wss") == ["X-9"]
    assert listed(client_owner, q="weishengsu") == ["X-9"]


def test_pinyin_is_written_by_the_import_path_for_new_and_renamed_products(client_owner, merchant_a, shelf):
    from merchant.permissions import Actor
    from merchant.services.bulk.common import Item
    from merchant.models import AuditSource

    plan = ProductsPlan(merchant_a)
    items = [Item(ref=1, values={"erp_product_id": "N-1", "name": "板蓝根颗粒", "default_price": Decimal("8.00")}),
             Item(ref=2, values={"erp_product_id": "P20001", "name": "布洛芬缓释胶囊"})]
    plan.apply(plan.plan(items, lock=True), Actor.system(AuditSource.IMPORT))
    assert Product.objects.get(erp_product_id="N-1").name_pinyin == name_pinyin("板蓝根颗粒")
    assert listed(client_owner, q="blg") == ["N-1"]
    assert listed(client_owner, q="buluofen") == ["P20001"]
    assert listed(client_owner, q="amoxilin") == []


def test_name_pinyin_holds_full_pinyin_and_initials():
    assert name_pinyin("感冒灵颗粒") == " gan mao ling ke li#gmlkl"
    assert name_pinyin("维生素C片") == " wei sheng su c pian#wsscp"
    assert name_pinyin("Vitamin C") == ""


# --- sort and page size -----------------------------------------------------------------------------------------

@pytest.fixture
def sortable(merchant_a):
    now = timezone.now()
    rows = [("A1", "Cc", "3.00", 5, 2), ("A2", "Aa", "1.00", 9, 0), ("A3", "Bb", "2.00", 1, 1)]
    for erp, name, price, stock, hours_ago in rows:
        p = ProductFactory(merchant=merchant_a, erp_product_id=erp, name=name, default_price=Decimal(price),
                           stock=stock)
        Product.objects.filter(pk=p.pk).update(updated_at=now - timedelta(hours=hours_ago))


@pytest.mark.parametrize("sort, expected", [
    ("", ["A1", "A2", "A3"]),
    ("erp", ["A1", "A2", "A3"]),
    ("-erp", ["A3", "A2", "A1"]),
    ("name", ["A2", "A3", "A1"]),
    ("-name", ["A1", "A3", "A2"]),
    ("price", ["A2", "A3", "A1"]),
    ("-price", ["A1", "A3", "A2"]),
    ("stock", ["A3", "A1", "A2"]),
    ("-stock", ["A2", "A1", "A3"]),
    ("updated", ["A1", "A3", "A2"]),
    ("-updated", ["A2", "A3", "A1"]),
    ("bogus", ["A1", "A2", "A3"]),         # unknown: the default order, not an error
    ("-name;drop", ["A1", "A2", "A3"]),
])
def test_sort(client_owner, sortable, sort, expected):
    assert listed(client_owner, sort=sort) == expected


def test_header_links_sort_and_reverse_and_keep_the_filters(client_owner, sortable):
    response = client_owner.get(reverse("product_list"), {"q": "A", "sort": "name", "per": "20", "page": "1"})
    links = response.context["sort_links"]
    assert links["name"]["direction"] == "asc"
    assert "sort=-name" in links["name"]["query"]             # clicking the sorted column reverses it
    assert "sort=price" in links["price"]["query"] and links["price"]["direction"] == ""
    for link in links.values():
        assert "q=A" in link["query"] and "per=20" in link["query"] and "page=" not in link["query"]
    assert 'aria-sort="ascending"' in response.content.decode()


def test_page_size_and_sort_are_kept_in_the_pager_links(client_owner, merchant_a):
    for i in range(45):
        ProductFactory(merchant=merchant_a, erp_product_id=f"S{i:03d}", stock=i)
    response = client_owner.get(reverse("product_list"), {"per": "20", "sort": "-stock"})
    rows = [p.erp_product_id for p, _k in response.context["rows"]]
    assert len(rows) == 20 and rows[0] == "S044"
    page = response.content.decode()
    assert "?per=20&amp;sort=-stock&page=2" in page
    second = client_owner.get(reverse("product_list"), {"per": "20", "sort": "-stock", "page": "2"})
    assert [p.erp_product_id for p, _k in second.context["rows"]][0] == "S024"
    assert '<option value="20" selected>' in page


@pytest.mark.parametrize("per, size", [("20", 20), ("100", 100), ("200", 200), ("7", 50), ("x", 50), ("", 50)])
def test_page_size_choices(client_owner, merchant_a, per, size, settings):
    settings.PAGE_SIZE = 50
    assert client_owner.get(reverse("product_list"), {"per": per}).context["page"].paginator.per_page == size
