"""Writes of ERP bridge connections (SPEC M12, S9): create, update, test, run now. An ERP connection is a
sync.Connection of kind "erp": gateway_url is the bridge's base URL, app_key and the secret are the
key and secret the bridge checks signatures with. The TOP-only settings (session, sign method, message
channel, refund interval) do not apply and stay at their defaults."""
import uuid

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils.translation import gettext as _

from merchant.permissions import Action, Actor
from sync.erp.client import ErpClient
from sync.errors import SyncError
from sync.models import Connection, ConnectionKind
from sync.services import TestResult, error_text, gateway_url_check, url_changed

SETTINGS = ("name", "gateway_url", "app_key", "calls_per_minute", "orders_interval")
SYNC_NOW_JOBS = ("erp_pull", "erp_orders")


def _check(connection: Connection) -> None:
    gateway_url_check(connection.gateway_url)
    if not connection.app_secret_encrypted:
        raise ValidationError({"app_secret": _("The secret is required.")})
    connection.full_clean(exclude=["merchant", "created_by"])


def erp_connection_create(*, merchant, actor: Actor, app_secret: str, **fields) -> Connection:
    """A new ERP bridge connection; fields are the SETTINGS names (others are ignored). Raises ValidationError."""
    actor.require(Action.CONNECTIONS)
    connection = Connection(merchant=merchant, kind=ConnectionKind.ERP, created_by=actor.user,
                            messages_enabled=False, **{k: v for k, v in fields.items() if k in SETTINGS})
    connection.app_secret = app_secret
    _check(connection)
    connection.save()
    return connection


def erp_connection_update(*, connection: Connection, actor: Actor, app_secret: str = "", **fields) -> Connection:
    """Change settings; a blank secret keeps the stored one. New credentials or a new URL clear a stop.
    A new base URL needs the secret entered again: the stored one must never sign calls to a host it was
    not entered for. Raises ValidationError."""
    actor.require(Action.CONNECTIONS)
    with transaction.atomic():
        connection = Connection.objects.select_for_update().get(pk=connection.pk, kind=ConnectionKind.ERP)
        if "gateway_url" in fields and url_changed(connection.gateway_url, fields["gateway_url"]) and not app_secret:
            raise ValidationError({"gateway_url": _("A new bridge URL needs the secret entered again.")})
        for name, value in fields.items():
            if name in SETTINGS:
                setattr(connection, name, value)
        if app_secret:
            connection.app_secret = app_secret
        if app_secret or "gateway_url" in fields or "app_key" in fields:
            connection.stopped_reason = ""
        _check(connection)
        connection.save()
    return connection


def erp_connection_test(*, connection: Connection, actor: Actor, client_factory=ErpClient) -> TestResult:
    """One signed GET /ping with the stored credentials. Its answer is not shown (a page never shows what a
    remote side said). Makes an outbound call: run it on a worker (sync.connection_tests)."""
    actor.require(Action.CONNECTIONS)
    try:
        client_factory(connection).ping()
    except SyncError as exc:
        return TestResult(False, _("The ERP bridge refused the call: %(error)s") % {"error": error_text(exc)})
    return TestResult(True, _("Connected. The ERP bridge answered."))


def erp_sync_now(*, connection: Connection, job: str, actor: Actor) -> str:
    """Queue one ERP pull or order handoff now; returns the job id. The run's lease still keeps it from
    overlapping a scheduled run of the same module."""
    import django_rq

    from sync import jobs

    actor.require(Action.CONNECTIONS)
    if job not in SYNC_NOW_JOBS:
        raise ValueError(f"unknown job {job!r}")
    func = jobs.sync_erp_pull if job == "erp_pull" else jobs.sync_erp_orders
    # Inside a transaction django-rq sends the job on commit and returns nothing; name it up front.
    job_id = f"sync-{connection.pk}-{job}-manual-{uuid.uuid4().hex[:12]}"
    django_rq.get_queue("sync").enqueue(func, connection.pk, trigger="manual", job_id=job_id,
                                        job_timeout=settings.SYNC_JOB_TIMEOUT)
    return job_id
