"""Open API views: JSON in, JSON out, errors as {"error": {"code", "message"}} with stable codes."""
from functools import wraps

from django.core.exceptions import RequestDataTooBig
from django.http import JsonResponse
from django.utils import translation
from django.views.decorators.csrf import csrf_exempt

from .auth import ApiError, authenticate
from .idempotency import idempotent
from .requests import body_size_check


def api_view(methods: tuple[str, ...], write: bool = False):
    """Authenticate, check the method and body size, honour Idempotency-Key on writes, and turn ApiError
    into its JSON answer. Messages are in English unless the request asks otherwise (Accept-Language)."""
    def decorate(view):
        inner = idempotent(view) if write else view

        @csrf_exempt  # signed requests, no browser session or cookie is involved
        @wraps(view)
        def wrapper(request, *args, **kwargs):
            language = translation.get_language_from_request(request) if "HTTP_ACCEPT_LANGUAGE" in request.META \
                else "en"
            with translation.override(language):
                try:
                    if request.method not in methods:
                        raise ApiError(405, "method_not_allowed", f"use {' or '.join(methods)}")
                    body_size_check(request)
                    request.api_credential = authenticate(request)
                    return inner(request, *args, **kwargs)
                except RequestDataTooBig:
                    return _error(ApiError(413, "body_too_large", "the body is larger than allowed"))
                except ApiError as error:
                    return _error(error)
        return wrapper
    return decorate


def _error(error: ApiError) -> JsonResponse:
    return JsonResponse({"error": {"code": error.code, "message": error.message}}, status=error.status)


@api_view(("GET",))
def whoami(request):
    """Which merchant and key signed this request: the first call an ERP integrator makes."""
    credential = request.api_credential
    return JsonResponse({"merchant": credential.merchant.code, "key": credential.key})
