"""The language of every Open API message: English, unless the request's Accept-Language prefers Chinese.

Django's own choice does not fit an API: it falls back to the site's language (Chinese) for `*` or for a
language it does not serve, and it reads the session and cookie. Here the rule is the one docs/api.md states:
the supported language (Chinese: zh, zh-hans, zh-cn, zh-sg; English: en, en-*) with the highest q-value wins,
`*` stands for English, a tie goes to the one listed first, and anything else (no header, q=0 only, other
languages) means English.
"""
import re

ENGLISH, CHINESE = "en", "zh-hans"
_CHINESE = re.compile(r"^zh(-(hans|cn|sg|hans-cn|hans-sg))?$")
_ENGLISH = re.compile(r"^(en(-[a-z0-9]+)*|\*)$")


def api_language(request) -> str:
    return language_from_header(request.META.get("HTTP_ACCEPT_LANGUAGE", ""))


def language_from_header(header: str) -> str:
    best, best_q = ENGLISH, 0.0
    for part in header.split(","):
        tag, _, params = part.strip().partition(";")
        tag = tag.strip().lower()
        q = _quality(params)
        language = CHINESE if _CHINESE.match(tag) else ENGLISH if _ENGLISH.match(tag) else None
        if language is not None and q > best_q:
            best, best_q = language, q
    return best


def _quality(params: str) -> float:
    for param in params.split(";"):
        name, _, value = param.strip().partition("=")
        if name.strip().lower() == "q":
            try:
                q = float(value)
            except ValueError:
                return 0.0
            return q if 0.0 <= q <= 1.0 else 0.0
    return 1.0
