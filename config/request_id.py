"""One id per request, carried into the log lines it causes and into the RQ jobs it enqueues.

The web side keeps it in a context variable (set by RequestIdMiddleware, one per request); a job carries it in
its `meta` (set by config.rq_queue.RequestIdQueue when the job is enqueued), and a worker's log lines read it
from the job that is running. A job enqueued by another job inherits the id of the request that started the
chain."""
import contextvars
import logging
import re
import uuid

from rq import get_current_job

HEADER = "X-Request-Id"
META_KEY = "request_id"
# An id from the proxy is kept only when it looks like one: it is copied into logs and a response header.
_ACCEPTED = re.compile(r"^[A-Za-z0-9._:-]{1,128}$")

_current: contextvars.ContextVar[str | None] = contextvars.ContextVar("request_id", default=None)


def current_request_id() -> str | None:
    """The id of the request being served, else that of the job being run, else None."""
    value = _current.get()
    if value:
        return value
    job = get_current_job()
    return (job.meta or {}).get(META_KEY) if job is not None else None


class RequestIdMiddleware:
    """Take the proxy's X-Request-Id (or make one), expose it to logs and jobs, and return it in the answer."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        given = request.META.get("HTTP_X_REQUEST_ID", "")
        request_id = given if _ACCEPTED.match(given) else uuid.uuid4().hex
        request.request_id = request_id
        token = _current.set(request_id)
        try:
            response = self.get_response(request)
        finally:
            _current.reset(token)
        response[HEADER] = request_id
        return response


class RequestIdFilter(logging.Filter):
    """Give every record a `request_id` attribute (None outside a request or job) for the formatters."""

    def filter(self, record: logging.LogRecord) -> bool:
        if not hasattr(record, "request_id"):
            record.request_id = current_request_id()
        return True
