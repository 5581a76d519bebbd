"""A small Merchant Hub Open API client: how an ERP signs requests, posts a stock batch and takes orders.

Needs Python 3.9+ and requests. Run it against a server with a key an owner created under "API keys":

    MH_URL=http://127.0.0.1:8000 MH_KEY=mh_... MH_SECRET=... python docs/api-client.py

docs/api.md explains the rules; tests/api/test_example_client.py runs this file against a live server.
"""
import hashlib
import hmac
import json
import os
import time
import uuid
from urllib.parse import parse_qsl, quote, urlsplit

import requests


def canonical_string(method: str, path: str, query: str, timestamp: str, nonce: str, body: bytes) -> str:
    """METHOD, path, sorted query, timestamp, nonce and the body's SHA-256, one per line."""
    pairs = sorted(parse_qsl(query, keep_blank_values=True))
    sorted_query = "&".join(f"{quote(k, safe='-_.~')}={quote(v, safe='-_.~')}" for k, v in pairs)
    body_hash = hashlib.sha256(body).hexdigest()
    return "\n".join([method.upper(), path, sorted_query, timestamp, nonce, body_hash])


def sign(key: str, secret: str, method: str, url: str, body: bytes = b"") -> dict:
    """The four authentication headers for one request (a new timestamp and nonce every time)."""
    parts = urlsplit(url)
    timestamp, nonce = str(int(time.time())), uuid.uuid4().hex
    canonical = canonical_string(method, parts.path, parts.query, timestamp, nonce, body)
    signature = hmac.new(secret.encode(), canonical.encode(), hashlib.sha256).hexdigest()
    return {"X-Api-Key": key, "X-Api-Timestamp": timestamp, "X-Api-Nonce": nonce, "X-Api-Signature": signature}


class Auth(requests.auth.AuthBase):
    """Signs each request as requests is about to send it, so the signed bytes are the bytes sent."""

    def __init__(self, key: str, secret: str):
        self.key, self.secret = key, secret

    def __call__(self, request):
        body = request.body or b""
        request.headers.update(sign(self.key, self.secret, request.method, request.url,
                                    body.encode() if isinstance(body, str) else body))
        return request


class ApiError(Exception):
    def __init__(self, status: int, code: str, message: str):
        super().__init__(f"{status} {code}: {message}")
        self.status, self.code = status, code


class Client:
    def __init__(self, base_url: str, key: str, secret: str, timeout: float = 30):
        self.base_url, self.timeout = base_url.rstrip("/"), timeout
        self.session = requests.Session()
        self.session.auth = Auth(key, secret)

    def _answer(self, response):
        if response.status_code >= 400:
            try:
                error = response.json()["error"]
            except (ValueError, KeyError, TypeError):
                response.raise_for_status()
            raise ApiError(response.status_code, error["code"], error["message"])
        return response.json()

    def get(self, path: str, **params):
        return self._answer(self.session.get(f"{self.base_url}/api/v1/{path}", params=params, timeout=self.timeout))

    def post_batch(self, path: str, items: list, retries: int = 3) -> dict:
        """POST up to 500 items. A retry after a timeout or a 5xx resends the same body with the same
        Idempotency-Key (and a new signature), so the batch is applied once however often it is sent."""
        body = json.dumps({"items": items}, ensure_ascii=False).encode()
        headers = {"Content-Type": "application/json", "Idempotency-Key": str(uuid.uuid4())}
        for attempt in range(retries + 1):
            try:
                response = self.session.post(f"{self.base_url}/api/v1/{path}", data=body, headers=headers,
                                             timeout=self.timeout)
                if response.status_code < 500:
                    return self._answer(response)
            except (requests.ConnectionError, requests.Timeout):
                if attempt == retries:
                    raise
            else:
                if attempt == retries:
                    return self._answer(response)
            time.sleep(2 ** attempt)


def report(answer: dict) -> None:
    """Print what happened to each item: applied, held (auto-sync is off in the back office) or invalid."""
    for result in answer["results"]:
        if result["status"] == "ok":
            print(f"  {result['key']}: ok{' (changed)' if result['changed'] else ' (no change)'}")
        elif result["status"] == "held":
            print(f"  {result['key']}: held {', '.join(result['held'])}: {result['reason']}")
        else:
            for error in result["errors"]:
                print(f"  {result['key'] or '#' + str(result['index'])}: invalid {error['field']}: {error['message']}")
    print(f"  counts: {answer['counts']}")


def main() -> None:
    client = Client(os.environ.get("MH_URL", "http://127.0.0.1:8000"), os.environ["MH_KEY"], os.environ["MH_SECRET"])
    print("signed in as", client.get("whoami"))

    print("stock:")
    report(client.post_batch("stock", [
        {"erp_product_id": "SKU-0001", "stock": 120},
        {"erp_product_id": "SKU-0002", "stock": 0},
    ]))

    print("new orders:")
    for order in new_orders(client):
        basic, amounts = order["basic"], order["amounts"]
        print(f"  {order['order_no']} {basic['status']} {amounts['total_amount']} CNY, {len(order['items'])} line(s)")


def new_orders(client: Client, page_size: int = 50):
    """Every order the ERP has not taken yet, oldest first. Each page returned is marked taken, so the next
    run starts where this one stopped; the cursor (not a page number) keeps the pages from skipping orders."""
    cursor = None
    while True:
        params = {"sync_status": "not_taken", "limit": page_size}
        if cursor:
            params["cursor"] = cursor
        page = client.get("orders", **params)
        # Keep the take id until the page is processed: GET orders/takes/{take_id} answers it again if lost.
        print(f"take {page['take_id']}: {len(page['orders'])} orders")
        yield from page["orders"]
        cursor = page["next_cursor"]
        if not cursor:
            return


if __name__ == "__main__":
    main()
