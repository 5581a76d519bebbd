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
