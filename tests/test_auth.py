"""Accounts (SPEC M1): login, logout, password change, language switch, and login throttling."""
import pytest
from django.conf import settings as django_settings
from django.contrib.auth import SESSION_KEY, get_user_model
from django.core.cache import cache
from django.urls import reverse

NEW_PASSWORD = "Blister-Pack-Orbit-93"


@pytest.fixture(autouse=True)
def fresh_throttle(settings):
    """Failed logins are counted in the cache, which outlives a test: start and end each test with none."""
    settings.LANGUAGE_CODE = "en"
    cache.clear()
    yield
    cache.clear()


def login(client, username, password, **extra):
    return client.post(reverse("login"), {"username": username, "password": password}, **extra)


# --- login / logout -----------------------------------------------------------------------------------------------


def test_login_with_the_right_password_opens_the_dashboard(client, owner, password):
    response = login(client, "owner", password)
    assert response.status_code == 302
    assert response["Location"] == reverse("dashboard")
    assert client.get(reverse("dashboard")).status_code == 200


def test_login_with_a_wrong_password_is_refused(client, owner):
    response = login(client, "owner", "not-the-password")
    assert response.status_code == 200
    assert response.context["form"].non_field_errors()
    assert SESSION_KEY not in client.session


def test_login_goes_to_the_page_asked_for(client, owner, password):
    response = client.get(reverse("order_list"))
    assert response.status_code == 302
    next_url = response["Location"]
    assert next_url == f"{reverse('login')}?next={reverse('order_list')}"
    response = client.post(next_url, {"username": "owner", "password": password, "next": reverse("order_list")})
    assert response["Location"] == reverse("order_list")


def test_login_ignores_an_off_site_next(client, owner, password):
    response = client.post(reverse("login"), {"username": "owner", "password": password,
                                              "next": "https://evil.example.com/"})
    assert response.status_code == 302
    assert response["Location"] == reverse("dashboard")


def test_login_page_sends_a_logged_in_user_on(client_owner):
    assert client_owner.get(reverse("login")).status_code == 302


def test_logout_ends_the_session(client, owner, password):
    login(client, "owner", password)
    response = client.post(reverse("logout"))
    assert response.status_code == 302
    assert response["Location"] == reverse("login")
    response = client.get(reverse("dashboard"))
    assert response.status_code == 302
    assert response["Location"].startswith(reverse("login"))


def test_logout_by_get_is_not_allowed(client_owner):
    assert client_owner.get(reverse("logout")).status_code == 405
    assert client_owner.get(reverse("dashboard")).status_code == 200


# --- password change ----------------------------------------------------------------------------------------------


def test_password_change_takes_effect_and_keeps_the_session(client, owner, password):
    login(client, "owner", password)
    response = client.post(reverse("password_change"), {
        "old_password": password, "new_password1": NEW_PASSWORD, "new_password2": NEW_PASSWORD})
    assert response.status_code == 302
    assert response["Location"] == reverse("password_change_done")
    assert client.get(reverse("password_change_done")).status_code == 200
    assert client.get(reverse("dashboard")).status_code == 200  # still logged in
    owner.refresh_from_db()
    assert owner.check_password(NEW_PASSWORD)
    other = type(client)()
    assert login(other, "owner", password).status_code == 200  # the old password no longer works
    assert login(other, "owner", NEW_PASSWORD).status_code == 302


@pytest.mark.parametrize("old, new1, new2, field", [
    ("wrong-old-password", NEW_PASSWORD, NEW_PASSWORD, "old_password"),
    (None, NEW_PASSWORD, NEW_PASSWORD + "x", "new_password2"),
    (None, "12345678", "12345678", "new_password2"),  # too common / numeric
])
def test_password_change_rejects_bad_input_and_keeps_the_password(client_owner, owner, password, old, new1, new2,
                                                                   field):
    response = client_owner.post(reverse("password_change"), {
        "old_password": old or password, "new_password1": new1, "new_password2": new2})
    assert response.status_code == 200
    assert field in response.context["form"].errors
    owner.refresh_from_db()
    assert owner.check_password(password)


def test_password_change_needs_a_login(client):
    response = client.get(reverse("password_change"))
    assert response.status_code == 302
    assert response["Location"].startswith(reverse("login"))


# --- language -----------------------------------------------------------------------------------------------------


