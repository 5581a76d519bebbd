"""The API keys page (SPEC A1, M1): owners create, rotate and revoke their merchant's Open API keys; the secret
is shown once, on the page answering its creation; other roles and other merchants get nothing."""
import logging

import pytest
from django.test import Client
from django.urls import reverse

from merchant.models import ApiCredential
from merchant.permissions import Actor
from merchant.services.api_credentials import api_credential_create

from .api.signed import signed_headers
from .helpers import messages_of

pytestmark = pytest.mark.usefixtures("english_pages")


@pytest.fixture
def key_a(merchant_a, owner):
    return api_credential_create(merchant=merchant_a, actor=Actor.for_user(owner), name="ERP production")


@pytest.fixture
def key_b(merchant_b, outsider):
    credential, _secret = api_credential_create(merchant=merchant_b, actor=Actor.for_user(outsider), name="B's ERP")
    return credential


def whoami(client, key: str, secret: str):
    url = "/api/v1/whoami"
    return client.get(url, **signed_headers(key, secret, "GET", url))


def test_owner_sees_the_merchants_keys_with_who_created_them_and_no_secret(client_owner, key_a, key_b):
    credential, secret = key_a
    response = client_owner.get(reverse("api_keys"))
    page = response.content.decode()
    assert response.status_code == 200
    assert credential.key in page and "ERP production" in page and "owner" in page
    assert "never" in page  # not used yet
    assert secret not in page
    assert key_b.key not in page


def test_revoking_a_key_asks_first(client_owner, key_a):
    credential, secret = key_a
    ask = client_owner.post(reverse("api_key_revoke", args=[credential.pk]))
    assert ask.status_code == 200 and 'name="confirmed" value="1"' in ask.content.decode()
    credential.refresh_from_db()
    assert credential.revoked_at is None
    assert whoami(Client(), credential.key, secret).status_code == 200


def test_the_list_shows_last_use_and_revocation(client_owner, key_a):
    credential, secret = key_a
    assert whoami(Client(), credential.key, secret).status_code == 200
    client_owner.post(reverse("api_key_revoke", args=[credential.pk]), {"confirmed": "1"})
    row = client_owner.get(reverse("api_keys")).content.decode().split(f'id="key-{credential.pk}"')[1].split("</tr>")[0]
    assert "never" not in row and "revoked" in row
    assert "Rotate" not in row


def test_a_new_key_shows_its_secret_once_and_signs_requests(client_owner, merchant_a, owner, caplog):
    with caplog.at_level(logging.DEBUG):
        response = client_owner.post(reverse("api_keys"), {"name": "ERP test"})

    assert response.status_code == 200
    assert response["Cache-Control"] == "no-store"
    credential = ApiCredential.objects.get(merchant=merchant_a, name="ERP test")
    secret = response.context["secret"]
    assert secret == credential.secret
    assert secret in response.content.decode() and credential.key in response.content.decode()
    assert credential.created_by == owner
    assert secret not in credential.secret_encrypted
    assert secret not in caplog.text
    assert not any(secret in message for message in messages_of(response))
    # Never again: not on the list, not on the next page view.
    assert secret not in client_owner.get(reverse("api_keys")).content.decode()
    assert whoami(Client(), credential.key, secret).json() == {"merchant": "merchant-a", "key": credential.key}


def test_a_name_too_long_is_refused_at_the_field(client_owner, merchant_a):
    response = client_owner.post(reverse("api_keys"), {"name": "x" * 101})
    assert response.status_code == 400
    assert "name" in response.context["form"].errors
    assert not ApiCredential.objects.filter(merchant=merchant_a).exists()


def test_rotation_revokes_the_old_key_and_the_new_one_signs(client_owner, key_a, merchant_a):
    old, old_secret = key_a
    assert whoami(Client(), old.key, old_secret).status_code == 200

    response = client_owner.post(reverse("api_key_rotate", args=[old.pk]))

    assert response.status_code == 200 and response["Cache-Control"] == "no-store"
    new = response.context["credential"]
    new_secret = response.context["secret"]
    assert (new.merchant, new.name) == (merchant_a, "ERP production") and new.key != old.key
    assert f"Key {old.key} was revoked" in response.content.decode()
    refused = whoami(Client(), old.key, old_secret)
    assert (refused.status_code, refused.json()["error"]["code"]) == (401, "key_revoked")
    assert whoami(Client(), new.key, new_secret).status_code == 200


