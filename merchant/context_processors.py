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
    }
