"""Open API views: JSON in, JSON out, errors as {"error": {"code", "message"}} with stable codes."""
from functools import wraps

from django.core.exceptions import RequestDataTooBig
from django.http import JsonResponse
from django.utils import translation
from django.utils.translation import gettext as _
from django.views.decorators.csrf import csrf_exempt

from .auth import ApiError, authenticate
from .idempotency import idempotent
from .language import api_language
from .rate_limit import rate_limit_check
from .requests import body_size_check


def api_view(methods: tuple[str, ...], write: bool = False, params: tuple[str, ...] = ()):
    """Authenticate, check the method, the query parameters (only `params` are known; any other is refused, on
    every endpoint, so a misspelt filter never silently returns everything), the key's rate and the body size,
    honour Idempotency-Key on writes, and turn ApiError into its JSON answer. Every message, of the request as a
    whole and of each item, is in the language api_language() picks."""
    def decorate(view):
        inner = idempotent(view) if write else view

        @csrf_exempt  # signed requests, no browser session or cookie is involved
        @wraps(view)
        def wrapper(request, *args, **kwargs):
            with translation.override(api_language(request)):
                try:
                    if request.method not in methods:
                        raise ApiError(405, "method_not_allowed", _("use %(methods)s") % {
                            "methods": " / ".join(methods)})
                    body_size_check(request)
                    request.api_credential = authenticate(request)
                    rate_limit_check(request.api_credential)
                    unknown_parameters_check(request, params)
                    return inner(request, *args, **kwargs)
                except RequestDataTooBig:
                    return error_response(ApiError(413, "body_too_large", _("the body is larger than allowed")))
                except ApiError as error:
                    return error_response(error)
        wrapper.api_params = params
        return wrapper
    return decorate


def unknown_parameters_check(request, known: tuple[str, ...]) -> None:
    unknown = sorted(set(request.GET) - set(known))
    if unknown:
        raise ApiError(400, "unknown_parameter", _("unknown query parameter(s): %(names)s") % {
            "names": ", ".join(unknown)})


def error_response(error: ApiError) -> JsonResponse:
    response = JsonResponse({"error": {"code": error.code, "message": error.message}}, status=error.status)
    if error.retry_after is not None:
        response["Retry-After"] = str(error.retry_after)
    return response


@csrf_exempt  # answers only; nothing is read or written
def not_found(request, *args, **kwargs):
    """Any /api/ path no endpoint serves: the JSON error envelope, not the back office's HTML page."""
    with translation.override(api_language(request)):
        return error_response(ApiError(404, "not_found", _("no such endpoint: %(path)s (the endpoints are listed in "
                                                   "GET /api/v1/openapi.json)") % {"path": request.path}))


@api_view(("GET",))
def whoami(request):
    """Which merchant and key signed this request: the first call an ERP integrator makes."""
    credential = request.api_credential
    return JsonResponse({"merchant": credential.merchant.code, "key": credential.key})
