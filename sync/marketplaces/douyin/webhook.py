"""The callback URL Douyin POSTs its messages to (POST /hooks/douyin/; one URL per app, as the platform configures
it): verify, store each message once, answer, then let a job fetch what the messages name.

The platform's protocol (zsmhub/doudian-sdk message/doudian_message.go and message/doudian_sign.go;
minibear2021/doudian core.py `callback`): the body is a JSON array of {"tag", "msg_id", "data": "<JSON text>"}
with headers `app-id` (the app key) and `event-sign` = md5(app_key + body + app_secret); the answer must be
{"code": 0, "msg": "success"}, anything else and the platform delivers again later. The .NET SDK's samples
spell the id `msgId` and send `data` as an object: both are accepted.

A bad signature is refused with 403 and nothing is stored; a message seen before is answered success without
work (unique connection + msg_id). Secrets are never logged.
"""
import functools
import json
import logging
import uuid

from django.conf import settings
from django.db import transaction
from django.http import JsonResponse
from django.utils import timezone
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_POST

from .signing import event_sign_matches

log = logging.getLogger(__name__)

SUCCESS = {"code": 0, "msg": "success"}
# Tags naming an order we fetch: order created / paid / shipped / finished / cancelled / amount or address changed,
# and every after-sale tag (2xx; the order detail carries each line's after-sale state). Tag "0" is the
# platform's check when the URL is configured: answered, not stored.
ORDER_TAGS = {"100", "101", "102", "103", "105", "106", "108", "110", "113", "114"}


def _refuse(status: int, text: str) -> JsonResponse:
    return JsonResponse({"code": status, "msg": text}, status=status)


def _messages(body: bytes) -> list[dict] | None:
    try:
        payload = json.loads(body.decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError):
        return None
    if isinstance(payload, dict):
        payload = [payload]
    if not isinstance(payload, list):
        return None
    messages = []
    for item in payload:
        if not isinstance(item, dict):
            return None
        data = item.get("data")
        if isinstance(data, str):
            try:
                data = json.loads(data) if data else {}
            except json.JSONDecodeError:
                data = {}
        messages.append({"tag": str(item.get("tag") or "")[:16],
                         "msg_id": str(item.get("msg_id") or item.get("msgId") or "")[:64],
                         "data": data if isinstance(data, dict) else {}})
    return messages


def _order_no(tag: str, data: dict) -> str:
    if tag in ORDER_TAGS or tag.startswith("2"):
        value = data.get("p_id") or data.get("shop_order_id") or ""
        # An id must be digits; a float would already have lost digits.
        return str(value) if isinstance(value, (int, str)) and str(value).isdigit() else ""
    return ""


def _connection_for(connections: list, data: dict):
    if len(connections) == 1:
        return connections[0]
    shop_id = str(data.get("shop_id") or "")
    return next((c for c in connections if c.shop_id and c.shop_id == shop_id), None)


@csrf_exempt
@require_POST
def douyin_hook(request):
    from sync.models import Connection, ConnectionKind

    try:
        length = int(request.META.get("CONTENT_LENGTH") or 0)
    except ValueError:
        length = 0
    if length > settings.DOUYIN_HOOK_MAX_BYTES:
        return _refuse(413, "too large")
    body = request.body
    if len(body) > settings.DOUYIN_HOOK_MAX_BYTES:
        return _refuse(413, "too large")
    app_key = request.headers.get("app-id", "").strip()
    signature = request.headers.get("event-sign", "")
    if not app_key or not signature:
        return _refuse(403, "signature missing")
    candidates = list(Connection.objects.filter(kind=ConnectionKind.DOUYIN, app_key=app_key))
    # One app signs for all its shops; verifying with each connection's secret also covers a secret changed on one.
    verified = [c for c in candidates if event_sign_matches(app_key=app_key, secret=c.app_secret, body=body,
                                                            signature=signature)]
    if not verified:
        log.warning("douyin hook: refused a message for app %s (bad signature or unknown app)", app_key[:32])
        return _refuse(403, "invalid signature")
    messages = _messages(body)
    if messages is None:
        return _refuse(400, "not a message list")
    stored = _store(verified, messages)
    log.info("douyin hook: %s messages, %s new", len(messages), stored)
    return JsonResponse(SUCCESS)


def _store(connections: list, messages: list[dict]) -> int:
    from sync.models import PushedMessage

    now = timezone.now()
    new, touched = 0, set()
    with transaction.atomic():
        for message in messages:
            if not message["msg_id"] or message["tag"] in ("", "0"):
                continue
            connection = _connection_for(connections, message["data"])
            if connection is None:
                log.warning("douyin hook: message %s names shop %s, which no connection has", message["msg_id"],
                            str(message["data"].get("shop_id"))[:32])
                continue
            _row, created = PushedMessage.objects.get_or_create(
                connection=connection, msg_id=message["msg_id"],
                defaults={"tag": message["tag"], "order_no": _order_no(message["tag"], message["data"]),
                          "data": message["data"], "received_at": now})
            if created:
                new += 1
                touched.add(connection.pk)
        for connection_id in sorted(touched):
            transaction.on_commit(functools.partial(_enqueue, connection_id))
    return new


def _enqueue(connection_id: int) -> None:
    import django_rq

    from sync import jobs

    django_rq.get_queue("sync").enqueue(jobs.sync_pushed_messages, connection_id,
                                        job_id=f"pushed-{connection_id}-{uuid.uuid4().hex[:12]}",
                                        job_timeout=settings.SYNC_JOB_TIMEOUT)
