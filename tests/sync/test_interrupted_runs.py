"""Runs whose worker was killed: their counts are saved as they go, and the dispatcher closes them as
interrupted once their lease lapsed, freeing the module; a late renewal does not reopen them."""
from datetime import timedelta

import django_rq
import pytest
from django.urls import reverse
from django.utils import timezone

from sync import schedule
from sync.models import Checkpoint, Connection, RunOutcome, SyncModule, SyncRun
from sync.runs import LeaseTaken, run_of, runs_close_interrupted

pytestmark = pytest.mark.django_db


class Counts:
    created, updated, unchanged = 3, 2, 1


@pytest.fixture
def connection(merchant_a):
    django_rq.get_queue("sync").empty()
    yield Connection.objects.create(merchant=merchant_a, name="shop", gateway_url="http://127.0.0.1:9/router/rest",
                                    app_key="k")
    django_rq.get_queue("sync").empty()


def _killed_mid_run(connection):
    """A run that stored some orders and renewed its lease, then lost its worker (its `with` never ends)."""
    context = run_of(connection, SyncModule.ORDERS, mode="incremental")
    run = context.__enter__()
    run.add(Counts)
    run.record.windows, run.record.fetched = 2, 6
    run.renew()
    return context, run


def test_a_run_saves_its_counts_as_it_goes(connection):
    _context, run = _killed_mid_run(connection)
    stored = SyncRun.objects.get(pk=run.record.pk)
    assert stored.outcome == RunOutcome.RUNNING
    assert (stored.windows, stored.fetched, stored.created, stored.updated, stored.unchanged) == (2, 6, 3, 2, 1)


def test_the_dispatcher_closes_a_run_whose_lease_lapsed_as_interrupted_with_its_counts(connection, english,
                                                                                      django_capture_on_commit_callbacks):
    context, run = _killed_mid_run(connection)
    Checkpoint.objects.filter(connection=connection, module=SyncModule.ORDERS).update(
        lease_until=timezone.now() - timedelta(seconds=1))
    with django_capture_on_commit_callbacks(execute=True):
        schedule.dispatch()

    closed = SyncRun.objects.get(pk=run.record.pk)
    assert closed.outcome == RunOutcome.INTERRUPTED and closed.finished_at is not None
    assert (closed.windows, closed.fetched, closed.created, closed.updated, closed.unchanged) == (2, 6, 3, 2, 1)
    assert "stopped before it finished" in closed.errors[-1]
    checkpoint = Checkpoint.objects.get(connection=connection, module=SyncModule.ORDERS)
    assert checkpoint.lease_token == "" and checkpoint.lease_until is None

    # The worker was only frozen and comes back: it cannot renew, and its ending does not reopen the run.
    with pytest.raises(LeaseTaken):
        run.renew()
    assert context.__exit__(LeaseTaken, LeaseTaken("lost"), None) is False  # run_of lets the error through
    assert SyncRun.objects.get(pk=run.record.pk).outcome == RunOutcome.INTERRUPTED
    with run_of(connection, SyncModule.ORDERS):  # the module is free for the next run
        pass


def test_a_run_whose_lease_is_alive_is_left_running(connection, django_capture_on_commit_callbacks):
    _context, run = _killed_mid_run(connection)
    with django_capture_on_commit_callbacks(execute=True):
        schedule.dispatch()
    assert SyncRun.objects.get(pk=run.record.pk).outcome == RunOutcome.RUNNING


def test_a_run_whose_lease_another_run_took_is_closed_too(connection):
    _context, run = _killed_mid_run(connection)
    Checkpoint.objects.filter(connection=connection, module=SyncModule.ORDERS).update(
        lease_token="newer-run", lease_until=timezone.now() + timedelta(minutes=1))
    runs_close_interrupted()
    assert SyncRun.objects.get(pk=run.record.pk).outcome == RunOutcome.INTERRUPTED
    assert Checkpoint.objects.get(connection=connection, module=SyncModule.ORDERS).lease_token == "newer-run"


def test_interrupted_runs_are_shown_and_filtered_on_the_runs_page(connection, client_owner, english_pages):
    _context, run = _killed_mid_run(connection)
    SyncRun.objects.filter(pk=run.record.pk).update(outcome=RunOutcome.INTERRUPTED)
    SyncRun.objects.create(connection=connection, module=SyncModule.REFUNDS, started_at=timezone.now(),
                           outcome=RunOutcome.OK)
    page = client_owner.get(reverse("connection_runs", args=[connection.pk]), {"outcome": "interrupted"})
    html = page.content.decode()
    assert '<option value="interrupted" selected>Interrupted</option>' in html
    assert '<span class="badge interrupted">Interrupted</span>' in html
    assert "Refunds" not in html.split("<tbody>")[1]  # only the interrupted run is listed
    assert "Run again" in html


def test_a_message_consumer_run_left_open_far_past_its_span_is_closed_with_its_counts(connection, english):
    now = timezone.now()
    gone = SyncRun.objects.create(connection=connection, module=SyncModule.MESSAGES, mode="consume",
                                  trigger="consumer", started_at=now - timedelta(hours=2), fetched=40, created=12)
    live = SyncRun.objects.create(connection=connection, module=SyncModule.MESSAGES, mode="consume",
                                  trigger="consumer", started_at=now - timedelta(minutes=20))

    assert runs_close_interrupted(now) == 1

    gone.refresh_from_db()
    assert gone.outcome == RunOutcome.INTERRUPTED and gone.finished_at == now
    assert (gone.fetched, gone.created) == (40, 12)
    assert "stopped before it finished" in gone.errors[-1]
    assert SyncRun.objects.get(pk=live.pk).outcome == RunOutcome.RUNNING