def test_switching_to_english_renders_english_pages(client_owner, settings):
    settings.LANGUAGE_CODE = "zh-hans"
    response = client_owner.post(reverse("set_language"), {"language": "en", "next": reverse("product_list")})
    assert response.status_code == 302
    assert response["Location"] == reverse("product_list")
    assert client_owner.cookies[django_settings.LANGUAGE_COOKIE_NAME].value == "en"
    content = client_owner.get(reverse("product_list")).content.decode()
    assert '<html lang="en">' in content
    assert "Products" in content
    assert "Log out" in content


def test_switching_to_simplified_chinese_renders_chinese_pages(client_owner):
    client_owner.post(reverse("set_language"), {"language": "en"})
    response = client_owner.post(reverse("set_language"), {"language": "zh-hans", "next": reverse("dashboard")})
    assert response.status_code == 302
    assert client_owner.cookies[django_settings.LANGUAGE_COOKIE_NAME].value == "zh-hans"
    content = client_owner.get(reverse("dashboard")).content.decode()
    assert '<html lang="zh-hans">' in content
    assert "商品" in content and "Log out" not in content
    # The switcher shows the chosen language as selected.
    assert 'value="zh-hans" selected' in content


def test_the_default_language_is_simplified_chinese(client_owner, settings):
    settings.LANGUAGE_CODE = "zh-hans"
    assert '<html lang="zh-hans">' in client_owner.get(reverse("dashboard")).content.decode()


def test_an_unknown_language_is_ignored(client_owner):
    client_owner.post(reverse("set_language"), {"language": "xx-klingon"})
    assert django_settings.LANGUAGE_COOKIE_NAME not in client_owner.cookies


def test_the_login_page_can_switch_language_too(client):
    client.post(reverse("set_language"), {"language": "en"})
    assert '<html lang="en">' in client.get(reverse("login")).content.decode()


# --- throttling ---------------------------------------------------------------------------------------------------


def test_after_too_many_failures_even_the_right_password_is_refused(client, owner, password, settings):
    settings.LOGIN_THROTTLE_LIMIT = 3
    for _ in range(3):
        assert login(client, "owner", "guess").status_code == 200
    response = login(client, "owner", password)
    assert response.status_code == 429
    assert "Too many failed logins" in response.content.decode()
    assert SESSION_KEY not in client.session
    assert client.get(reverse("dashboard")).status_code == 302


def test_failures_below_the_limit_do_not_block(client, owner, password, settings):
    settings.LOGIN_THROTTLE_LIMIT = 3
    for _ in range(2):
        login(client, "owner", "guess")
    assert login(client, "owner", password).status_code == 302


def test_throttling_counts_per_username_whatever_the_address(client, owner, operator, password, settings):
    settings.LOGIN_THROTTLE_LIMIT = 3
    for i in range(3):
        login(client, "Owner", "guess", REMOTE_ADDR=f"10.0.0.{i + 1}")  # usernames count case-insensitively
    assert login(client, "owner", password, REMOTE_ADDR="10.0.9.9").status_code == 429
    # Another user from yet another address is not affected.
    assert login(client, "operator", password, REMOTE_ADDR="10.0.9.8").status_code == 302


def test_throttling_counts_per_address_whatever_the_username(client, owner, password, settings):
    settings.LOGIN_THROTTLE_LIMIT = 3
    for name in ("alice", "bob", "carol"):
        login(client, name, "guess", REMOTE_ADDR="10.1.1.1")
    assert login(client, "owner", password, REMOTE_ADDR="10.1.1.1").status_code == 429
    assert login(client, "owner", password, REMOTE_ADDR="10.1.1.2").status_code == 302


def test_throttled_attempts_are_not_checked_against_the_password(client, owner, password, settings, monkeypatch):
    """While throttled, a guess must not be tried: otherwise the 429 page would still let passwords be tested."""
    settings.LOGIN_THROTTLE_LIMIT = 1
    login(client, "owner", "guess")
    calls = []
    original = get_user_model().check_password
    monkeypatch.setattr(get_user_model(), "check_password",
                        lambda self, raw: calls.append(raw) or original(self, raw))
    assert login(client, "owner", password).status_code == 429
    assert calls == []
    cache.clear()  # the window has passed: the password is checked again
    assert login(client, "owner", password).status_code == 302
    assert calls == [password]
