"""Adding and changing a Taobao/Tmall (TOP) connection: gateway, app key and secret, and the seller's session
token, which the owner enters (TOP's authorization gives it to them)."""
from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils.translation import gettext as _

from merchant.permissions import Action, Actor
from sync.models import Connection, ConnectionKind
from sync.services import SETTINGS, gateway_url_check, url_changed

from .signing import SIGN_METHODS


def _check(connection: Connection) -> None:
    gateway_url_check(connection.gateway_url)
    if connection.sign_method not in SIGN_METHODS:
        raise ValidationError({"sign_method": _("Unknown sign method.")})
    if not connection.app_secret_encrypted:
        raise ValidationError({"app_secret": _("The app secret is required.")})
    if not connection.session_encrypted:
        raise ValidationError({"session": _("The session token is required.")})
    connection.full_clean(exclude=["merchant", "created_by"])


def connection_create(*, merchant, actor: Actor, app_secret: str, session: str, **fields) -> Connection:
    """A new TOP connection; fields are the SETTINGS names. Raises ValidationError."""
    actor.require(Action.CONNECTIONS)
    connection = Connection(merchant=merchant, kind=ConnectionKind.TOP, created_by=actor.user,
                            **{k: v for k, v in fields.items() if k in SETTINGS})
    connection.app_secret = app_secret
    connection.session = session
    _check(connection)
    connection.save()
    return connection


def connection_update(*, connection: Connection, actor: Actor, app_secret: str = "", session: str = "",
                      **fields) -> Connection:
    """Change settings; a blank secret or session keeps the stored one. New credentials clear a stop.
    A new gateway URL needs the secret and the session token entered again: the stored ones must never be
    sent to a host they were not entered for. Raises ValidationError."""
    actor.require(Action.CONNECTIONS)
    with transaction.atomic():
        connection = Connection.objects.select_for_update().get(pk=connection.pk)
        if "gateway_url" in fields and url_changed(connection.gateway_url, fields["gateway_url"]) \
                and not (app_secret and session):
            raise ValidationError({"gateway_url": _(
                "A new gateway URL needs the app secret and the session token entered again.")})
        for name, value in fields.items():
            if name in SETTINGS:
                setattr(connection, name, value)
        if app_secret:
            connection.app_secret = app_secret
        if session:
            connection.session = session
        if app_secret or session or "gateway_url" in fields or "app_key" in fields:
            connection.stopped_reason = ""
        _check(connection)
        connection.save()
    return connection
