"""Writes of connections (SPEC M12): create, update, enable/disable, test. The secret and the session
are write-only: stored encrypted, never returned to a page or a log."""
import re
import uuid
from dataclasses import dataclass

from django.core.exceptions import ValidationError
from django.utils.translation import gettext as _

from merchant.permissions import Action, Actor

from .marketplaces import client_for, marketplace_for
from .errors import SyncError
from .http import url_problem
from .models import Connection

SETTINGS = ("name", "gateway_url", "app_key", "sign_method", "calls_per_minute", "orders_interval",
            "refunds_interval", "messages_enabled")


def gateway_url_check(url: str) -> None:
    """Raise ValidationError (on gateway_url, in the owner's words) for an address outbound calls would refuse:
    not http/https, a user name or password in it, or a local or private network address that is not on
    OUTBOUND_ALLOWED_HOSTS. Host names are checked again, resolved, on every call."""
    problem = url_problem(url)
    if not problem:
        return
    message = {
        "scheme": _("Enter an address starting with http:// or https://."),
        "userinfo": _("The address must not contain a user name or password."),
        "address": _("This address is on a local or private network. Enter a public address (the platform's "
                     "operator can allow internal ones)."),
    }.get(problem, _("Enter a valid address."))
    raise ValidationError({"gateway_url": message})


def url_changed(old: str, new: str) -> bool:
    return old.strip().rstrip("/") != (new or "").strip().rstrip("/")


def connection_set_enabled(*, connection: Connection, enabled: bool, actor: Actor) -> Connection:
    """Enable or disable; enabling also clears a stop, so the next run tells whether it is fixed."""
    actor.require(Action.CONNECTIONS)
    changes = {"is_enabled": enabled}
    if enabled:
        changes["stopped_reason"] = ""
    Connection.objects.filter(pk=connection.pk).update(**changes)
    connection.refresh_from_db()
    return connection


@dataclass
class TestResult:
    ok: bool
    message: str


_TOKEN = re.compile(r"[A-Za-z0-9._-]{1,64}")


def error_text(exc: SyncError) -> str:
    """What a failed test shows: for the outbound layer's own refusals a fixed reason in the reader's
    language, otherwise the error's own fixed text (a status or code and our reason, never remote text)."""
    texts = {
        "address-refused": _("the address is on a local or private network and not on the allow-list"),
        "network": _("could not connect, or the connection broke"),
        "deadline": _("no complete answer in time"),
        "too-large": _("the answer was too large"),
    }
    if exc.code in texts:
        return texts[exc.code]
    if exc.code.startswith("bad-url"):
        return texts["address-refused"]
    if exc.code.endswith("redirect"):
        return _("the gateway answered with a redirect; enter its final address")
    return str(exc)


def connection_test(*, connection: Connection, actor: Actor, client_factory=client_for) -> TestResult:
    """One cheap signed call with the stored credentials (the marketplace adapter's test_call). Makes an
    outbound call: run it on a worker (sync.connection_tests), never inside a web request."""
    actor.require(Action.CONNECTIONS)
    try:
        request_id = marketplace_for(connection, client_factory(connection)).test_call()
    except SyncError as exc:
        return TestResult(False, _("The marketplace refused the call: %(error)s") % {"error": error_text(exc)})
    return TestResult(True, _("Connected. The marketplace answered (request id %(id)s).")
                      % {"id": request_id if _TOKEN.fullmatch(request_id) else "-"})


SYNC_NOW_JOBS = ("orders", "orders_full", "refunds", "reconcile", "stock_check")


def connection_sync_now(*, connection: Connection, job: str, actor: Actor, first=None, last=None) -> str:
    """Queue one run now (the "sync now" and "check for missed orders" buttons); returns the job id.
    The run's lease still keeps it from overlapping a scheduled run of the same module."""
    import django_rq
    from django.conf import settings

    from . import jobs

    actor.require(Action.CONNECTIONS)
    if job not in SYNC_NOW_JOBS:
        raise ValueError(f"unknown job {job!r}")
    queue = django_rq.get_queue("sync")
    # Inside a transaction django-rq sends the job on commit and returns nothing; name it up front.
    job_id = f"sync-{connection.pk}-{job}-manual-{uuid.uuid4().hex[:12]}"
    options = {"job_id": job_id, "job_timeout": settings.SYNC_JOB_TIMEOUT}
    if job in ("orders", "orders_full"):
        queue.enqueue(jobs.sync_orders, connection.pk, full=job == "orders_full", trigger="manual", **options)
    elif job == "refunds":
        queue.enqueue(jobs.sync_refunds, connection.pk, trigger="manual", **options)
    elif job == "stock_check":
        queue.enqueue(jobs.sync_stock_check, connection.pk, trigger="manual", **options)
    else:
        queue.enqueue(jobs.sync_reconcile, connection.pk, trigger="manual", first=first, last=last, **options)
    return job_id
