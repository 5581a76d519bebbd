"""A scripted Douyin gateway for the client's own tests (tests/outbound_servers.LocalServer): it checks each call
as the platform does (method matches the path, timestamp present, signature over param_json with the app's
secret) and answers from a script per path, recording what it received. The full sandbox shop is
sync/marketplaces/douyin/sandbox/; this only lets the token and wire tests say exactly what comes back."""
import json
from urllib.parse import parse_qs, urlsplit

from sync.marketplaces.douyin.signing import method_name, sign_matches
from tests.outbound_servers import answer


def ok(data=None, log_id="202612040000000000001"):
    return {"code": 10000, "msg": "success", "sub_code": "", "sub_msg": "", "data": data or {}, "log_id": log_id}


def error(code, sub_code="", sub_msg="", log_id="202612040000000000002"):
    return {"code": code, "msg": "error", "sub_code": sub_code, "sub_msg": sub_msg, "data": None, "log_id": log_id}


class ScriptedGateway:
    def __init__(self, app_key: str, secret: str, script: dict):
        self.app_key, self.secret = app_key, secret
        self.script = {path: list(answers) for path, answers in script.items()}
        self.received: list[dict] = []

    def calls(self, path: str) -> list[dict]:
        return [r for r in self.received if r["path"] == path]

    def __call__(self, server, conn, request):
        head, _, body = request.partition(b"\r\n\r\n")
        target = head.split(b"\r\n")[0].split(b" ")[1].decode()
        parts = urlsplit(target)
        query = {k: v[0] for k, v in parse_qs(parts.query).items()}
        headers = {}
        for line in head.decode("latin-1").split("\r\n")[1:]:
            name, _, value = line.partition(":")
            headers[name.strip().lower()] = value.strip()
        text = body.decode("utf-8")
        record = {"path": parts.path, "query": query, "body": text, "headers": headers}
        self.received.append(record)
        signed = sign_matches(app_key=self.app_key, secret=self.secret, method=query.get("method", ""),
                              param_json=text, timestamp=query.get("timestamp", ""), v=query.get("v", ""),
                              sign_method=query.get("sign_method", ""), signature=query.get("sign", ""))
        if query.get("method") != method_name(parts.path) or not signed:
            reply = error(40003, "isv.signature-invalid")
        else:
            answers = self.script.get(parts.path) or [ok()]
            reply = answers.pop(0) if len(answers) > 1 else answers[0]
            if callable(reply):
                reply = reply(record)
        server.send(conn, answer("200 OK", json.dumps(reply, ensure_ascii=False).encode()))