def test_a_revoked_key_cannot_be_rotated(client_owner, key_a, merchant_a):
    credential, _secret = key_a
    client_owner.post(reverse("api_key_revoke", args=[credential.pk]), {"confirmed": "1"})

    response = client_owner.post(reverse("api_key_rotate", args=[credential.pk]))

    assert response.status_code == 302
    assert "already revoked" in " ".join(messages_of(response))
    assert ApiCredential.objects.filter(merchant=merchant_a).count() == 1


def test_revoke_refuses_the_key_from_then_on(client_owner, key_a):
    credential, secret = key_a
    response = client_owner.post(reverse("api_key_revoke", args=[credential.pk]), {"confirmed": "1"})
    assert response.status_code == 302
    assert f"Key {credential.key} revoked" in " ".join(messages_of(response))
    credential.refresh_from_db()
    revoked_at = credential.revoked_at
    assert revoked_at is not None
    assert whoami(Client(), credential.key, secret).json()["error"]["code"] == "key_revoked"
    client_owner.post(reverse("api_key_revoke", args=[credential.pk]), {"confirmed": "1"})  # again: nothing changes
    credential.refresh_from_db()
    assert credential.revoked_at == revoked_at


@pytest.mark.parametrize("role", ["operator", "viewer"])
def test_only_owners_manage_keys(request, role, key_a, merchant_a):
    credential, _secret = key_a
    client = request.getfixturevalue(f"client_{role}")
    assert client.get(reverse("api_keys")).status_code == 403
    assert client.post(reverse("api_keys"), {"name": "sneaky"}).status_code == 403
    assert client.post(reverse("api_key_rotate", args=[credential.pk])).status_code == 403
    assert client.post(reverse("api_key_revoke", args=[credential.pk]), {"confirmed": "1"}).status_code == 403
    assert ApiCredential.objects.filter(merchant=merchant_a).count() == 1
    credential.refresh_from_db()
    assert credential.revoked_at is None


@pytest.mark.parametrize("role", ["operator", "viewer"])
def test_the_keys_link_is_for_owners_only(request, role):
    keys_url = reverse("api_keys")
    assert keys_url not in request.getfixturevalue(f"client_{role}").get(reverse("api_docs")).content.decode()
    assert keys_url in request.getfixturevalue("client_owner").get(reverse("api_docs")).content.decode()


def test_another_merchants_key_is_not_found(client_owner, key_b):
    assert client_owner.post(reverse("api_key_rotate", args=[key_b.pk])).status_code == 404
    assert client_owner.post(reverse("api_key_revoke", args=[key_b.pk]), {"confirmed": "1"}).status_code == 404
    key_b.refresh_from_db()
    assert key_b.revoked_at is None
    assert ApiCredential.objects.filter(merchant=key_b.merchant).count() == 1


def test_rotate_and_revoke_take_posts_only(client_owner, key_a):
    credential, _secret = key_a
    assert client_owner.get(reverse("api_key_rotate", args=[credential.pk])).status_code == 405
    assert client_owner.get(reverse("api_key_revoke", args=[credential.pk])).status_code == 405


@pytest.mark.parametrize("url_name, with_key", [("api_keys", False), ("api_key_rotate", True),
                                                ("api_key_revoke", True)])
def test_key_forms_need_the_csrf_token(owner, key_a, merchant_a, url_name, with_key):
    credential, _secret = key_a
    client = Client(enforce_csrf_checks=True)
    client.force_login(owner)
    url = reverse(url_name, args=[credential.pk] if with_key else [])

    assert client.post(url, {"name": "forged"}).status_code == 403

    assert ApiCredential.objects.filter(merchant=merchant_a).count() == 1
    credential.refresh_from_db()
    assert credential.revoked_at is None
    client.get(reverse("api_keys"))
    token = client.cookies["csrftoken"].value
    assert client.post(url, {"name": "real", "csrfmiddlewaretoken": token}).status_code in (200, 302)


def test_logged_out_visitors_are_sent_to_the_login_page(client):
    response = client.get(reverse("api_keys"))
    assert response.status_code == 302 and reverse("login") in response["Location"]
