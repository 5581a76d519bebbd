"""The outbound layer's limits (sync/http.py), against small local servers that misbehave on purpose: a total
deadline over a dripped answer, a size cap per connector, no redirects, and no local or private destination
unless it is on OUTBOUND_ALLOWED_HOSTS (checked on the addresses actually connected to)."""
import ipaddress
import socket
import tracemalloc

import pytest

from sync import http
from sync.erp.client import ErpClient
from sync.marketplaces.top.client import TopClient
from sync.errors import AddressRefused, MalformedAnswer, NetworkError, Permanent
from tests.factories import ConnectionFactory
from tests.outbound_servers import fixed

DRIP_BYTES = 400
DRIP_EVERY = 0.05  # seconds: 20 s for the whole answer, far past the 1 s deadline the tests set
HUGE_BYTES = 64 * 1024 * 1024
CAP = 256 * 1024


def top_client(db, url):
    return TopClient(ConnectionFactory(gateway_url=f"{url}/router/rest", sign_method="md5"))


def erp_client(db, url):
    return ErpClient(ConnectionFactory(kind="erp", gateway_url=f"{url}/bridge"))


def drip_body(server, conn, request):
    server.send(conn, f"HTTP/1.1 200 OK\r\nContent-Length: {DRIP_BYTES}\r\n\r\n".encode())
    for _ in range(DRIP_BYTES):
        if server.stopped.wait(DRIP_EVERY):
            return
        server.send(conn, b" ")


def drip_headers(server, conn, request):
    server.send(conn, b"HTTP/1.1 200 OK\r\nX-Drip: ")
    for _ in range(DRIP_BYTES):
        if server.stopped.wait(DRIP_EVERY):
            return
        server.send(conn, b"a")
    server.send(conn, b"\r\nContent-Length: 2\r\n\r\n{}")


def huge(server, conn, request):
    server.send(conn, f"HTTP/1.1 200 OK\r\nContent-Length: {HUGE_BYTES}\r\n\r\n".encode())
    block = b"x" * 65536
    while server.sent < HUGE_BYTES and not server.stopped.is_set():
        server.send(conn, block)


# --- 3: a total deadline, not only a per-read timeout -------------------------------------------------------------


@pytest.mark.parametrize("behaviour", [drip_body, drip_headers], ids=["body", "headers"])
def test_a_dripped_answer_is_cut_off_at_the_total_deadline(db, serve, settings, behaviour):
    settings.OUTBOUND_TOTAL_TIMEOUT = 1
    server = serve(behaviour)
    client = top_client(db, server.url)

    with pytest.raises(NetworkError) as error:
        client.call("taobao.trades.sold.increment.get", {})

    # Every single byte came well within the 30 s read timeout; only the total deadline ends the call.
    assert error.value.code == "deadline" and str(error.value) == "no complete answer within 1 s"
    assert server.sent < DRIP_BYTES  # the client hung up long before the server was done


def test_the_erp_client_has_the_same_deadline(db, serve, settings):
    settings.OUTBOUND_TOTAL_TIMEOUT = 1
    server = serve(drip_body)

    with pytest.raises(NetworkError) as error:
        erp_client(db, server.url).ping()

    assert error.value.code == "deadline"
    assert server.sent < DRIP_BYTES


# --- 6: the answer's size is capped per connector, read streamed --------------------------------------------------


@pytest.mark.parametrize("make_client, setting, call", [
    (top_client, "TOP_MAX_RESPONSE_BYTES", lambda c: c.call("taobao.trades.sold.increment.get", {})),
    (erp_client, "ERP_MAX_RESPONSE_BYTES", lambda c: c.ping()),
], ids=["top", "erp"])
def test_a_huge_answer_is_refused_after_the_cap_without_reading_it_whole(db, serve, settings, make_client, setting,
                                                                         call):
    setattr(settings, setting, CAP)
    server = serve(huge)
    client = make_client(db, server.url)

    tracemalloc.start()
    try:
        with pytest.raises(MalformedAnswer) as error:
            call(client)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()

    assert error.value.code == "too-large" and str(error.value) == f"the answer was larger than {CAP} bytes"
    assert peak < CAP + 4 * 1024 * 1024  # the cap plus a chunk and the call's own objects, not 64 MiB
    assert server.sent < HUGE_BYTES  # the client stopped reading; the server never got it all out


def test_an_answer_within_the_cap_is_read_whole(db, serve, settings):
    settings.ERP_MAX_RESPONSE_BYTES = CAP
    server = serve(fixed("200 OK", b'{"name": "bridge", "pad": "' + b"x" * (CAP - 100) + b'"}'))

    assert erp_client(db, server.url).ping()["name"] == "bridge"


# --- 4: redirects are never followed ----------------------------------------------------------------------------


@pytest.mark.parametrize("status", ["302 Found", "307 Temporary Redirect"])
def test_a_redirect_is_an_error_and_the_signed_body_goes_nowhere_else(db, serve, status):
    target = serve(fixed("200 OK"))
    redirector = serve(fixed(status, b"", f"Location: {target.url}/router/rest\r\n"))
    client = top_client(db, redirector.url)

    with pytest.raises(Permanent) as error:
        client.call("taobao.trades.sold.increment.get", {})

    assert str(error.value) == "the gateway answered with a redirect; enter its final address"
    assert len(redirector.requests) == 1
    assert target.connections == 0 and target.requests == []  # no session token or signature re-sent there


def test_the_erp_client_does_not_follow_redirects_either(db, serve):
    target = serve(fixed("200 OK", b'{"name": "elsewhere"}'))
    redirector = serve(fixed("307 Temporary Redirect", b"", f"Location: {target.url}/bridge/ping\r\n"))

    with pytest.raises(Permanent):
        erp_client(db, redirector.url).ping()

    assert target.requests == []


