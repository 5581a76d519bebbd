"""Pushes end to end: orders moving sellable stock, logistics on shipping, what the pages show, the CLI,
and the queue: a push is asked for after commit, and the dispatcher finds pending pushes when Redis lost it."""
import json
from datetime import timedelta
from io import StringIO

import django_rq
import pytest
from django.core.management import call_command
from django.urls import reverse
from django.utils import timezone

from merchant.models import AuditSource, Order, OrderSource
from merchant.permissions import Actor
from merchant.services.orders import order_logistics_enter
from merchant.services.stock import stock_set
from sync import schedule
from sync.models import Checkpoint, Outbox, OutboxKind, SyncModule
from sync.outbox import push_job_id
from sync.pipelines import orders_sync
from sync.marketplaces.top.sandbox import marketplace
from sync.marketplaces.top.sandbox.models import SandboxSku, SandboxTrade
from tests.factories import CarrierFactory, ProductFactory

from .conftest import ago, fast_client, faults
from .test_outbound import Recorder, WorkerKilled, push

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.usefixtures("english_pages")]

SYSTEM = Actor.system(AuditSource.ERP)


@pytest.fixture
def queue():
    q = django_rq.get_queue(schedule.QUEUE)
    q.empty()
    yield q
    q.empty()


def quantity(code) -> int:
    return SandboxSku.objects.get(outer_sku_id=code).quantity


def pull_recent(connection):
    orders_sync(connection, full=True, since=ago(days=1), client_factory=fast_client)


@pytest.fixture
def sold(top, shop):
    """A marketplace order for 2 of ERP-1, pulled in."""
    trade = marketplace.trade_create(shop, lines=[("ERP-1", 2)], created=ago(minutes=30))
    pull_recent(top)
    return Order.objects.get(source=OrderSource.MARKETPLACE, order_no=str(trade.tid)), trade


def test_an_order_coming_in_and_shipping_moves_the_pushed_stock(top, sold, catalog):
    order, _trade = sold
    assert Outbox.objects.get(product=catalog[0], kind=OutboxKind.STOCK).pending
    push(top)
    assert quantity("ERP-1") == 10 - 2
    order_logistics_enter(order=order, carrier=CarrierFactory(code="SF"), tracking_no="SF1234567890123", actor=SYSTEM)
    push(top)
    assert quantity("ERP-1") == 10  # shipped: the ERP's stock is what counts again
    assert quantity("ERP-2") == 100  # never changed here, never pushed


def test_shipping_a_marketplace_order_sends_its_logistics_and_the_page_shows_it(top, sold, client_owner):
    order, trade = sold
    order_logistics_enter(order=order, carrier=CarrierFactory(code="SF"), tracking_no="SF1234567890123", actor=SYSTEM)
    recorder = Recorder()

    summary = push(top, "logistics", recorder)

    assert summary["outcome"] == "ok" and summary["pushed"] == 1
    assert recorder.of("taobao.logistics.offline.send") == [
        {"tid": str(trade.tid), "out_sid": "SF1234567890123", "company_code": "SF"}]
    trade.refresh_from_db()
    assert trade.status == "WAIT_BUYER_CONFIRM_GOODS" and trade.consign_time
    assert trade.lines[0]["invoice_no"] == "SF1234567890123"
    entry = Outbox.objects.get(order=order, kind=OutboxKind.LOGISTICS)
    assert entry.pushed_value == "SF SF1234567890123" and not entry.pending
    page = client_owner.get(reverse("order_detail", args=[order.pk])).content.decode()
    assert "Shipping sent to the marketplace" in page and "SF SF1234567890123" in page


def test_a_logistics_push_repeated_after_a_crash_is_recognised_as_done(top, sold):
    order, trade = sold
    order_logistics_enter(order=order, carrier=CarrierFactory(code="SF"), tracking_no="SF1234567890123", actor=SYSTEM)
    recorder = Recorder()

    def die():
        raise WorkerKilled

    recorder.after["taobao.logistics.offline.send"] = die
    with pytest.raises(WorkerKilled):
        push(top, "logistics", recorder)
    assert Outbox.objects.get(order=order).pending

    summary = push(top, "logistics", now=timezone.now() + timedelta(minutes=5))

    # The marketplace refuses to ship it twice; its own status shows the first push went through.
    entry = Outbox.objects.get(order=order)
    assert summary["pushed"] == 1 and entry.failed_at is None and not entry.pending
    assert SandboxTrade.objects.get(pk=trade.pk).status == "WAIT_BUYER_CONFIRM_GOODS"


def test_a_carrier_the_marketplace_does_not_know_fails_and_says_why(top, sold, client_owner):
    order, _trade = sold
    order_logistics_enter(order=order, carrier=CarrierFactory(code="NOPE"), tracking_no="X1", actor=SYSTEM)
    push(top, "logistics")
    entry = Outbox.objects.get(order=order)
    assert entry.failed_at and "NOPE" in entry.last_error
    page = client_owner.get(reverse("order_detail", args=[order.pk])).content.decode()
    assert "Failed" in page and "NOPE" in page


def test_a_permanent_failure_is_shown_on_the_product_page(top, shop, merchant_a, client_owner, catalog):
    stock_set(product=catalog[1], quantity=5, actor=SYSTEM)
    push(top)
    # The seller deletes the SKU the product was found at: the marketplace refuses the next push.
    SandboxSku.objects.filter(outer_sku_id=catalog[1].erp_product_id).delete()
    stock_set(product=catalog[1], quantity=8, actor=SYSTEM)
    stock_set(product=catalog[0], quantity=6, actor=SYSTEM)
    push(top)

    page = client_owner.get(reverse("product_detail", args=[catalog[1].pk])).content.decode()
    assert "Marketplace push" in page and "Failed permanently" in page
    fine = client_owner.get(reverse("product_detail", args=[catalog[0].pk])).content.decode()
    assert "Up to date" in fine and "Failed permanently" not in fine
    counts = client_owner.get(reverse("connection_detail", args=[top.pk])).context["push_counts"]
    assert {(c.kind, c.pending, c.failed) for c in counts if c.kind == "stock"} == {("stock", 0, 1)}


