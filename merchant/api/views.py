"""Open API views: JSON in, JSON out, errors as {"error": {"code", "message"}} with stable codes."""
from functools import wraps

from django.http import JsonResponse
from django.views.decorators.csrf import csrf_exempt

from .auth import ApiError, authenticate


def api_view(methods: tuple[str, ...]):
    """Authenticate, check the method, and turn ApiError into its JSON answer."""
    def decorate(view):
        @csrf_exempt  # signed requests, no browser session or cookie is involved
        @wraps(view)
        def wrapper(request, *args, **kwargs):
            try:
                if request.method not in methods:
                    raise ApiError(405, "method_not_allowed", f"use {' or '.join(methods)}")
                request.api_credential = authenticate(request)
                return view(request, *args, **kwargs)
            except ApiError as error:
                return JsonResponse({"error": {"code": error.code, "message": error.message}}, status=error.status)
        return wrapper
    return decorate


@api_view(("GET",))
def whoami(request):
    """Which merchant and key signed this request: the first call an ERP integrator makes."""
    credential = request.api_credential
    return JsonResponse({"merchant": credential.merchant.code, "key": credential.key})
