"""Open API authentication (SPEC A1): HMAC-SHA256 signatures, a +-5 minute window, no replays."""
import json
import time
from io import StringIO

import pytest
from django.core.management import call_command

from merchant.api import signing
from merchant.api.auth import nonces_purge
from merchant.models import ApiCredential, ApiNonce
from merchant.permissions import Actor
from merchant.services.api_credentials import api_credential_create, api_credential_revoke

from .signed import signed_headers

pytestmark = pytest.mark.django_db
URL = "/api/v1/whoami"
# Repeated and non-ASCII keys and values, out of order: the canonical query string sorts and encodes them.
QUERY_URL = "/api/v1/whoami?b=2&a=1&a=%E4%B8%AD"


@pytest.fixture
def credential(merchant_a, owner):
    return api_credential_create(merchant=merchant_a, actor=Actor.for_user(owner), name="ERP")


def error_code(response):
    return json.loads(response.content)["error"]["code"]


def test_a_signed_request_says_which_merchant_it_is(client, credential, merchant_a):
    cred, secret = credential
    response = client.get(URL, **signed_headers(cred.key, secret, "GET", URL))
    assert response.status_code == 200
    assert json.loads(response.content) == {"merchant": merchant_a.code, "key": cred.key}
    cred.refresh_from_db()
    assert cred.last_used_at is not None


def test_a_signed_query_string_passes_the_signature_and_unknown_parameters_are_refused_after(client, credential):
    cred, secret = credential
    response = client.get(QUERY_URL, **signed_headers(cred.key, secret, "GET", QUERY_URL))
    assert response.status_code == 400
    assert json.loads(response.content)["error"] == {"code": "unknown_parameter",
                                                     "message": "unknown query parameter(s): a, b"}


def test_the_secret_is_stored_encrypted_and_shown_only_at_creation(credential):
    cred, secret = credential
    assert secret not in cred.secret_encrypted and cred.secret == secret
    assert ApiCredential.objects.get(pk=cred.pk).secret == secret


@pytest.mark.parametrize("tamper, code", [
    (lambda h: h.pop("HTTP_X_API_SIGNATURE"), "missing_auth"),
    (lambda h: h.update(HTTP_X_API_KEY="mh_nobody"), "unknown_key"),
    (lambda h: h.update(HTTP_X_API_SIGNATURE="0" * 64), "bad_signature"),
    (lambda h: h.update(HTTP_X_API_NONCE="short"), "bad_nonce"),
    (lambda h: h.update(HTTP_X_API_TIMESTAMP="yesterday"), "bad_timestamp"),
])
def test_bad_headers_are_refused_with_a_stable_code(client, credential, tamper, code):
    cred, secret = credential
    headers = signed_headers(cred.key, secret, "GET", URL)
    tamper(headers)
    response = client.get(URL, **headers)
    assert response.status_code == 401 and error_code(response) == code


def test_the_signature_covers_the_query_and_the_method(client, credential):
    cred, secret = credential
    headers = signed_headers(cred.key, secret, "GET", URL)
    assert error_code(client.get("/api/v1/whoami?b=3&a=1&a=%E4%B8%AD", **headers)) == "bad_signature"
    assert client.post(URL, **signed_headers(cred.key, secret, "POST", URL)).status_code == 405


def test_a_stale_timestamp_is_refused(client, credential):
    cred, secret = credential
    old = int(time.time()) - 301
    response = client.get(URL, **signed_headers(cred.key, secret, "GET", URL, timestamp=old))
    assert error_code(response) == "stale_timestamp"
    assert not ApiNonce.objects.exists()


def test_a_replayed_request_is_refused(client, credential):
    cred, secret = credential
    headers = signed_headers(cred.key, secret, "GET", URL)
    assert client.get(URL, **headers).status_code == 200
    response = client.get(URL, **headers)
    assert response.status_code == 401 and error_code(response) == "replayed_nonce"


def test_a_forged_request_does_not_use_up_the_nonce(client, credential):
    cred, secret = credential
    forged = signed_headers(cred.key, "wrong-secret", "GET", URL, nonce="nonce-0001")
    assert error_code(client.get(URL, **forged)) == "bad_signature"
    assert client.get(URL, **signed_headers(cred.key, secret, "GET", URL, nonce="nonce-0001")).status_code == 200


def test_a_revoked_key_is_refused(client, credential, owner):
    cred, secret = credential
    api_credential_revoke(credential=cred, actor=Actor.for_user(owner))
    assert error_code(client.get(URL, **signed_headers(cred.key, secret, "GET", URL))) == "key_revoked"


def test_only_owners_create_keys(merchant_a, operator):
    from django.core.exceptions import PermissionDenied

    with pytest.raises(PermissionDenied):
        api_credential_create(merchant=merchant_a, actor=Actor.for_user(operator))


def test_the_canonical_string_is_documented_exactly():
    canonical = signing.canonical_string(method="post", path="/api/v1/stock", query_pairs=[("b", "x y"), ("a", "中")],
                                         timestamp="1700000000", nonce="abcdefgh", body=b"{}")
    assert canonical == ("POST\n/api/v1/stock\na=%E4%B8%AD&b=x%20y\n1700000000\nabcdefgh\n"
                         "44136fa355b3678a1146ad16f7e8649e94fb4fc21fe77e8310c060f61caaff8a")


def test_old_nonces_are_purged(client, credential):
    cred, secret = credential
    client.get(URL, **signed_headers(cred.key, secret, "GET", URL))
    ApiNonce.objects.update(seen_at=ApiNonce.objects.get().seen_at.replace(year=2000))
    assert nonces_purge() == 1


def test_api_key_create_prints_the_key_and_secret_once(merchant_a):
    out = StringIO()
    call_command("api_key_create", merchant_a.code, "--name", "ERP", stdout=out)
    printed = json.loads(out.getvalue())
    credential = ApiCredential.objects.get(key=printed["key"])
    assert credential.merchant == merchant_a and credential.secret == printed["secret"]


@pytest.mark.parametrize("stamp", ["\u00b2", "1" * 400, "-5"])
def test_a_timestamp_that_is_not_plain_digits_is_refused_not_a_crash(client, credential, stamp):
    cred, secret = credential
    headers = signed_headers(cred.key, secret, "GET", URL)
    headers["HTTP_X_API_TIMESTAMP"] = stamp
    response = client.get(URL, **headers)
    assert (response.status_code, error_code(response)) == (401, "bad_timestamp")