# --- 4: local and private destinations ---------------------------------------------------------------------------


@pytest.fixture
def nothing_allowed(settings):
    settings.OUTBOUND_ALLOWED_HOSTS = []
    settings.SANDBOX_ENABLED = False


def post(url: str):
    # Short timeouts: on a layer without the check these would try to connect, and must not wait long doing so.
    return http.post_form(url, data={"session": "secret-token"}, max_bytes=CAP, timeout=(0.5, 0.5))


@pytest.mark.parametrize("host", ["127.0.0.1", "localhost", "[::1]", "[::ffff:127.0.0.1]"])
def test_loopback_is_refused_before_connecting(serve, nothing_allowed, host):
    server = serve(fixed("200 OK"), allow=False)

    with pytest.raises(AddressRefused) as error:
        post(f"http://{host}:{server.port}/router/rest")

    assert str(error.value) == http.TEXT_REFUSED
    assert server.connections == 0


@pytest.mark.parametrize("host", [
    "10.0.0.1", "172.16.5.4", "192.168.1.1",  # private
    "169.254.169.254", "[fe80::1]",  # link-local, the cloud metadata address
    "100.100.100.200",  # Alibaba Cloud's metadata address (shared 100.64/10)
    "0.0.0.0", "[fd00::1]", "[fd00:ec2::254]", "224.0.0.1", "[2002:7f00:1::1]", "[64:ff9b::a00:1]",
])
def test_private_link_local_and_metadata_addresses_are_refused(nothing_allowed, host):
    with pytest.raises(AddressRefused):
        post(f"http://{host}:6379/")


def test_every_address_a_name_resolves_to_is_checked_at_connect_time(serve, nothing_allowed, monkeypatch):
    """A name can pass any check made before the call and resolve to loopback when the call connects (DNS
    rebinding); the resolver is the system's, stood in for here by a resolver that answers a public address
    and the local server's."""
    server = serve(fixed("200 OK"), allow=False)
    real = socket.getaddrinfo

    def rebinding(host, port, *args, **kwargs):
        if host == "rebind.example":
            return [(socket.AF_INET, socket.SOCK_STREAM, 6, "", ("93.184.216.34", port)),
                    (socket.AF_INET, socket.SOCK_STREAM, 6, "", ("127.0.0.1", port))]
        return real(host, port, *args, **kwargs)

    monkeypatch.setattr(socket, "getaddrinfo", rebinding)
    with pytest.raises(AddressRefused):
        post(f"http://rebind.example:{server.port}/router/rest")
    assert server.connections == 0


def test_a_url_with_a_user_name_is_refused_even_for_an_allowed_host(serve, nothing_allowed):
    server = serve(fixed("200 OK"))

    with pytest.raises(AddressRefused):
        post(f"http://user:pw@{server.address}/router/rest")
    assert server.connections == 0


@pytest.mark.parametrize("entry", ["{address}", "127.0.0.0/8", "localhost:{port}", "127.0.0.1"])
def test_an_allow_list_entry_lets_the_call_through(serve, nothing_allowed, settings, entry):
    server = serve(fixed("200 OK"), allow=False)
    settings.OUTBOUND_ALLOWED_HOSTS = [entry.format(address=server.address, port=server.port)]
    host = "localhost" if entry.startswith("localhost") else "127.0.0.1"

    assert post(f"http://{host}:{server.port}/router/rest").status == 200
    assert server.connections == 1


def test_an_allow_list_entry_for_another_port_does_not(serve, nothing_allowed, settings):
    server = serve(fixed("200 OK"), allow=False)
    settings.OUTBOUND_ALLOWED_HOSTS = [f"127.0.0.1:{server.port + 1}"]

    with pytest.raises(AddressRefused):
        post(f"{server.url}/router/rest")
    assert server.connections == 0


def test_the_sandbox_address_is_allowed_only_while_the_sandbox_is_on(serve, nothing_allowed, settings):
    server = serve(fixed("200 OK"), allow=False)
    settings.SANDBOX_ADDRESS = server.address
    with pytest.raises(AddressRefused):
        post(f"{server.url}/sandbox/top/router/rest")

    settings.SANDBOX_ENABLED = True
    assert post(f"{server.url}/sandbox/top/router/rest").status == 200


def test_a_failed_connection_says_nothing_about_the_port(settings):
    settings.OUTBOUND_ALLOWED_HOSTS = ["127.0.0.1:9"]  # the discard port: nothing listens

    with pytest.raises(NetworkError) as error:
        post("http://127.0.0.1:9/router/rest")

    assert str(error.value) == "could not connect, or the connection broke" and error.value.code == "network"


@pytest.mark.parametrize("address, refused", [
    ("8.8.8.8", False), ("2001:4860:4860::8888", False), ("127.0.0.2", True), ("100.64.0.1", True),
    ("::", True), ("::ffff:10.0.0.1", True), ("198.18.0.1", True),
])
def test_which_addresses_are_refused(address, refused):
    assert http.address_refused(ipaddress.ip_address(address)) is refused


def test_answers_still_arrive_from_an_allowed_server(db, serve):
    server = serve(fixed("200 OK", b'{"trades_sold_increment_get_response": {"total_results": 0}}'))

    assert top_client(db, server.url).call("taobao.trades.sold.increment.get", {}) == {"total_results": 0}
    head, _, body = server.requests[0].partition(b"\r\n\r\n")
    assert b"factory-session-token" in body and b"factory-session-token" not in head
