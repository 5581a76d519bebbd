from django.conf import settings
from django.core.files.uploadhandler import FileUploadHandler, StopUpload
from django.shortcuts import render
from django.template.defaultfilters import filesizeformat

from merchant.models import Membership


class MembershipMiddleware:
    """Load the signed-in user's membership together with its merchant in one query per request.

    Every back-office page needs both (scoping, role checks, the navigation); loaded lazily they cost two
    queries, a measurable share of a list page's time (bench/pages.py).
    """

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        user = getattr(request, "user", None)
        if user is not None and user.is_authenticated:
            membership = Membership.objects.select_related("merchant").filter(user=user).first()
            if membership is not None:
                user.membership = membership  # fills the reverse one-to-one cache; nothing is saved
        return self.get_response(request)


# The form's other fields (kind, CSRF token) and the multipart headers around the file.
UPLOAD_FORM_MARGIN = 64 * 1024


class UploadLimitHandler(FileUploadHandler):
    """Counts the file bytes of an upload as they arrive and stops reading past the limit: the body's
    Content-Length was within the margin above the limit, or absent (a chunked body)."""

    def __init__(self, request=None, *, limit: int):
        super().__init__(request)
        self.limit, self.received, self.exceeded = limit, 0, False

    def receive_data_chunk(self, raw_data, start):
        self.received += len(raw_data)
        if self.received > self.limit:
            self.exceeded = True
            # connection_reset: do not read the rest of the body either (Django would, to drain it).
            raise StopUpload(connection_reset=True)
        return raw_data

    def file_complete(self, file_size):
        return None  # the next handlers (memory or temporary file) build the file


class UploadLimitMiddleware:
    """Refuse an upload larger than IMPORT_MAX_BYTES (413) before its body is read and spooled to disk.

    Placed before CsrfViewMiddleware, whose process_view reads the whole form (request.POST) to find the token:
    a 260 MB body was received in full before the upload view refused it. Any multipart POST counts, since that
    is how a file is sent to any page (the imports, the admin's import of reference data)."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        return self.get_response(request)

    def process_view(self, request, view_func, view_args, view_kwargs):
        # process_view rather than __call__: the user is loaded by then, so the refusal is a normal page.
        if request.method != "POST" or request.content_type != "multipart/form-data":
            return None
        limit = settings.IMPORT_MAX_BYTES
        try:
            declared = int(request.META.get("CONTENT_LENGTH") or 0)
        except ValueError:
            declared = 0
        if declared > limit + UPLOAD_FORM_MARGIN:
            return _upload_too_large(request, limit)
        handler = UploadLimitHandler(request, limit=limit)
        request.upload_handlers.insert(0, handler)
        request.FILES  # noqa: B018 - read the form now, so a body over the limit stops here rather than in CSRF
        if handler.exceeded:
            return _upload_too_large(request, limit)
        return None


def _upload_too_large(request, limit: int):
    return render(request, "413.html", {"max": filesizeformat(limit)}, status=413)
