"""The queue class of every RQ queue (settings.RQ["QUEUE_CLASS"])."""
from django_rq.queues import DjangoRQ

from config.request_id import META_KEY, current_request_id


def _with_request_id(kwargs: dict) -> dict:
    request_id = current_request_id()
    if request_id and META_KEY not in (kwargs.get("meta") or {}):
        kwargs["meta"] = {**(kwargs.get("meta") or {}), META_KEY: request_id}
    return kwargs


class RequestIdQueue(DjangoRQ):
    """django_rq's queue (it still enqueues on commit) that stamps each job with the current request id, so no
    enqueue site has to pass it.

    enqueue_call takes the id before django_rq defers the enqueue to the commit, which may run after the request
    is answered; create_job covers the paths that do not pass through it (enqueue_at / enqueue_in)."""

    def enqueue_call(self, *args, **kwargs):
        return super().enqueue_call(*args, **_with_request_id(kwargs))

    def create_job(self, *args, **kwargs):
        return super().create_job(*args, **_with_request_id(kwargs))
