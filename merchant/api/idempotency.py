"""Idempotency keys on writes (SPEC A3): the same key and request get the same answer and no second effect.

The key is claimed by inserting its record inside the write's transaction. A retry that arrives while the
first request is still running waits on the unique index and then gets the stored answer; a request that
fails (4xx, 5xx) rolls its claim back, so the key can be used again once the request is fixed.
"""
import hashlib
import json
import re
from datetime import timedelta
from functools import wraps

from django.db import IntegrityError, transaction
from django.http import JsonResponse
from django.utils import timezone
from django.utils.translation import gettext as _

from merchant.models import IdempotencyRecord

from .auth import ApiError

HEADER = "Idempotency-Key"
KEY = re.compile(r"^[\x21-\x7e]{1,100}$")
KEEP = timedelta(hours=24)


class _Unsuccessful(Exception):
    def __init__(self, response):
        self.response = response


def _request_hash(request) -> str:
    digest = hashlib.sha256()
    for part in (request.method, request.get_full_path(), request.body):
        digest.update(part if isinstance(part, bytes) else part.encode())
        digest.update(b"\n")
    return digest.hexdigest()


def _replay(record: IdempotencyRecord, request_hash: str) -> JsonResponse:
    if record.request_hash != request_hash:
        raise ApiError(422, "idempotency_key_reused",
                       _("this Idempotency-Key was already used for a different request"))
    response = JsonResponse(record.response, status=record.status)
    response["Idempotent-Replayed"] = "true"
    return response


def idempotent(view):
    """Wrap a write view (after authentication): honour the Idempotency-Key header when one is sent."""
    @wraps(view)
    def wrapper(request, *args, **kwargs):
        key = request.headers.get(HEADER)
        if key is None:
            return view(request, *args, **kwargs)
        if not KEY.match(key):
            raise ApiError(400, "bad_idempotency_key", _("%(header)s must be 1-100 printable ASCII characters") % {
                "header": HEADER})
        merchant = request.api_credential.merchant
        request_hash = _request_hash(request)
        stored = IdempotencyRecord.objects.filter(merchant=merchant, key=key).first()
        if stored is not None:
            return _replay(stored, request_hash)
        try:
            with transaction.atomic():
                record = IdempotencyRecord.objects.create(
                    merchant=merchant, key=key, request_hash=request_hash, status=0, response={},
                    created_at=timezone.now())
                response = view(request, *args, **kwargs)
                if not 200 <= response.status_code < 300:
                    raise _Unsuccessful(response)
                record.status, record.response = response.status_code, json.loads(response.content)
                record.save(update_fields=["status", "response"])
        except _Unsuccessful as failed:
            return failed.response
        except IntegrityError:
            # Another request with this key committed first (we waited for it on the unique index).
            stored = IdempotencyRecord.objects.filter(merchant=merchant, key=key).first()
            if stored is None:
                raise
            return _replay(stored, request_hash)
        return response
    return wrapper


def idempotency_purge(now=None) -> int:
    """Keys are honoured for KEEP: an ERP retries within minutes, not days."""
    now = now or timezone.now()
    return IdempotencyRecord.objects.filter(created_at__lt=now - KEEP).delete()[0]
