"""A request id (the proxy's X-Request-Id, or a new one) is returned in the answer, stamped on the jobs the
request enqueues, and named in the log lines of those jobs; LOG_FORMAT=json writes one object per line."""
import io
import json
import logging

import django_rq
import pytest
import rq
from django.http import HttpResponse
from django.test import RequestFactory

from config.log_json import JsonFormatter
from config.request_id import META_KEY, RequestIdFilter, RequestIdMiddleware, current_request_id

log = logging.getLogger("tests.request_id")


def job_that_logs():
    """An RQ job: logs one line and returns the request id it sees."""
    log.info("job ran")
    return current_request_id()


def job_that_enqueues():
    """An RQ job that enqueues another one, as a pull enqueues follow-up work."""
    django_rq.get_queue("default").enqueue(job_that_logs)


@pytest.fixture
def queue():
    found = django_rq.get_queue("default")
    found.empty()
    yield found
    found.empty()


@pytest.fixture
def json_lines():
    """What the console handler writes with LOG_FORMAT=json, for the tests' logger."""
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(JsonFormatter())
    handler.addFilter(RequestIdFilter())
    log.addHandler(handler)
    log.setLevel(logging.INFO)
    yield lambda: [json.loads(line) for line in stream.getvalue().splitlines()]
    log.removeHandler(handler)


def _serve(view, **headers):
    return RequestIdMiddleware(view)(RequestFactory().get("/", **headers))


def test_the_proxys_request_id_is_kept_and_returned():
    response = _serve(lambda request: HttpResponse(request.request_id), HTTP_X_REQUEST_ID="abc-123")
    assert response["X-Request-Id"] == "abc-123" and response.content == b"abc-123"


def test_a_missing_or_odd_request_id_is_replaced_by_a_new_one():
    first = _serve(lambda request: HttpResponse())["X-Request-Id"]
    odd = _serve(lambda request: HttpResponse(), HTTP_X_REQUEST_ID="a b\r\nSet-Cookie: x")["X-Request-Id"]
    assert len(first) == 32 and len(odd) == 32 and first != odd
    assert current_request_id() is None  # nothing leaks past the request


def test_the_id_is_on_every_line_logged_while_serving(json_lines):
    def view(request):
        log.warning("serving %s", "page")
        return HttpResponse()

    _serve(view, HTTP_X_REQUEST_ID="req-1")
    log.info("after")
    lines = json_lines()
    assert lines[0]["message"] == "serving page" and lines[0]["request_id"] == "req-1"
    assert lines[0]["level"] == "WARNING" and lines[0]["logger"] == "tests.request_id" and lines[0]["time"]
    assert lines[1]["request_id"] is None


def test_a_job_enqueued_by_a_request_logs_with_its_id(queue, json_lines, django_capture_on_commit_callbacks, db):
    def view(request):
        queue.enqueue(job_that_logs)
        return HttpResponse()

    with django_capture_on_commit_callbacks(execute=True):
        _serve(view, HTTP_X_REQUEST_ID="req-42")
    (job,) = queue.get_jobs()
    assert job.meta[META_KEY] == "req-42"

    rq.SimpleWorker([queue], connection=queue.connection).work(burst=True)
    job.refresh()
    assert job.return_value() == "req-42"
    assert {"message": "job ran", "request_id": "req-42"}.items() <= json_lines()[-1].items()


def test_a_job_enqueued_by_a_job_inherits_the_request_id(queue, django_capture_on_commit_callbacks, db):
    with django_capture_on_commit_callbacks(execute=True):  # django_rq enqueues when the transaction commits
        queue.enqueue(job_that_enqueues, meta={META_KEY: "req-9"})
    (parent,) = queue.get_jobs()
    with django_capture_on_commit_callbacks(execute=True):  # the child is enqueued after the parent's run
        rq.SimpleWorker([queue], connection=queue.connection).work(burst=True)
    parent.refresh()
    assert parent.get_status() == "finished"
    (child,) = queue.get_jobs()
    assert child.func_name.endswith("job_that_logs") and child.meta[META_KEY] == "req-9"


def test_a_job_enqueued_outside_a_request_has_no_id(queue):
    job = queue.enqueue(job_that_logs)  # no database in this test, so django_rq enqueues at once
    assert META_KEY not in job.meta


def test_a_traceback_stays_on_one_line():
    try:
        raise ValueError("boom")
    except ValueError:
        record = logging.LogRecord("x", logging.ERROR, __file__, 1, "failed\nbadly", (), __import__("sys").exc_info())
    line = JsonFormatter().format(record)
    assert "\n" not in line
    entry = json.loads(line)
    assert entry["message"] == "failed\nbadly" and "ValueError: boom" in entry["exc"]
