"""Small local HTTP servers that misbehave on purpose, for the outbound layer's limits (sync/http.py): each
serves 127.0.0.1 on a free port from a thread and counts what it saw and sent."""
import socket
import threading


class LocalServer:
    """Accepts connections and hands each to `behaviour(server, conn, request)` after reading the request.
    `connections` counts accepted connections, `requests` keeps each request's head and body, `sent` counts
    the bytes the behaviour managed to send before the client went away."""

    def __init__(self, behaviour):
        self.behaviour = behaviour
        self.connections = 0
        self.requests: list[bytes] = []
        self.sent = 0
        self.stopped = threading.Event()
        self._listener = socket.create_server(("127.0.0.1", 0))
        self._listener.settimeout(0.1)
        self.port = self._listener.getsockname()[1]
        self.address = f"127.0.0.1:{self.port}"
        self.url = f"http://{self.address}"
        self._thread = threading.Thread(target=self._serve, daemon=True)
        self._thread.start()

    def _serve(self):
        while not self.stopped.is_set():
            try:
                conn, _ = self._listener.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            self.connections += 1
            threading.Thread(target=self._handle, args=(conn,), daemon=True).start()

    def _handle(self, conn):
        with conn:
            try:
                request = self._read_request(conn)
                if request is None:
                    return
                self.requests.append(request)
                self.behaviour(self, conn, request)
            except OSError:
                pass  # the client hung up: that is what most of these servers wait for

    @staticmethod
    def _read_request(conn) -> bytes | None:
        data = b""
        while b"\r\n\r\n" not in data:
            chunk = conn.recv(65536)
            if not chunk:
                return None
            data += chunk
        head, _, body = data.partition(b"\r\n\r\n")
        length = 0
        for line in head.split(b"\r\n")[1:]:
            name, _, value = line.partition(b":")
            if name.strip().lower() == b"content-length":
                length = int(value.strip())
        while len(body) < length:
            chunk = conn.recv(65536)
            if not chunk:
                break
            body += chunk
        return head + b"\r\n\r\n" + body

    def send(self, conn, data: bytes) -> None:
        conn.sendall(data)
        self.sent += len(data)

    def close(self):
        self.stopped.set()
        self._listener.close()
        self._thread.join(timeout=5)


def answer(status: str, body: bytes = b"{}", headers: str = "") -> bytes:
    return (f"HTTP/1.1 {status}\r\nContent-Type: application/json\r\nContent-Length: {len(body)}\r\n{headers}"
            f"Connection: close\r\n\r\n").encode() + body


def fixed(status: str, body: bytes = b"{}", headers: str = ""):
    """A behaviour that answers every request with the same answer."""
    def behaviour(server, conn, request):
        server.send(conn, answer(status, body, headers))
    return behaviour


class FakeRobot:
    """A behaviour for LocalServer that plays a group-chat robot (DingTalk, WeCom or Feishu): it records each
    request's path, query and JSON body, and answers with the next of `answers` (status, JSON body), the last
    one repeated; by default the vendor's success answer."""

    SUCCESS = {"dingtalk": {"errcode": 0, "errmsg": "ok"}, "wecom": {"errcode": 0, "errmsg": "ok"},
               "feishu": {"code": 0, "msg": "success", "data": {}}}

    def __init__(self, kind: str = "dingtalk", answers=None):
        import json

        self._json = json
        self.answers = list(answers or [("200 OK", self.SUCCESS[kind])])
        self.received: list[dict] = []

    def __call__(self, server, conn, request):
        from urllib.parse import parse_qs, urlsplit

        head, _, body = request.partition(b"\r\n\r\n")
        target = head.split(b"\r\n")[0].split(b" ")[1].decode()
        parts = urlsplit(target)
        self.received.append({"path": parts.path, "query": {k: v[0] for k, v in parse_qs(parts.query).items()},
                              "json": self._json.loads(body or b"null"), "head": head.decode("latin-1")})
        status, reply = self.answers[min(len(self.received), len(self.answers)) - 1]
        data = reply if isinstance(reply, bytes) else self._json.dumps(reply).encode()
        server.send(conn, answer(status, data))