def test_a_product_not_on_the_marketplace_is_shown_as_such_not_as_a_failure(top, merchant_a, client_owner, catalog):
    stranger = ProductFactory(merchant=merchant_a, erp_product_id="NOT-THERE")
    stock_set(product=stranger, quantity=5, actor=SYSTEM)
    push(top)

    page = client_owner.get(reverse("product_detail", args=[stranger.pk])).content.decode()
    assert "Not on this marketplace" in page and "Failed permanently" not in page
    counts = client_owner.get(reverse("connection_detail", args=[top.pk])).context["push_counts"]
    assert {(c.kind, c.failed) for c in counts if c.kind == "stock"} == {("stock", 0)}


def test_the_cli_runs_one_push_and_prints_one_json_line(top, shop, catalog):
    stock_set(product=catalog[0], quantity=7, actor=SYSTEM)
    out = StringIO()
    call_command("sync_run", str(top.pk), "stock", stdout=out)
    summary = json.loads(out.getvalue())
    assert (summary["module"], summary["outcome"], summary["pushed"], summary["failed"]) == ("stock", "ok", 1, 0)
    assert quantity("ERP-1") == 7

    stock_set(product=catalog[0], quantity=8, actor=SYSTEM)
    faults(shop, session_expired=True)
    out = StringIO()
    with pytest.raises(SystemExit) as exit_:
        call_command("sync_run", str(top.pk), "stock", stdout=out)
    assert exit_.value.code == 1 and json.loads(out.getvalue())["outcome"] == "stopped"


def test_a_change_asks_for_one_push_after_commit_however_many_changes(top, catalog, queue):
    stock_set(product=catalog[0], quantity=7, actor=SYSTEM)
    stock_set(product=catalog[1], quantity=8, actor=SYSTEM)
    assert queue.job_ids == [push_job_id(top.pk, OutboxKind.STOCK)]
    job = queue.fetch_job(queue.job_ids[0])
    assert job.kwargs["kind"] == "stock"
    job.perform()
    assert (quantity("ERP-1"), quantity("ERP-2")) == (7, 8)


def pushes(job_ids) -> list[str]:
    modules = ("-stock", "-prices", "-listing", "-logistics")
    return [job_id for job_id in job_ids if job_id.endswith(modules)]


def test_the_dispatcher_finds_pending_pushes_after_redis_lost_the_jobs(top, catalog, queue):
    assert pushes(schedule.dispatch()) == []  # nothing pending: no push job
    stock_set(product=catalog[0], quantity=3, actor=SYSTEM)
    queue.empty()  # the queued job is gone (flushed Redis, lost worker)

    enqueued = pushes(schedule.dispatch())

    assert enqueued == [push_job_id(top.pk, OutboxKind.STOCK)]
    assert pushes(schedule.dispatch()) == []  # queued already: not twice
    queue.fetch_job(enqueued[0]).perform()
    assert quantity("ERP-1") == 3
    assert not Outbox.objects.get(product=catalog[0], kind=OutboxKind.STOCK).pending
    queue.empty()
    assert pushes(schedule.dispatch()) == []  # done: nothing due


def test_the_dispatcher_leaves_a_push_alone_while_one_runs(top, catalog, queue):
    stock_set(product=catalog[0], quantity=3, actor=SYSTEM)
    queue.empty()
    Checkpoint.objects.create(connection=top, module=SyncModule.STOCK, lease_token="busy",
                              lease_until=timezone.now() + timedelta(minutes=1))
    assert pushes(schedule.dispatch()) == []
    assert pushes(schedule.dispatch(timezone.now() + timedelta(minutes=2))) == [push_job_id(top.pk, "stock")]


def test_a_push_job_waits_for_the_run_holding_the_lease_then_pushes(top, catalog, queue, monkeypatch):
    from types import SimpleNamespace

    from sync import jobs
    from sync.runs import LeaseTaken

    stock_set(product=catalog[0], quantity=3, actor=SYSTEM)
    lease = Checkpoint.objects.create(connection=top, module=SyncModule.STOCK, lease_token="busy",
                                      lease_until=timezone.now() + timedelta(minutes=1))
    pauses = []

    def other_run_ends(seconds):
        pauses.append(seconds)
        Checkpoint.objects.filter(pk=lease.pk).update(lease_until=None, lease_token="")

    monkeypatch.setattr(jobs, "time", SimpleNamespace(sleep=other_run_ends))
    summary = jobs.sync_push(top.pk, kind="stock")
    assert len(pauses) == 1 and summary["pushed"] == 1 and quantity("ERP-1") == 3

    stock_set(product=catalog[0], quantity=4, actor=SYSTEM)
    Checkpoint.objects.filter(pk=lease.pk).update(lease_token="stuck", lease_until=timezone.now() + timedelta(minutes=1))
    monkeypatch.setattr(jobs, "time", SimpleNamespace(sleep=lambda seconds: None))
    with pytest.raises(LeaseTaken):  # RQ retries the job later; the row stays due meanwhile
        jobs.sync_push(top.pk, kind="stock")
    assert Outbox.objects.get(product=catalog[0], kind=OutboxKind.STOCK).pending
