"""The one outbound HTTP layer: a pooled requests session per process, and on every call

- a destination check at connect time: the host is resolved once, every address it resolves to is checked,
  and the socket connects to a checked address (no second lookup, so a name that rebinds between a check
  and the connect cannot pass). Loopback, private, link-local, shared (CGNAT), metadata and other
  non-public addresses are refused unless the host is on OUTBOUND_ALLOWED_HOSTS (or is the sandbox's own
  address while the sandbox is on);
- a total deadline (OUTBOUND_TOTAL_TIMEOUT) over connect, headers and body, enforced on every socket read,
  so a server dripping a byte at a time cannot hold a worker; the (connect, read) timeouts still apply;
- a size cap per connector on the answer, read streamed, so a huge answer is refused after at most
  `max_bytes` plus one chunk;
- no redirects: a 3xx answer is an error (a followed 307 would re-send the signed body elsewhere);
- fixed error texts: a status and a fixed reason, never the remote body or socket detail (which would tell
  a viewer whether a port is open). The detail goes to the log at DEBUG only, without query strings.

Why our own urllib3 connection classes: Advocate, the known requests wrapper doing this, is unmaintained and
pins urllib3 < 2 (we run urllib3 2), and the newer SSRF guards wrap httpx or the stdlib client, not requests.
Overriding `_new_conn` keeps everything else of urllib3 as is, including SNI and certificate checks for
https: TLS is set up on the socket we return, against the host name of the URL.
"""
import contextvars
import http.client
import io
import ipaddress
import logging
import re
import socket
import time
from dataclasses import dataclass, field
from urllib.parse import urlsplit

import requests
from django.conf import settings
from requests.adapters import HTTPAdapter
from urllib3.connection import HTTPConnection, HTTPSConnection
from urllib3.connectionpool import HTTPConnectionPool, HTTPSConnectionPool
from urllib3.exceptions import ConnectTimeoutError, NameResolutionError, NewConnectionError

from .errors import AddressRefused, MalformedAnswer, NetworkError, Permanent

log = logging.getLogger(__name__)

# (connect, read) seconds: a gateway that accepts but never answers must not hold a worker.
DEFAULT_TIMEOUT = (5.0, 30.0)
USER_AGENT = "merchant-hub-sync/1.0"
CHUNK_BYTES = 64 * 1024

# Fixed texts (English, like every recorded sync error); `code` is what pages and call records may show.
TEXT_REFUSED = "the address is on a local or private network and not on the allow-list"
TEXT_UNREACHABLE = "could not connect, or the connection broke"
TEXT_DEADLINE = "no complete answer within {seconds:g} s"
TEXT_TOO_LARGE = "the answer was larger than {limit} bytes"
TEXT_REDIRECT = "the gateway answered with a redirect; enter its final address"

_session: requests.Session | None = None
# The deadline (time.monotonic()) of the call running in this thread; the connection classes read it.
_deadline: contextvars.ContextVar[float | None] = contextvars.ContextVar("outbound_deadline", default=None)


# --- which destinations are allowed ------------------------------------------------------------------------------

# NAT64 prefixes embed an IPv4 address that the gateway would connect to.
_NAT64 = ipaddress.ip_network("64:ff9b::/96")


def address_refused(ip: ipaddress.IPv4Address | ipaddress.IPv6Address) -> bool:
    """True for every address that is not public unicast: loopback, private, link-local (169.254.169.254,
    the cloud metadata address), shared 100.64/10 (Alibaba Cloud's metadata 100.100.100.200), unspecified,
    reserved, multicast, and IPv6 forms that embed one of those."""
    if ip.version == 6:
        embedded = ip.ipv4_mapped or ip.sixtofour or (ip.teredo[1] if ip.teredo else None)
        if embedded is None and ip in _NAT64:
            embedded = ipaddress.IPv4Address(int(ip) & 0xFFFFFFFF)
        if embedded is not None:
            return address_refused(embedded)
    return ip.is_multicast or not ip.is_global


