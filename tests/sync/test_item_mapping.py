"""The item mapping over real HTTP against the sandbox marketplace: reading the shop's items
(items.onsale.get / items.inventory.get / item.seller.get), matching SKUs to products by outer id, links made
and removed by hand, and pushes that skip products not on the marketplace without recording a failure."""
import pytest

from merchant.models import AuditEntry, AuditSource, Notification
from merchant.permissions import Actor
from merchant.services.stock import stock_set
from sync.pipelines import items as item_mapping
from sync.marketplaces.top import items
from sync.errors import BusinessError, Permanent, SyncError
from sync.mapping_services import mapping_link, mapping_match_by_code, mapping_unlink
from sync.models import Checkpoint, MappingLink, MarketplaceListing, MarketplaceSku, Outbox, SyncModule, SyncRun
from sync.pipelines import items_sync, push_sync
from sync.runs import run_summary
from sync.marketplaces.top.sandbox import marketplace
from sync.marketplaces.top.sandbox.models import ApproveStatus, SandboxItem, SandboxSku
from tests.factories import ProductFactory

from .conftest import fast_client

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.usefixtures("english")]

SYSTEM = Actor.system(AuditSource.ERP)


class Recorder:
    """A client factory that keeps the method of every call made."""

    def __init__(self):
        self.methods = []

    def __call__(self, connection, **kwargs):
        client = fast_client(connection, **kwargs)
        real = client.call

        def call(method, params=None, *, read=None):
            self.methods.append(method)
            return real(method, params, read=read)

        client.call = call
        return client

    def count(self, method):
        return self.methods.count(method)


def refresh(connection, recorder=None):
    return items_sync(connection, trigger="cli", client_factory=recorder or fast_client)


def push(connection, module="stock"):
    try:
        return push_sync(connection, module=module, client_factory=fast_client)
    except SyncError:
        return run_summary(SyncRun.objects.filter(connection=connection).latest("started_at", "id"))


def link_of(connection, product) -> MarketplaceSku:
    return MarketplaceSku.objects.get(connection=connection, product=product)


def sku(code) -> SandboxSku:
    return SandboxSku.objects.select_related("item").get(outer_sku_id=code)


@pytest.fixture
def stranger(merchant_a):
    """A product of ours the shop does not sell."""
    return ProductFactory(merchant=merchant_a, erp_product_id="NOT-THERE", stock=9)


def test_a_refresh_reads_the_shop_and_matches_each_sku_to_the_product_with_its_code(top, catalog, stranger):
    recorder = Recorder()

    summary = refresh(top, recorder)

    assert summary["outcome"] == "ok"
    assert (summary["matched"], summary["not_on_marketplace"], summary["items_left"]) == (5, 1, 0)
    assert recorder.count(items.ONSALE) == 1 and recorder.count(items.INVENTORY) == 1
    assert recorder.count(items.SELLER_GET) == 5  # one per item, for its SKUs
    for product in catalog:
        link, there = link_of(top, product), sku(product.erp_product_id)
        assert link.found and link.link == MappingLink.AUTO
        assert (link.num_iid, link.sku_id, link.properties) == (there.item.num_iid, there.sku_id, there.properties)
    assert not link_of(top, stranger).found
    listing = MarketplaceListing.objects.get(connection=top, outer_id=catalog[0].erp_product_id)
    assert listing.title == sku(catalog[0].erp_product_id).item.title and listing.quantity == 100
    assert Checkpoint.objects.get(connection=top, module=SyncModule.ITEMS).position is not None


def test_a_second_refresh_reads_again_only_the_items_that_changed(top, shop, catalog):
    refresh(top)
    recorder = Recorder()
    refresh(top, recorder)
    assert recorder.count(items.SELLER_GET) == 0

    marketplace.sku_quantities_set(shop, sku(catalog[2].erp_product_id).item.num_iid,
                                   [(catalog[2].erp_product_id, 7)], by="outer_id")
    SandboxItem.objects.filter(outer_id=catalog[2].erp_product_id).update(
        modified=SandboxItem.objects.get(outer_id=catalog[2].erp_product_id).modified.replace(year=2030))
    recorder = Recorder()
    refresh(top, recorder)

    assert recorder.count(items.SELLER_GET) == 1
    assert MarketplaceListing.objects.get(connection=top, outer_id=catalog[2].erp_product_id).quantity == 7


def test_items_in_the_warehouse_stay_mapped_and_deleted_ones_are_forgotten(top, catalog):
    SandboxItem.objects.filter(outer_id=catalog[0].erp_product_id).update(approve_status=ApproveStatus.INSTOCK)
    SandboxItem.objects.filter(outer_id=catalog[1].erp_product_id).delete()

    refresh(top)

    assert link_of(top, catalog[0]).found
    assert not MarketplaceListing.objects.get(connection=top, outer_id=catalog[0].erp_product_id).onsale
    assert not link_of(top, catalog[1]).found
    assert not MarketplaceListing.objects.filter(connection=top, outer_id=catalog[1].erp_product_id).exists()


def test_a_large_shop_is_read_over_several_runs(top, catalog, monkeypatch):
    # At most a minute of the connection's call budget a run, within bounds: here at most 2 items a run.
    monkeypatch.setattr(item_mapping, "DETAILS_PER_RUN_MIN", 1)
    monkeypatch.setattr(item_mapping, "DETAILS_PER_RUN", 2)
    recorder = Recorder()

    first = refresh(top, recorder)

    assert recorder.count(items.SELLER_GET) == 2 and first["items_left"] == 3
    assert Checkpoint.objects.get(connection=top, module=SyncModule.ITEMS).position is None
    refresh(top)
    last = refresh(top)
    assert last["items_left"] == 0 and last["matched"] == 5


