"""What a merchant must never read on a page: internal values (SPEC quality bar "in the merchant's words").

`findings(html, chinese=...)` returns the suspicious snippets of a page's visible text: Python reprs of dicts,
lists and booleans, UTC offsets and microseconds, platform status codes such as WAIT_SELLER_SEND_GOODS, and
on Chinese pages English words outside the allow-list of proper names and units.
"""
import html as html_lib
import re

_HIDDEN = re.compile(r"<(script|style|textarea|template)\b.*?</\1>", re.S | re.I)
_TAG = re.compile(r"<[^>]+>")
_PATTERNS = {
    "dict or list repr": re.compile(r"[{\[]\s*'[^']*'\s*[:,\]]"),
    "Python constant": re.compile(r"(?<![\w-])(True|False|None)(?![\w-])"),
    "UTC offset": re.compile(r"\+00:00"),
    "microseconds": re.compile(r"\d{2}:\d{2}:\d{2}\.\d{3,}"),
    "status code": re.compile(r"(?<![\w/.-])[A-Z]{2,}(?:_[A-Z]+)+(?![\w/.-])"),
    "field code": re.compile(r"\b\w+\[[\w:]+\]"),
}
# Words a Chinese merchant reads as they are: names of systems, formats and units, and the demo's own names.
ALLOWED_ENGLISH = {
    "erp", "sku", "skus", "api", "top", "excel", "csv", "xlsx", "xls", "ods", "json", "url", "id", "ids",
    "taobao", "tmall", "douyin", "merchant", "hub", "https", "http", "www", "com", "cn", "open", "app", "key",
    "secret", "token", "hmac", "md", "sha", "gmt", "utc", "pdf", "qr", "sms", "wecom", "dingtalk", "feishu",
    "webhook", "sandbox", "demo", "owner", "operator", "viewer", "admin", "other", "kg", "ml", "mg", "pcs",
    "ems", "sf", "yto", "zto", "sto", "yunda", "jd", "ok", "oauth", "ip", "get", "post", "put", "patch",
    "delete", "accept", "language", "content", "type", "authorization", "bearer", "idempotency", "usd", "cny",
    "rmb", "rq", "redis", "bom", "gbk", "utf", "otc", "gmp", "gsp", "ean", "upc", "tmc", "rest", "router",
    "zh", "hans", "en", "english",
}
_ENGLISH_WORD = re.compile(r"(?<![\w@./-])[A-Za-z]{3,}(?![\w@./-])")


def visible_text(page: str) -> str:
    """The page as a person reads it: without scripts, styles and tags, entities decoded."""
    body = page.split("<body", 1)[-1]
    return html_lib.unescape(_TAG.sub(" ", _HIDDEN.sub(" ", body)))


def findings(page: str, *, chinese: bool, allowed: set[str] = frozenset()) -> list[str]:
    """Snippets of the page's visible text that show an internal value (empty when the page is clean)."""
    text = visible_text(page)
    found = []
    for name, pattern in _PATTERNS.items():
        for match in pattern.finditer(text):
            found.append(f"{name}: {text[max(0, match.start() - 30):match.end() + 30].strip()!r}")
    if chinese:
        words = {w for w in _ENGLISH_WORD.findall(text) if w.lower() not in ALLOWED_ENGLISH | allowed}
        found.extend(f"English on a Chinese page: {w!r}" for w in sorted(words))
    return found