@dataclass(frozen=True)
class AllowEntry:
    """One OUTBOUND_ALLOWED_HOSTS entry: a host name, an address or a CIDR network, with an optional port."""

    name: str = ""
    network: ipaddress.IPv4Network | ipaddress.IPv6Network | None = None
    port: int | None = None

    @classmethod
    def parse(cls, text: str) -> "AllowEntry":
        """"erp.lan", "erp.lan:8080", "10.1.2.3", "10.1.2.3:80", "[::1]:8000", "::1", "10.0.0.0/8".
        Raises ValueError."""
        text = text.strip().lower()
        if "/" in text:
            return cls(network=ipaddress.ip_network(text, strict=False))
        port = None
        if text.startswith("["):
            host, _, rest = text[1:].partition("]")
            port = int(rest[1:]) if rest.startswith(":") else None
            return cls(network=ipaddress.ip_network(host), port=port)
        try:
            return cls(network=ipaddress.ip_network(text))
        except ValueError:
            pass
        if text.count(":") == 1:
            text, port_text = text.split(":")
            port = int(port_text)
        try:
            return cls(network=ipaddress.ip_network(text), port=port)
        except ValueError:
            if not text:
                raise
            return cls(name=text.rstrip("."), port=port)

    def allows(self, host: str, port: int, ip) -> bool:
        if self.port is not None and self.port != port:
            return False
        if self.network is not None:
            return ip is not None and ip.version == self.network.version and ip in self.network
        return host == self.name


def allow_list() -> list[AllowEntry]:
    """OUTBOUND_ALLOWED_HOSTS, plus the sandbox's own address while the sandbox is served. Entries that do
    not parse are skipped (and logged): a typo must not open anything."""
    texts = list(settings.OUTBOUND_ALLOWED_HOSTS)
    if settings.SANDBOX_ENABLED and settings.SANDBOX_ADDRESS:
        texts.append(settings.SANDBOX_ADDRESS)
    entries = []
    for text in texts:
        try:
            entries.append(AllowEntry.parse(text))
        except ValueError:
            log.warning("OUTBOUND_ALLOWED_HOSTS: cannot read %r; ignored", text)
    return entries


def destination_allowed(host: str, port: int, ip) -> bool:
    """May we connect to `ip` (None: not known yet) for the URL host `host` and `port`?"""
    host = host.lower().strip("[]").rstrip(".")
    if ip is not None and not address_refused(ip):
        return True
    return any(entry.allows(host, port, ip) for entry in allow_list())


def url_problem(url: str) -> str:
    """Why `url` may not be used as a gateway or bridge address ("" when it may), checked without a DNS
    lookup (names are checked when connecting): "scheme" (not http/https), "userinfo" (user:password@),
    "host" (none), "port" (unreadable) or "address" (a literal address or localhost name that is refused)."""
    try:
        parts = urlsplit(url.strip())
        port = parts.port
    except ValueError:
        return "port"
    if parts.scheme.lower() not in ("http", "https"):
        return "scheme"
    if "@" in parts.netloc:
        return "userinfo"
    host = (parts.hostname or "").rstrip(".")
    if not host:
        return "host"
    port = port or (443 if parts.scheme.lower() == "https" else 80)
    try:
        ip = ipaddress.ip_address(host)
    except ValueError:
        if host == "localhost" or host.endswith(".localhost"):
            ip = ipaddress.ip_address("127.0.0.1")
        else:
            return ""
    return "" if destination_allowed(host, port, ip) else "address"


# --- connections that check where they connect, and read against the deadline -----------------------------------


def _remaining() -> float | None:
    deadline = _deadline.get()
    return None if deadline is None else deadline - time.monotonic()


