"""Receiver data as the sandbox sends it: encrypted and masked, plain only through /order/batchDecrypt.

Douyin's real cipher texts are opaque `#...#...` strings bound to the order they came with (the auth_id of
/order/batchDecrypt is the shop order id); the sandbox's are reversible base64 of the order id and the text,
so a decrypt with another order's auth_id fails as on the platform.
"""
import base64

PREFIX = "#DY#"


def encrypt(auth_id: str, text: str) -> str:
    raw = f"{auth_id}\n{text}".encode("utf-8")
    return PREFIX + base64.urlsafe_b64encode(raw).decode("ascii") + "#"


def decrypt(auth_id: str, cipher_text: str) -> str | None:
    """The plain text, or None when the cipher text is not one of ours or belongs to another order."""
    if not cipher_text.startswith(PREFIX) or not cipher_text.endswith("#"):
        return None
    try:
        owner, _sep, text = base64.urlsafe_b64decode(cipher_text[len(PREFIX):-1]).decode("utf-8").partition("\n")
    except (ValueError, UnicodeDecodeError):
        return None
    return text if owner == str(auth_id) else None


def mask_name(name: str) -> str:
    return name[:1] + "*" * max(1, len(name) - 1)


def mask_tel(tel: str) -> str:
    return tel[:3] + "****" + tel[-4:] if len(tel) >= 7 else "****"


def mask_detail(detail: str) -> str:
    return detail[:4] + "***"
