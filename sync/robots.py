"""Group-chat robots (SPEC M15): a notification as each vendor's documented message, signed where the robot
asks for it, sent through the one outbound layer (sync/http.py), and the vendor's answer read into an outcome.
docs/notifications.md cites the vendor documents each part follows.

- DingTalk custom robot: POST the webhook (…/robot/send?access_token=…) with {"msgtype": "markdown"}; a robot
  with "加签" wants `timestamp` (ms) and `sign` = urlencode(base64(HmacSHA256(key=secret,
  msg=f"{timestamp}\\n{secret}"))) added to the query. Answers {"errcode": 0, "errmsg": "ok"}.
- WeCom group robot: POST the webhook (…/cgi-bin/webhook/send?key=…) with {"msgtype": "markdown"}; content at
  most 4096 bytes; no signing. Answers {"errcode": 0, "errmsg": "ok"}.
- Feishu custom bot: POST the webhook (…/open-apis/bot/v2/hook/…) with {"msg_type": "post"}; with signature
  verification on, the body carries `timestamp` (s) and `sign` = base64(HmacSHA256(key=f"{timestamp}\\n{secret}",
  msg=b"")). Answers {"code": 0, "msg": "success"} (older robots: {"StatusCode": 0, ...}).

Every vendor answers HTTP 200 with a non-zero code when it refuses a message: that is a failure, with the
vendor's own message. Their rate limits (20 messages a minute for DingTalk and WeCom, DingTalk then throttling
for 10 minutes) are retried later; a bad token, signature or keyword is not.
"""
import base64
import hashlib
import hmac
import json
import logging
import time
from dataclasses import dataclass
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from django.conf import settings
from django.utils.translation import gettext as _

from merchant.models import RobotKind
from merchant.models.notifications import webhook_token

from . import http
from .errors import MalformedAnswer, Permanent, RateLimited, Retryable

log = logging.getLogger(__name__)

MAX_ANSWER_BYTES = 64 * 1024
WECOM_MARKDOWN_MAX_BYTES = 4096
TEXT_MAX_CHARS = 3000
# Vendor codes that mean "later": DingTalk's "send too fast" (130101, and 410100 in its current list), WeCom's
# "api freq out of limit" (45009), Feishu's "frequency limited" (11232); -1 is "system busy" for all of them.
RATE_LIMIT_CODES = {RobotKind.DINGTALK: {130101, 410100}, RobotKind.WECOM: {45009}, RobotKind.FEISHU: {11232}}
BUSY_CODES = {-1}
# How long a rate-limited robot waits: DingTalk throttles a robot for 10 minutes past its limit.
RATE_LIMIT_WAIT = {RobotKind.DINGTALK: 600, RobotKind.WECOM: 60, RobotKind.FEISHU: 60}


@dataclass(frozen=True)
class Message:
    """What a robot posts: a title line, plain-text lines, and the back-office address to act at (maybe "")."""

    title: str
    lines: tuple[str, ...]
    link: str = ""
    link_text: str = ""


def absolute_link(path: str) -> str:
    """The page at `path` on this site, or "" when SITE_URL is not set (a robot cannot follow a bare path)."""
    return f"{settings.SITE_URL}{path}" if settings.SITE_URL and path else ""


def message_for(*, title: str, body: str, path: str, event_label: str = "") -> Message:
    lines = tuple(line for line in (body or "").splitlines() if line.strip())
    heading = f"{event_label}: {title}" if event_label else title
    return Message(title=heading, lines=lines, link=absolute_link(path), link_text=_("Open in Merchant Hub"))


def test_message() -> Message:
    return Message(title=_("Merchant Hub test message"),
                   lines=(_("This robot is set up: notifications you switched on for it will appear here."),),
                   link=absolute_link("/notifications/"), link_text=_("Open in Merchant Hub"))


# --- signatures (the vendors' documented algorithms) ------------------------------------------------------------


def dingtalk_sign(secret: str, timestamp_ms: int) -> str:
    """base64(HmacSHA256(key=secret, msg=f"{timestamp}\\n{secret}")), before URL encoding."""
    digest = hmac.new(secret.encode("utf-8"), f"{timestamp_ms}\n{secret}".encode("utf-8"), hashlib.sha256).digest()
    return base64.b64encode(digest).decode("ascii")


def feishu_sign(secret: str, timestamp_s: int) -> str:
    """base64(HmacSHA256(key=f"{timestamp}\\n{secret}", msg=b"")): Feishu keys the HMAC with the string to sign."""
    digest = hmac.new(f"{timestamp_s}\n{secret}".encode("utf-8"), b"", hashlib.sha256).digest()
    return base64.b64encode(digest).decode("ascii")


def _with_query(url: str, extra: dict) -> str:
    parts = urlsplit(url)
    query = parse_qsl(parts.query, keep_blank_values=True) + list(extra.items())
    return urlunsplit((parts.scheme, parts.netloc, parts.path, urlencode(query), parts.fragment))


# --- messages -------------------------------------------------------------------------------------------------------


def _markdown(message: Message) -> str:
    text = "\n\n".join([f"#### {message.title}", *message.lines])
    if message.link:
        text += f"\n\n[{message.link_text}]({message.link})"
    return text


def _cut_bytes(text: str, limit: int) -> str:
    data = text.encode("utf-8")
    if len(data) <= limit:
        return text
    return data[:limit - 3].decode("utf-8", errors="ignore") + "…"


