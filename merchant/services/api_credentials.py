"""Writes of Open API credentials: create (the secret is returned once, then only stored encrypted),
revoke, and rotate (both at once)."""
import secrets as token

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from merchant.models import ApiCredential
from merchant.permissions import Action, Actor


def api_credential_create(*, merchant, actor: Actor, name: str = "") -> tuple[ApiCredential, str]:
    """A new key for `merchant`; returns it with its secret, which is never shown again."""
    actor.require(Action.API_CREDENTIALS)
    secret = token.token_urlsafe(32)
    credential = ApiCredential(merchant=merchant, name=name[:100], key=f"mh_{token.token_hex(16)}",
                               created_by=actor.user)
    credential.secret = secret
    credential.save()
    return credential, secret


def api_credential_revoke(*, credential: ApiCredential, actor: Actor) -> None:
    actor.require(Action.API_CREDENTIALS)
    ApiCredential.objects.filter(pk=credential.pk, revoked_at__isnull=True).update(revoked_at=timezone.now())


def api_credential_rotate(*, credential: ApiCredential, actor: Actor) -> tuple[ApiCredential, str]:
    """A new key with the same name, and `credential` revoked, together; returns the new key and its secret.

    The old key stops working at once: rotation is for a secret that may have leaked. An owner who wants both
    keys to work during a switch-over creates a second key and revokes the first one later instead."""
    actor.require(Action.API_CREDENTIALS)
    with transaction.atomic():
        locked = ApiCredential.objects.select_for_update().get(pk=credential.pk)
        if locked.revoked_at is not None:
            raise ValidationError(_("This key was already revoked; create a new key instead."))
        new, secret = api_credential_create(merchant=locked.merchant, actor=actor, name=locked.name)
        api_credential_revoke(credential=locked, actor=actor)
    return new, secret
