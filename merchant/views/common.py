"""Helpers every back-office view uses: membership, merchant scoping, paging, service errors."""
from functools import wraps

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.paginator import Paginator
from django.http import HttpResponseNotAllowed
from django.shortcuts import get_object_or_404

from merchant.models import Batch, Customer, GroupPrice, Order, Product
from merchant.permissions import Action, Actor, role_allows


def merchant_view(action: Action = Action.VIEW, methods=("GET",)):
    """Require login, a merchant membership and a role allowing the action; set request.merchant/actor."""

    def decorator(view):
        @login_required
        @wraps(view)
        def wrapper(request, *args, **kwargs):
            membership = getattr(request.user, "membership", None)
            if membership is None or not membership.merchant.is_active:
                raise PermissionDenied("No merchant account.")
            if request.method not in methods:
                return HttpResponseNotAllowed(methods)
            if not role_allows(membership.role, action):
                raise PermissionDenied(f"Role {membership.role} may not {action.value}.")
            request.merchant = membership.merchant
            request.actor = Actor.for_user(request.user)
            return view(request, *args, **kwargs)

        return wrapper

    return decorator


def get_product_for_user(request, pk) -> Product:
    return get_object_or_404(Product, merchant=request.merchant, pk=pk)


def get_order_for_user(request, pk) -> Order:
    return get_object_or_404(Order, merchant=request.merchant, pk=pk)


def get_batch_for_user(request, product, pk) -> Batch:
    return get_object_or_404(Batch, product=product, pk=pk)


def get_group_price_for_user(request, product, pk) -> GroupPrice:
    return get_object_or_404(GroupPrice, product=product, pk=pk)


def get_customer_for_user(request, pk) -> Customer:
    from merchant.selectors import customers_for_merchant

    return get_object_or_404(customers_for_merchant(request.merchant), pk=pk)


def paginate(request, queryset, per_page=None):
    return Paginator(queryset, per_page or settings.PAGE_SIZE).get_page(request.GET.get("page"))


def form_error_from(form, error: ValidationError) -> None:
    """Put a service's ValidationError on the form: on the named field when the form has it."""
    if hasattr(error, "error_dict"):
        for field, errors in error.error_dict.items():
            form.add_error(field if field in form.fields else None, errors)
    else:
        form.add_error(None, error)


def flash_errors(request, error: ValidationError) -> None:
    for message in error.messages:
        messages.error(request, message)


def querystring_without_page(request) -> str:
    params = request.GET.copy()
    params.pop("page", None)
    return params.urlencode()


def confirm_first(request, *, title: str, message: str, button: str, back: str, danger: bool = True):
    """A page asking before a big step: the same POST again with confirmed=1 does it. None once confirmed."""
    from django.shortcuts import render

    if request.POST.get("confirmed") == "1":
        return None
    return render(request, "confirm.html", {"title": title, "message": message, "button": button, "back": back,
                                            "danger": danger, "fields": reposted_fields(request),
                                            "action": request.path})


def reposted_fields(request) -> list[tuple[str, str]]:
    """The POST's own fields, for a confirm page to send the same request again (with confirmed=1)."""
    return [(k, v) for k in request.POST if k not in ("csrfmiddlewaretoken", "confirmed")
            for v in request.POST.getlist(k)]
