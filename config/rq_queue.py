"""The queue class of every RQ queue (settings.RQ["QUEUE_CLASS"])."""
from django_rq.queues import DjangoRQ

from config.request_id import META_KEY, current_request_id


class RequestIdQueue(DjangoRQ):
    """django_rq's queue (it still enqueues on commit) that stamps each job with the current request id.

    create_job is the one place every enqueue, enqueue_at/in and retry path goes through, so no enqueue site
    has to pass the id itself."""

    def create_job(self, *args, **kwargs):
        request_id = current_request_id()
        if request_id:
            meta = dict(kwargs.get("meta") or {})
            meta.setdefault(META_KEY, request_id)
            kwargs["meta"] = meta
        return super().create_job(*args, **kwargs)