class _DeadlineReader(io.RawIOBase):
    """The socket as a raw stream whose every read waits at most until the call's deadline (and at most the
    read timeout), so headers and body dripped a byte at a time still end at the deadline."""

    def __init__(self, sock, deadline: float | None, socket_file):
        self._sock = sock
        self._deadline = deadline
        self._read_timeout = sock.gettimeout()
        # The file http.client made holds a reference that keeps the socket open after its connection is
        # closed (an answer with "Connection: close"), until the answer is read; closed with this reader.
        self._socket_file = socket_file

    def close(self) -> None:
        if not self.closed:
            self._socket_file.close()
        super().close()

    def readable(self) -> bool:
        return True

    def readinto(self, buffer) -> int:
        timeout = self._read_timeout
        if self._deadline is not None:
            remaining = self._deadline - time.monotonic()
            if remaining <= 0:
                raise _DeadlinePassed()
            timeout = remaining if timeout is None else min(timeout, remaining)
        self._sock.settimeout(timeout)
        try:
            return self._sock.recv_into(buffer)
        except TimeoutError:
            if self._deadline is not None and self._deadline - time.monotonic() <= 0:
                raise _DeadlinePassed() from None
            raise


class _DeadlinePassed(Exception):
    """Raised inside urllib3 / http.client: not an OSError, so nothing on the way wraps or retries it."""


class _DeadlineResponse(http.client.HTTPResponse):
    def __init__(self, sock, *args, **kwargs):
        super().__init__(sock, *args, **kwargs)
        self.fp = io.BufferedReader(_DeadlineReader(sock, _deadline.get(), self.fp))


class _GuardedConnectionMixin:
    response_class = _DeadlineResponse

    def _new_conn(self) -> socket.socket:
        host, port = self._dns_host, self.port
        try:
            infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
        except socket.gaierror as exc:
            raise NameResolutionError(self.host, self, exc) from exc
        for *_, sockaddr in infos:
            ip = ipaddress.ip_address(sockaddr[0].split("%")[0])
            if not destination_allowed(host, port, ip):
                log.debug("refused outbound connection to %s:%s (%s)", host, port, ip)
                raise AddressRefused(TEXT_REFUSED, code="address-refused")
        # getaddrinfo is bounded by the resolver's own timeouts; the connect (and the TLS handshake after it, read
        # by read) by the connect timeout, cut to what is left of the deadline.
        timeout = self.timeout if isinstance(self.timeout, (int, float)) else None
        remaining = _remaining()
        if remaining is not None:
            if remaining <= 0:
                raise _DeadlinePassed()
            timeout = remaining if timeout is None else min(timeout, remaining)
        error: OSError | None = None
        for family, kind, proto, _name, sockaddr in infos:
            sock = socket.socket(family, kind, proto)
            try:
                for option in self.socket_options or ():
                    sock.setsockopt(*option)
                sock.settimeout(timeout)
                if self.source_address:
                    sock.bind(self.source_address)
                sock.connect(sockaddr)  # the checked address itself: no second lookup
                return sock
            except TimeoutError as exc:
                sock.close()
                error = ConnectTimeoutError(self, f"connect timeout ({timeout})")
                error.__cause__ = exc
            except OSError as exc:
                sock.close()
                error = NewConnectionError(self, f"connect failed: {exc}")
        raise error or NewConnectionError(self, "no address to connect to")


class GuardedHTTPConnection(_GuardedConnectionMixin, HTTPConnection):
    pass


class GuardedHTTPSConnection(_GuardedConnectionMixin, HTTPSConnection):
    pass


class _GuardedHTTPPool(HTTPConnectionPool):
    ConnectionCls = GuardedHTTPConnection


class _GuardedHTTPSPool(HTTPSConnectionPool):
    ConnectionCls = GuardedHTTPSConnection


class GuardedAdapter(HTTPAdapter):
    def init_poolmanager(self, *args, **kwargs):
        super().init_poolmanager(*args, **kwargs)
        self.poolmanager.pool_classes_by_scheme = {"http": _GuardedHTTPPool, "https": _GuardedHTTPSPool}


def session() -> requests.Session:
    global _session
    if _session is None:
        s = requests.Session()
        s.headers["User-Agent"] = USER_AGENT
        # No proxies or .netrc from the environment: through a proxy the address check would only see the proxy.
        s.trust_env = False
        adapter = GuardedAdapter(pool_connections=8, pool_maxsize=16, max_retries=0)
        s.mount("http://", adapter)
        s.mount("https://", adapter)
        _session = s
    return _session


