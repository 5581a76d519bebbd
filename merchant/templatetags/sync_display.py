"""Showing what the sync engine recorded without leaking credentials.

Transport errors quote the request URL, and a TOP request carries the session token (and the signature)
in its query string, so any recorded error text may hold them: every such text passes through redact()
before it reaches a page or a flash message.
"""
import re

from django import template

register = template.Library()

# Query parameters that carry or derive from the credentials (TOP system parameters).
_CREDENTIAL_PARAM = re.compile(r"(?i)\b(session|sign|app_secret|secret|access_token)=[^&\s\"'<>)]+")


@register.filter
def redact(text):
    """`text` with the values of credential query parameters replaced by ***."""
    if not text:
        return text
    return _CREDENTIAL_PARAM.sub(lambda m: f"{m.group(1)}=***", str(text))
