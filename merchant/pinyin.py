"""Pinyin of product names, so a merchant can find 感冒灵颗粒 by typing `gmlkl` or `ganmao`.

Product.name_pinyin holds "<full pinyin> <initials>" in lower case without spaces inside either part (so a
query without spaces never matches across the two), or "" for a name without Chinese characters (the name
search finds those already). It is written wherever a product's name is written: Product.save() and the bulk
paths (imports, ERP, Open API, demo data) through with_name_pinyin().
"""
import re

from pypinyin import Style, lazy_pinyin

_HAN = re.compile(r"[\u3400-\u9fff\uf900-\ufaff]")
_NOT_ALNUM = re.compile(r"[^0-9a-z]+")


def _squeeze(parts: list[str]) -> str:
    return _NOT_ALNUM.sub("", "".join(parts).lower())


def name_pinyin(name: str) -> str:
    if not name or not _HAN.search(name):
        return ""
    full = _squeeze(lazy_pinyin(name, errors="default"))
    initials = _squeeze(lazy_pinyin(name, style=Style.FIRST_LETTER, errors="default"))
    return f"{full} {initials}"


def pinyin_query(q: str) -> str | None:
    """What to look for in name_pinyin, or None when the text cannot be pinyin (it has no Latin letter, or
    characters other than letters, digits, spaces and apostrophes: `gan'mao` and `gan mao` are `ganmao`)."""
    text = q.strip().lower()
    if not re.fullmatch(r"[0-9a-z' ]+", text) or not re.search(r"[a-z]", text):
        return None
    return _NOT_ALNUM.sub("", text)


def with_name_pinyin(products) -> list:
    """Set name_pinyin on products about to be bulk-written (bulk_create and friends skip save())."""
    products = list(products)
    for product in products:
        product.name_pinyin = name_pinyin(product.name)
    return products
