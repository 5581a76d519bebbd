"""Secrets at rest (connection app secrets, session tokens, Open API secrets): Fernet (AES-128-CBC + HMAC-SHA256).

The key is FIELD_ENCRYPTION_KEY, or one derived from SECRET_KEY when that is unset. A value that cannot
be decrypted (the key changed) reads as empty, so the owner is asked to enter it again instead of the
page crashing.
"""
import base64
import hashlib

from cryptography.fernet import Fernet, InvalidToken
from django.conf import settings


def _fernet() -> Fernet:
    material = settings.FIELD_ENCRYPTION_KEY or settings.SECRET_KEY
    key = base64.urlsafe_b64encode(hashlib.sha256(f"merchant-hub-fields:{material}".encode()).digest())
    return Fernet(key)


def encrypt(plain: str) -> str:
    """The token for `plain` (empty stays empty)."""
    return _fernet().encrypt(plain.encode("utf-8")).decode("ascii") if plain else ""


def decrypt(token: str) -> str:
    """The plain text of `token`; empty when there is none or the key no longer opens it."""
    if not token:
        return ""
    try:
        return _fernet().decrypt(token.encode("ascii")).decode("utf-8")
    except (InvalidToken, ValueError):
        return ""
