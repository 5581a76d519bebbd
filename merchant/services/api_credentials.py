"""Writes of Open API credentials: create (the secret is returned once, then only stored encrypted)
and revoke."""
import secrets as token

from django.utils import timezone

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
