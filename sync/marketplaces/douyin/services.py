"""Adding and changing a Douyin shop connection (a self-use app: app key, app secret and the shop id; the access
token is obtained from the platform and stored encrypted, never typed)."""
from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils.translation import gettext as _

from merchant.permissions import Action, Actor
from sync.models import Connection, ConnectionKind, SignMethod
from sync.services import SETTINGS, gateway_url_check, url_changed

from . import tokens

DEFAULT_GATEWAY = "https://openapi-fxg.jinritemai.com"
SIGN_METHODS = (SignMethod.MD5, SignMethod.HMAC_SHA256)
TOKEN_FIELDS = ("session_encrypted", "refresh_token_encrypted", "token_expires_at")


def _check(connection: Connection) -> None:
    gateway_url_check(connection.gateway_url)
    if connection.sign_method not in SIGN_METHODS:
        raise ValidationError({"sign_method": _("Douyin signs with md5 or hmac-sha256.")})
    if not connection.app_secret_encrypted:
        raise ValidationError({"app_secret": _("The app secret is required.")})
    if not str(connection.shop_id or "").isdigit():
        raise ValidationError({"shop_id": _("Enter the shop id as Douyin shows it: digits only.")})
    connection.full_clean(exclude=["merchant", "created_by"])


def _forget_token(connection: Connection) -> None:
    """The token belongs to one app, shop and gateway: a change of any of them needs a new one."""
    connection.session_encrypted = connection.refresh_token_encrypted = ""
    connection.token_expires_at = None


def douyin_connection_create(*, merchant, actor: Actor, app_secret: str, shop_id: str, **fields) -> Connection:
    """A new Douyin connection (no token yet: the first call on a worker obtains it, or douyin_token_obtain).
    Raises ValidationError."""
    actor.require(Action.CONNECTIONS)
    fields.setdefault("sign_method", SignMethod.HMAC_SHA256)
    connection = Connection(merchant=merchant, kind=ConnectionKind.DOUYIN, created_by=actor.user,
                            shop_id=str(shop_id).strip(), **{k: v for k, v in fields.items() if k in SETTINGS})
    connection.app_secret = app_secret
    _check(connection)
    connection.save()
    return connection


def douyin_connection_update(*, connection: Connection, actor: Actor, app_secret: str = "", shop_id: str = "",
                             **fields) -> Connection:
    """Change settings; a blank secret keeps the stored one. A new gateway URL needs the secret entered again
    (a stored secret is never sent to a host it was not entered for). A new app, shop, gateway or secret drops
    the stored token and clears a stop. Raises ValidationError."""
    actor.require(Action.CONNECTIONS)
    fields.pop("session", None)  # a Douyin token is obtained, never typed
    with transaction.atomic():
        connection = Connection.objects.select_for_update().get(pk=connection.pk)
        if "gateway_url" in fields and url_changed(connection.gateway_url, fields["gateway_url"]) and not app_secret:
            raise ValidationError({"gateway_url": _("A new gateway URL needs the app secret entered again.")})
        before = (connection.gateway_url.strip().rstrip("/"), connection.app_key, connection.shop_id)
        for name, value in fields.items():
            if name in SETTINGS:
                setattr(connection, name, value)
        if shop_id:
            connection.shop_id = str(shop_id).strip()
        if app_secret:
            connection.app_secret = app_secret
        after = (connection.gateway_url.strip().rstrip("/"), connection.app_key, connection.shop_id)
        if app_secret or before != after:
            _forget_token(connection)
            connection.stopped_reason = ""
        _check(connection)
        connection.save()
    return connection


def douyin_token_obtain(connection: Connection, *, client_factory=None) -> Connection:
    """Obtain and store the shop's first access token now (the operator's connection_add). Raises
    SessionExpired when the platform refuses the app key, secret or shop id."""
    from sync.marketplaces import client_for

    client = (client_factory or client_for)(connection)
    tokens.token_obtain(client)
    connection.refresh_from_db()
    return connection
