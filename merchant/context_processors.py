from merchant.permissions import Action, role_allows


def membership(request):
    """The current user's merchant and what their role allows, for the navigation and buttons."""
    m = getattr(getattr(request, "user", None), "membership", None) if request.user.is_authenticated else None
    role = m.role if m else None
    return {
        "membership": m,
        "can_edit": role_allows(role, Action.EDIT),
        "can_sku_switch": role_allows(role, Action.SKU_SWITCH),
        "can_module_switch": role_allows(role, Action.MODULE_SWITCH),
        "can_manage_users": role_allows(role, Action.USERS),
        "can_manage_connections": role_allows(role, Action.CONNECTIONS),
        "can_manage_api_keys": role_allows(role, Action.API_CREDENTIALS),
        "can_manage_settings": role_allows(role, Action.SETTINGS),
        "can_manage_robots": role_allows(role, Action.ROBOTS),
    }


class _Once:
    """A value computed on first use in a template and kept: the bell's count is one query, and none on a page
    that does not show it."""

    def __init__(self, compute):
        self._compute, self._done, self._value = compute, False, None

    def __call__(self):
        if not self._done:
            self._value, self._done = self._compute(), True
        return self._value


def notifications(request):
    """The bell's unread count for the signed-in member (one indexed query, capped at UNREAD_SHOWN_MAX)."""
    user = getattr(request, "user", None)
    m = getattr(user, "membership", None) if user is not None and user.is_authenticated else None
    if m is None:
        return {}
    from merchant.selectors import notifications_unread_count

    return {"unread_notifications": _Once(lambda: notifications_unread_count(user, m.merchant_id))}
