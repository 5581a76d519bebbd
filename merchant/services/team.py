"""Writes of a merchant's team: add a member, change a role, deactivate/reactivate, remove, set a password.

Every write is audited (entity "membership") in the same transaction. A merchant always keeps one active
owner: the rule is checked with the merchant's memberships locked, so two owners demoting each other at the
same moment cannot both succeed.
"""
from django.contrib.auth import get_user_model
from django.contrib.auth.password_validation import validate_password
from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from merchant.models import Membership, Role
from merchant.permissions import Action, Actor

from .audit import audit_changes

LAST_OWNER = gettext_lazy("A merchant needs at least one active owner.")


def _audit(member: Membership, actor: Actor, changes: dict) -> None:
    audit_changes(merchant_id=member.merchant_id, entity="membership", entity_id=member.pk, changes=changes,
                  actor=actor)


def _locked(member: Membership) -> Membership:
    """The membership again, with every membership of its merchant locked (the last-owner rule reads them)."""
    list(Membership.objects.select_for_update().filter(merchant_id=member.merchant_id).values_list("pk"))
    return Membership.objects.select_related("user").get(pk=member.pk)


def _other_active_owners(member: Membership) -> bool:
    return (Membership.objects.filter(merchant_id=member.merchant_id, role=Role.OWNER, user__is_active=True)
            .exclude(pk=member.pk).exists())


def _refuse_losing_last_owner(member: Membership) -> None:
    if member.role == Role.OWNER and member.user.is_active and not _other_active_owners(member):
        raise ValidationError(LAST_OWNER, code="last_owner")


def _refuse_self(member: Membership, actor: Actor, message: str) -> None:
    if actor.user is not None and member.user_id == actor.user.pk:
        raise ValidationError(message, code="self")


def member_add(*, merchant, actor: Actor, username: str, password: str, role: str = Role.VIEWER) -> Membership:
    """A new user in `merchant` with the given role (the form has validated name and password)."""
    actor.require(Action.USERS)
    with transaction.atomic():
        user = get_user_model().objects.create_user(username=username, password=password)
        member = Membership.objects.create(user=user, merchant=merchant, role=role)
        _audit(member, actor, {"member": ("", username), "role": ("", role)})
    return member


def member_role_set(*, member: Membership, actor: Actor, role: str) -> Membership:
    actor.require(Action.USERS)
    with transaction.atomic():
        locked = _locked(member)
        if locked.role == role:
            return locked
        if role != Role.OWNER:
            _refuse_losing_last_owner(locked)
        old, locked.role = locked.role, role
        locked.save(update_fields=["role"])
        _audit(locked, actor, {"role": (old, role)})
    return locked


def member_active_set(*, member: Membership, actor: Actor, active: bool) -> Membership:
    """Deactivate (the user can no longer log in; open sessions end at their next request) or reactivate."""
    actor.require(Action.USERS)
    with transaction.atomic():
        locked = _locked(member)
        if locked.user.is_active == active:
            return locked
        if not active:
            _refuse_self(locked, actor, _("You cannot deactivate yourself; ask another owner."))
            _refuse_losing_last_owner(locked)
        locked.user.is_active = active
        locked.user.save(update_fields=["is_active"])
        _audit(locked, actor, {"active": (not active, active)})
    return locked


def member_remove(*, member: Membership, actor: Actor) -> None:
    """Take the user out of the merchant. The account stays, deactivated and without a password, so the audit
    history keeps the name of who did what; the username is not reused."""
    actor.require(Action.USERS)
    with transaction.atomic():
        locked = _locked(member)
        _refuse_self(locked, actor, _("You cannot remove yourself; ask another owner."))
        _refuse_losing_last_owner(locked)
        user = locked.user
        _audit(locked, actor, {"member": (user.get_username(), "")})
        locked.delete()
        user.is_active = False
        user.set_unusable_password()
        user.save(update_fields=["is_active", "password"])


def member_password_set(*, member: Membership, actor: Actor, password: str) -> None:
    """Set a new password for another member (an owner's reset); Django's validators apply."""
    actor.require(Action.USERS)
    with transaction.atomic():
        locked = _locked(member)
        _refuse_self(locked, actor, _("Change your own password on the password page."))
        try:
            validate_password(password, locked.user)
        except ValidationError as exc:
            raise ValidationError({"password": exc.error_list}) from None
        locked.user.set_password(password)
        locked.user.save(update_fields=["password"])
        # The value is never written to the audit trail, only that it changed.
        _audit(locked, actor, {"password": ("", "******")})
