"""Who may do what (SPEC roles), checked by services and by views."""
from dataclasses import dataclass
from enum import Enum

from django.core.exceptions import PermissionDenied

from merchant.models import AuditSource, Role


class Action(str, Enum):
    VIEW = "view"
    EXPORT = "export"
    EDIT = "edit"  # products, prices, stock, batches, listing, customers, orders, imports
    SKU_SWITCH = "sku_switch"
    MODULE_SWITCH = "module_switch"
    USERS = "users"
    CONNECTIONS = "connections"
    API_CREDENTIALS = "api_credentials"
    SETTINGS = "settings"  # the merchant's own rules: exception clocks, notifications
    ROBOTS = "robots"  # the merchant's notification robots (webhook addresses and signing secrets)


ROLE_ACTIONS = {
    Role.OWNER: set(Action),
    Role.OPERATOR: {Action.VIEW, Action.EXPORT, Action.EDIT, Action.SKU_SWITCH},
    Role.VIEWER: {Action.VIEW, Action.EXPORT},
}


def role_allows(role: str | None, action: Action) -> bool:
    return role is not None and action in ROLE_ACTIONS.get(role, set())


@dataclass(frozen=True)
class Actor:
    """Who or what makes a change: recorded in the audit trail and checked against the role."""

    source: str
    user: object = None
    role: str | None = None

    @classmethod
    def for_user(cls, user) -> "Actor":
        membership = getattr(user, "membership", None)
        return cls(source=AuditSource.USER, user=user, role=membership.role if membership else None)

    @classmethod
    def system(cls, source: str = AuditSource.SYSTEM, user=None) -> "Actor":
        return cls(source=source, user=user)

    def require(self, action: Action) -> None:
        """Raise PermissionDenied when a person's role does not allow the action.

        Programs (import, ERP, API, marketplace, system) were authorised where they came in.
        """
        if self.source == AuditSource.USER and not role_allows(self.role, action):
            raise PermissionDenied(f"Role {self.role!r} may not {action.value}.")