# --- calls ----------------------------------------------------------------------------------------------------------


@dataclass
class Answer:
    status: int
    body: bytes
    seconds: float
    # Only the headers a connector reads (Retry-After, X-Request-Id), not the whole set.
    headers: dict = field(default_factory=dict)


_QUERY = re.compile(r"\?[^\s'\")]*")


def _without_query(text: str) -> str:
    """Drop query strings from a log text: they may hold a session token or a signature."""
    return _QUERY.sub("?…", text)


def _send(method: str, url: str, *, max_bytes: int, timeout, redact: tuple[str, ...] = (), **kwargs) -> Answer:
    """One request under the deadline and the size cap; raises AddressRefused, Permanent (a redirect),
    MalformedAnswer (too large) or NetworkError, each with a fixed text. `redact`: secrets the URL carries outside
    its query string (a robot token in the path), left out of the log as query strings are."""
    started = time.monotonic()
    total = float(settings.OUTBOUND_TOTAL_TIMEOUT)
    token = _deadline.set(started + total)
    response = None
    try:
        problem = url_problem(url)
        if problem in ("scheme", "userinfo", "host", "port"):
            raise AddressRefused(TEXT_REFUSED, code=f"bad-url-{problem}")
        response = session().request(method, url, timeout=timeout, allow_redirects=False, stream=True, **kwargs)
        if 300 <= response.status_code < 400:
            raise Permanent(TEXT_REDIRECT, code=f"HTTP {response.status_code} redirect")
        chunks, size = [], 0
        for chunk in response.iter_content(CHUNK_BYTES):
            size += len(chunk)
            if size > max_bytes:
                raise MalformedAnswer(TEXT_TOO_LARGE.format(limit=max_bytes), code="too-large")
            chunks.append(chunk)
            if time.monotonic() - started > total:
                raise _DeadlinePassed()
        body = b"".join(chunks)
    except _DeadlinePassed:
        raise NetworkError(TEXT_DEADLINE.format(seconds=total), code="deadline") from None
    except requests.RequestException as exc:
        detail = _without_query(f"{type(exc).__name__}: {exc}")
        for secret in filter(None, redact):
            detail = detail.replace(secret, "…")
        log.debug("outbound %s failed: %s", method, detail)
        raise NetworkError(TEXT_UNREACHABLE, code="network") from None
    finally:
        _deadline.reset(token)
        if response is not None:
            response.close()
    kept = {name: response.headers[name] for name in ("Retry-After", "X-Request-Id") if name in response.headers}
    return Answer(status=response.status_code, body=body, seconds=time.monotonic() - started, headers=kept)


def post_form(url: str, *, data: dict, max_bytes: int, timeout=DEFAULT_TIMEOUT) -> Answer:
    """POST form-encoded `data`; raises (fixed texts) AddressRefused for a refused destination, Permanent for
    a redirect, MalformedAnswer for an answer over `max_bytes`, NetworkError for transport failures, the
    deadline, and a body cut short (the server dropped the connection)."""
    return _send("POST", url, data=data, max_bytes=max_bytes, timeout=timeout,
                 headers={"Content-Type": "application/x-www-form-urlencoded;charset=UTF-8"})


def request_json(method: str, url: str, *, headers: dict, body: bytes | None = None, max_bytes: int,
                 timeout=DEFAULT_TIMEOUT, redact: tuple[str, ...] = ()) -> Answer:
    """Send `body` (already JSON-encoded bytes, or None for a GET) with `headers`; the answer keeps its
    Retry-After and X-Request-Id headers. Raises as post_form does.
    Callers put credentials in headers only, so the URL carries no secret."""
    sent = {"Accept": "application/json", **headers}
    if body is not None:
        sent["Content-Type"] = "application/json;charset=UTF-8"
    return _send(method, url, data=body, headers=sent, max_bytes=max_bytes, timeout=timeout, redact=redact)
