"""An ERP's view of the Open API: signed JSON requests through the test client."""
import json
from decimal import Decimal
from urllib.parse import urlencode

import pytest

from merchant.permissions import Actor
from merchant.services.api_credentials import api_credential_create

from .signed import signed_headers


class ErpClient:
    def __init__(self, client, key: str, secret: str):
        self.client, self.key, self.secret = client, key, secret

    def post(self, path: str, body=None, *, raw: bytes | None = None, headers: dict | None = None):
        data = raw if raw is not None else json.dumps(body, default=str).encode()
        url = f"/api/v1/{path}"
        extra = {f"HTTP_{name.upper().replace('-', '_')}": value for name, value in (headers or {}).items()}
        return self.client.post(url, data=data, content_type="application/json",
                                **signed_headers(self.key, self.secret, "POST", url, data), **extra)

    def get(self, path: str, params: dict | None = None, *, headers: dict | None = None):
        url = f"/api/v1/{path}" + (f"?{urlencode(params, doseq=True)}" if params else "")
        extra = {f"HTTP_{name.upper().replace('-', '_')}": value for name, value in (headers or {}).items()}
        return self.client.get(url, **signed_headers(self.key, self.secret, "GET", url), **extra)

    def items(self, path: str, *items, **kwargs):
        """POST a batch; returns (status code, decoded answer)."""
        response = self.post(path, {"items": list(items)}, **kwargs)
        return response.status_code, json.loads(response.content, parse_float=Decimal)


@pytest.fixture
def erp(client, merchant_a, owner):
    credential, secret = api_credential_create(merchant=merchant_a, actor=Actor.for_user(owner), name="ERP")
    return ErpClient(client, credential.key, secret)


@pytest.fixture
def erp_b(client, merchant_b, outsider):
    credential, secret = api_credential_create(merchant=merchant_b, actor=Actor.for_user(outsider), name="ERP B")
    return ErpClient(client, credential.key, secret)