def test_products_found_by_a_refresh_are_pushed_there(top, catalog):
    refresh(top)
    assert Outbox.objects.filter(connection=top, product__in=catalog, pending=True).count() == 3 * len(catalog)
    assert push(top)["pushed"] == len(catalog)


def test_a_push_skips_a_product_not_on_the_marketplace_without_recording_a_failure(top, catalog, stranger):
    refresh(top)
    push(top)
    stock_set(product=stranger, quantity=23, actor=SYSTEM)
    stock_set(product=catalog[0], quantity=21, actor=SYSTEM)

    summary = push(top)

    assert summary["outcome"] == "ok" and summary["failed"] == 0
    assert summary["pushed"] == 1 and summary["skipped"] == 1 and summary["errors"] == []
    row = Outbox.objects.get(connection=top, product=stranger, kind="stock")
    assert not row.pending and row.failed_at is None and row.last_error == "" and row.pushed_value == ""
    assert not Notification.objects.exists()


def test_a_product_never_looked_up_is_asked_for_by_code_and_skipped_when_absent(top, catalog, stranger):
    stock_set(product=stranger, quantity=5, actor=SYSTEM)

    summary = push(top)

    assert summary["failed"] == 0 and summary["skipped"] == 1
    assert not link_of(top, stranger).found
    assert Outbox.objects.get(product=stranger, kind="stock").failed_at is None


def test_an_unlinked_product_is_not_pushed_and_a_refresh_leaves_it_unlinked(top, catalog, owner_actor):
    refresh(top)
    push(top)
    before = sku(catalog[0].erp_product_id).quantity
    mapping_unlink(connection=top, product=catalog[0], actor=owner_actor)
    stock_set(product=catalog[0], quantity=44, actor=SYSTEM)

    summary = push(top)

    assert summary["skipped"] == 1 and summary["pushed"] == 0 and summary["failed"] == 0
    assert sku(catalog[0].erp_product_id).quantity == before != 44
    refresh(top)
    assert link_of(top, catalog[0]).link == MappingLink.UNLINKED and not link_of(top, catalog[0]).found
    entry = AuditEntry.objects.get(entity="product", entity_id=catalog[0].pk, field="marketplace_link")
    assert "not on this marketplace" in entry.new_value and entry.actor == owner_actor.user

    mapping_match_by_code(connection=top, product=catalog[0], actor=owner_actor)
    assert link_of(top, catalog[0]).found
    push(top)
    assert sku(catalog[0].erp_product_id).quantity == 44


def test_a_link_by_hand_takes_the_sku_pushes_there_and_survives_a_refresh(top, catalog, stranger, owner_actor):
    refresh(top)
    target = sku(catalog[1].erp_product_id)

    mapping_link(connection=top, product=stranger, sku_id=target.sku_id, actor=owner_actor)

    assert link_of(top, stranger).link == MappingLink.MANUAL and link_of(top, stranger).sku_id == target.sku_id
    assert not link_of(top, catalog[1]).found  # the SKU is the stranger's now, whatever its code says
    summary = push(top)
    assert summary["failed"] == 0
    target.refresh_from_db()
    assert target.quantity == 9  # the stranger's stock went out to the SKU it was linked to
    refresh(top)
    assert link_of(top, stranger).sku_id == target.sku_id and not link_of(top, catalog[1]).found


def test_a_sku_linked_by_hand_cannot_be_linked_to_a_second_product(top, catalog, stranger, owner_actor):
    from django.core.exceptions import ValidationError

    refresh(top)
    target = sku(catalog[1].erp_product_id)
    mapping_link(connection=top, product=stranger, sku_id=target.sku_id, actor=owner_actor)
    with pytest.raises(ValidationError):
        mapping_link(connection=top, product=catalog[2], sku_id=target.sku_id, actor=owner_actor)
    with pytest.raises(ValidationError):
        mapping_link(connection=top, product=catalog[2], sku_id=999, actor=owner_actor)


def test_only_owners_change_the_mapping(top, catalog, operator_actor):
    from django.core.exceptions import PermissionDenied

    refresh(top)
    with pytest.raises(PermissionDenied):
        mapping_unlink(connection=top, product=catalog[0], actor=operator_actor)


def test_the_sandbox_answers_item_lists_as_top_does(top, shop, merchant_a):
    many = [ProductFactory(merchant=merchant_a, erp_product_id=f"PAGE-{n:03d}") for n in range(205)]
    marketplace.items_from_products(shop, [(p.erp_product_id, p.name, p.default_price, 1) for p in many])
    client = fast_client(top)

    first, total = items.items_page(client, onsale=True, page_no=1)
    second, _total = items.items_page(client, onsale=True, page_no=2)

    assert total == 210 and len(first) == items.PAGE_SIZE == 200 and len(second) == 10
    assert {h.num_iid for h in first}.isdisjoint(h.num_iid for h in second)
    assert items.items_page(client, onsale=False, page_no=1) == ([], 0)
    with pytest.raises(Permanent):  # an argument error, as TOP answers code 41
        client.call("taobao.items.onsale.get", {"fields": "num_iid", "page_size": 201})
    with pytest.raises(BusinessError):
        items.item_get(client, 1)