def dingtalk_request(url: str, secret: str, message: Message, *, now_ms: int) -> tuple[str, dict]:
    body = {"msgtype": "markdown", "markdown": {"title": message.title, "text": _markdown(message)[:TEXT_MAX_CHARS]}}
    if secret:
        url = _with_query(url, {"timestamp": str(now_ms), "sign": dingtalk_sign(secret, now_ms)})
    return url, body


def wecom_request(url: str, message: Message) -> tuple[str, dict]:
    return url, {"msgtype": "markdown",
                 "markdown": {"content": _cut_bytes(_markdown(message), WECOM_MARKDOWN_MAX_BYTES)}}


def feishu_request(url: str, secret: str, message: Message, *, now_s: int, language: str = "") -> tuple[str, dict]:
    rows = [[{"tag": "text", "text": line[:TEXT_MAX_CHARS]}] for line in message.lines]
    if message.link:
        rows.append([{"tag": "a", "text": message.link_text, "href": message.link}])
    locale = "zh_cn" if (language or settings.LANGUAGE_CODE).startswith("zh") else "en_us"
    body = {"msg_type": "post", "content": {"post": {locale: {"title": message.title, "content": rows}}}}
    if secret:
        body = {"timestamp": str(now_s), "sign": feishu_sign(secret, now_s), **body}
    return url, body


def robot_request(channel, message: Message, *, now: float | None = None, language: str = "") -> tuple[str, dict]:
    """(address to POST, JSON body) for the channel's robot."""
    now = time.time() if now is None else now
    url, secret = channel.webhook_url, channel.secret
    if channel.kind == RobotKind.DINGTALK:
        return dingtalk_request(url, secret, message, now_ms=int(now * 1000))
    if channel.kind == RobotKind.WECOM:
        return wecom_request(url, message)
    return feishu_request(url, secret, message, now_s=int(now), language=language)


# --- sending and reading the answer ------------------------------------------------------------------------------


def webhook_url_problem(url: str) -> str:
    """Why a webhook address may not be called ("" when it may): the outbound layer's problems, or "https" for a
    plain-http address whose host is not on OUTBOUND_ALLOWED_HOSTS (only local test robots are)."""
    problem = http.url_problem(url)
    if problem:
        return problem
    parts = urlsplit(url.strip())
    if parts.scheme.lower() == "https":
        return ""
    host, port = (parts.hostname or ""), parts.port or 80
    return "" if any(entry.allows(host, port, None) or _allows_address(entry, host, port)
                     for entry in http.allow_list()) else "https"


def _allows_address(entry, host: str, port: int) -> bool:
    import ipaddress

    try:
        return entry.allows(host, port, ipaddress.ip_address(host))
    except ValueError:
        return False


def _vendor_text(value) -> str:
    """The vendor's message as one short line (it is shown to the owner, never run)."""
    text = " ".join(str(value or "").split())
    return text[:150]


def read_answer(kind: str, answer: http.Answer) -> None:
    """Return when the robot took the message; raise RateLimited / Retryable (later may work) or Permanent."""
    if answer.status == 429:
        seconds = answer.headers.get("Retry-After", "")
        raise RateLimited(_("the robot service asks to slow down (HTTP 429)"), code="HTTP 429",
                          seconds=float(seconds) if seconds.isdigit() else RATE_LIMIT_WAIT[kind])
    if answer.status >= 500:
        raise Retryable(_("the robot service failed (HTTP %(status)s)") % {"status": answer.status},
                        code=f"HTTP {answer.status}")
    if answer.status >= 400:
        raise Permanent(_("the robot service refused the request (HTTP %(status)s); check the robot's address")
                        % {"status": answer.status}, code=f"HTTP {answer.status}")
    try:
        body = json.loads(answer.body.decode("utf-8"))
    except (UnicodeDecodeError, ValueError):
        raise MalformedAnswer(_("the robot service answered something that is not JSON"), code="not-json") from None
    if not isinstance(body, dict):
        raise MalformedAnswer(_("the robot service answered something that is not JSON"), code="not-json")
    if kind == RobotKind.FEISHU:
        code, text = body.get("code", body.get("StatusCode")), body.get("msg", body.get("StatusMessage"))
    else:
        code, text = body.get("errcode"), body.get("errmsg")
    try:
        code = int(code)
    except (TypeError, ValueError):
        raise MalformedAnswer(_("the robot service's answer has no result code"), code="no-code") from None
    if code == 0:
        return
    words = {"code": code, "message": _vendor_text(text) or "-"}
    if code in RATE_LIMIT_CODES[kind]:
        raise RateLimited(_("the robot is sending too fast (code %(code)s: %(message)s)") % words,
                          code=str(code), seconds=RATE_LIMIT_WAIT[kind])
    if code in BUSY_CODES:
        raise Retryable(_("the robot service is busy (code %(code)s: %(message)s)") % words, code=str(code))
    raise Permanent(_("the robot refused the message (code %(code)s: %(message)s)") % words, code=str(code))


def robot_send(channel, message: Message, *, language: str = "") -> None:
    """Post `message` to the channel's robot; raises as read_answer does, and the outbound layer's errors (with
    fixed texts) for an address refused or a network failure. The address and its token are never logged."""
    problem = webhook_url_problem(channel.webhook_url)
    if problem:
        raise Permanent(_("the robot's address may not be called; enter it again"), code=f"bad-url-{problem}")
    url, body = robot_request(channel, message, language=language)
    answer = http.request_json("POST", url, headers={}, body=json.dumps(body, ensure_ascii=False).encode("utf-8"),
                               max_bytes=MAX_ANSWER_BYTES, redact=(webhook_token(channel.kind, url), channel.secret))
    read_answer(channel.kind, answer)
