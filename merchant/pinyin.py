"""Pinyin of product names, so a merchant can find 感冒灵颗粒 by typing `gmlkl`, `gml` or `ganmao`.

Product.name_pinyin holds " gan mao ling ke li#gmlkl": each syllable after a space, then "#" and the initials,
all in lower case; "" for a name without Chinese characters (the name search finds those already). A search
matches syllables from a syllable's start (`ganmao` does not find 红霉素, hon*gm*eisu) and initials anywhere in
the initials. It is written wherever a product's name is written: Product.save() and the bulk paths
(imports, ERP, Open API, demo data) through with_name_pinyin().
"""
import re
import unicodedata
from functools import cache, lru_cache

from pypinyin import Style, lazy_pinyin

_HAN = re.compile(r"[\u3400-\u9fff\uf900-\ufaff]")
_NOT_ALNUM = re.compile(r"[^0-9a-z]+")
INITIALS_MARK = "#"
MAX_READINGS = 8  # ways to split a typed text into syllables ("fangan": fang an / fan gan); more is noise


def _token(part: str) -> str:
    return _NOT_ALNUM.sub("", part.lower())


# Remembered: pypinyin segments each name twice (syllables, initials), about 0.25 ms a name, and a catalogue
# repeats its names across specs and makers; an import of 100,000 products spent most of its apply here.
@lru_cache(maxsize=65536)
def name_pinyin(name: str) -> str:
    if not name or not _HAN.search(name):
        return ""
    syllables = [t for t in map(_token, lazy_pinyin(name, errors="default")) if t]
    initials = "".join(map(_token, lazy_pinyin(name, style=Style.FIRST_LETTER, errors="default")))
    return "".join(f" {s}" for s in syllables) + INITIALS_MARK + initials


@cache
def _syllables() -> frozenset[str]:
    """Every toneless pinyin syllable pypinyin knows (ü written v, as lazy_pinyin writes it), less the
    vowel-less interjections (n, m, ng, hm, hng), which would split any typed text in many noisy ways."""
    from pypinyin.pinyin_dict import pinyin_dict

    found = set()
    for readings in set(pinyin_dict.values()):
        for reading in readings.split(","):
            plain = unicodedata.normalize("NFKD", reading).replace("u\u0308", "v")
            found.add("".join(c for c in plain if c.isascii() and c.isalpha()))
    return frozenset(s for s in found if re.search("[aeiouv]", s))


@cache
def _syllable_prefixes() -> frozenset[str]:
    return frozenset(s[:i] for s in _syllables() for i in range(1, len(s) + 1))


def _readings(text: str) -> list[list[str]]:
    """Ways to split text into whole syllables, the last one possibly cut short (typing is not finished)."""
    results: list[list[str]] = []

    def walk(start: int, parts: list[str]) -> None:
        if len(results) >= MAX_READINGS:
            return
        rest = text[start:]
        if rest in _syllable_prefixes():
            results.append([*parts, rest])
        for end in range(len(text), start, -1):
            if text[start:end] in _syllables() and end < len(text):
                walk(end, [*parts, text[start:end]])

    walk(0, [])
    return results


def pinyin_patterns(q: str) -> tuple[list[str], str | None]:
    """What to look for in name_pinyin: (texts to contain, one per way of reading q as syllables; a regular
    expression for the initials, or None). Nothing when q cannot be pinyin (no Latin letter, or characters
    other than letters, digits, spaces and apostrophes: `gan'mao` and `gan mao` are read as `ganmao`)."""
    text = q.strip().lower()
    if not re.fullmatch(r"[0-9a-z' ]+", text) or not re.search(r"[a-z]", text):
        return [], None
    text = _NOT_ALNUM.sub("", text)
    contains = ["".join(f" {s}" for s in reading) for reading in _readings(text)]
    initials = f"{INITIALS_MARK}[0-9a-z]*{text}" if text.isalpha() else None
    return contains, initials


def with_name_pinyin(products) -> list:
    """Set name_pinyin on products about to be bulk-written (bulk_create and friends skip save())."""
    products = list(products)
    for product in products:
        product.name_pinyin = name_pinyin(product.name)
    return products
