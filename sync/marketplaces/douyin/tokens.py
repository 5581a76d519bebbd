"""The Douyin access token of a connection: obtained once (a self-use app: /token/create with grant_type
authorization_self and the shop id), kept encrypted on the Connection (`session`, `refresh_token`,
`token_expires_at`), refreshed before it expires and when the platform says it has.

The platform's rules (op.jinritemai.com docs; /work/shared/reference/douyin-protocol.md "Tokens"): an access token
lives 7 days, its refresh token 14; refreshing more than an hour before expiry returns the same pair, within the
last hour a new one (the old token works one more hour). Two refreshes at once can collide (31012), so a refresh
holds a lock per connection (in Redis, not a database row lock: the call must not hold a database transaction
open, which on SQLite would lock the whole database for the length of an HTTP call): a second worker waits, then
finds the new token and uses it. Without Redis two refreshes may collide; the loser retries as for any 31012.
The PyPI package refreshes the same way ahead of expiry (minibear2021/doudian core.py `_access_token`).
"""
from datetime import timedelta

from django.utils import timezone

from sync.errors import (
    BusinessError,
    MalformedAnswer,
    Permanent,
    Retryable,
    SessionExpired,
)

REFRESH_BEFORE = timedelta(hours=1)
REFRESH_LOCK_SECONDS = 90


def _token_data(data) -> dict:
    if not isinstance(data, dict):
        raise MalformedAnswer("token answer lacks data", code="missing-field")
    for name in ("access_token", "refresh_token", "expires_in"):
        if data.get(name) in (None, ""):
            raise MalformedAnswer(f"token answer lacks data.{name}", code="missing-field")
    try:
        seconds = int(data["expires_in"])
    except (TypeError, ValueError):
        raise MalformedAnswer("token answer's data.expires_in is not a number", code="bad-field") from None
    if seconds <= 0:
        raise MalformedAnswer("token answer's data.expires_in is not positive", code="bad-field")
    return {"access_token": str(data["access_token"]), "refresh_token": str(data["refresh_token"]),
            "expires_in": seconds, "shop_id": str(data.get("shop_id") or "")}


def _store(connection, token: dict) -> None:
    connection.session = token["access_token"]
    connection.refresh_token = token["refresh_token"]
    connection.token_expires_at = timezone.now() + timedelta(seconds=token["expires_in"])
    fields = ["session_encrypted", "refresh_token_encrypted", "token_expires_at"]
    if token["shop_id"] and not connection.shop_id:
        connection.shop_id = token["shop_id"]
        fields.append("shop_id")
    if connection.pk:
        connection.save(update_fields=fields)


def _adopt(client, row) -> str:
    """Take the token as the database has it now into the client's connection object."""
    for name in ("session_encrypted", "refresh_token_encrypted", "token_expires_at", "shop_id"):
        setattr(client.connection, name, getattr(row, name))
    return row.session


def _expiring(connection, now=None) -> bool:
    expires = connection.token_expires_at
    return expires is None or expires - (now or timezone.now()) <= REFRESH_BEFORE


def token_obtain(client) -> None:
    """A self-use app's first token for the connection's shop (connection_add); saved when the connection is.
    Raises SessionExpired when the platform refuses (wrong app key, secret or shop id)."""
    connection = client.connection
    params = {"code": "", "grant_type": "authorization_self", "shop_id": connection.shop_id}
    try:
        token = client.call_with_retry("/token/create", params, read=_token_data)
    except (Permanent, BusinessError) as exc:
        raise SessionExpired(f"Douyin refused a token for shop {connection.shop_id}: {exc.args[0]}",
                             code=exc.code, request_id=exc.request_id) from exc
    _store(connection, token)


def token_fresh(client) -> str:
    """The access token to call with: refreshed first when it expires within the hour. A refresh that fails for
    a platform reason while the token still works leaves the token in use (the next call tries again)."""
    connection = client.connection
    if not _expiring(connection):
        return connection.session
    try:
        return token_refresh(client, stale=connection.session)
    except Retryable:
        if connection.token_expires_at and connection.token_expires_at > timezone.now():
            return connection.session
        raise


def token_refresh(client, *, stale: str) -> str:
    """A new access token in place of `stale`, stored on the connection; when another worker already replaced
    it, that one. Raises SessionExpired when the refresh token is refused (the seller must authorize again),
    Retryable when the platform failed."""
    from sync import redis as sync_redis
    from sync.models import Connection

    # Held across the call and released before anything is raised; it lapses on its own if a worker dies.
    with sync_redis.connection().lock(f"mh:douyin:token:{client.connection.pk}", timeout=REFRESH_LOCK_SECONDS,
                                      blocking_timeout=REFRESH_LOCK_SECONDS):
        row = Connection.objects.get(pk=client.connection.pk)
        if row.session != stale and not _expiring(row):
            return _adopt(client, row)
        refresh_token = row.refresh_token
        if not refresh_token and not row.shop_id:
            raise SessionExpired("the Douyin connection has no refresh token; add the shop again",
                                 code="no-refresh-token")
        # A self-use app's shop added in the back office has no token yet: the first call obtains one (on a
        # worker: the web request that saved the connection makes no outbound call).
        path, params = ("/token/refresh", {"grant_type": "refresh_token", "refresh_token": refresh_token}) \
            if refresh_token else ("/token/create", {"code": "", "grant_type": "authorization_self",
                                                     "shop_id": row.shop_id})
        try:
            token = client.call_with_retry(path, params, read=_token_data)
        except (Permanent, BusinessError) as exc:
            raise SessionExpired(f"Douyin refused the access token request ({path}): {exc.args[0]}", code=exc.code,
                                 request_id=exc.request_id) from exc
        _store(row, token)
        return _adopt(client, row)
