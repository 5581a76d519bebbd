"""The one login throttle (merchant/services/login_throttle.py) behind every password check: the back-office
login, the Django admin's login and password change, and /password/. Time is a fake clock, never a sleep."""
import pytest
from django.contrib.auth import SESSION_KEY, get_user_model
from django.core.cache import cache
from django.test import Client, RequestFactory
from django.urls import reverse

from merchant.client_address import client_address
from merchant.services import login_throttle
from merchant.services.login_throttle import LoginThrottled, login_attempt_begin, login_attempt_end

from .factories import UserFactory

NEW_PASSWORD = "Blister-Pack-Orbit-93"


@pytest.fixture(autouse=True)
def fresh_throttle(settings):
    """Failed logins are counted in the cache, which outlives a test: start and end each test with none."""
    settings.LANGUAGE_CODE = "en"
    settings.LOGIN_THROTTLE_LIMIT = 3
    settings.LOGIN_THROTTLE_MAX_DELAY = 60
    settings.TRUSTED_PROXIES = []
    cache.clear()
    yield
    cache.clear()


class FakeClock:
    def __init__(self):
        self.now = 1_700_000_000.0

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


@pytest.fixture
def clock(monkeypatch):
    fake = FakeClock()
    monkeypatch.setattr(login_throttle, "_now", fake)
    return fake


@pytest.fixture
def staff(db):
    return UserFactory(username="platform", is_staff=True, is_superuser=True)


def login(client, username, password, **extra):
    return client.post(reverse("login"), {"username": username, "password": password}, **extra)


def admin_login(client, username, password, **extra):
    return client.post(reverse("admin:login"), {"username": username, "password": password,
                                                "next": reverse("admin:index")}, **extra)


# --- the Django admin ---------------------------------------------------------------------------------------------


def test_admin_login_refuses_the_right_password_after_too_many_failures(client, staff, password):
    for _ in range(3):
        assert admin_login(client, "platform", "guess").status_code == 200
    response = admin_login(client, "platform", password)
    assert response.status_code == 200
    assert "Too many failed logins" in response.content.decode()
    assert SESSION_KEY not in client.session
    assert client.get(reverse("admin:index")).status_code == 302  # still sent to the login page
    cache.clear()  # the window has passed
    response = admin_login(client, "platform", password)
    assert response.status_code == 302 and response["Location"] == reverse("admin:index")
    assert client.get(reverse("admin:index")).status_code == 200


def test_admin_login_keeps_the_admin_look(client, staff):
    content = client.get(reverse("admin:login")).content.decode()
    assert "admin/css/login.css" in content and 'id="login-form"' in content


def test_failures_at_the_back_office_count_at_the_admin_too(client, staff, password):
    login(client, "platform", "guess", REMOTE_ADDR="10.0.0.1")
    login(client, "platform", "guess", REMOTE_ADDR="10.0.0.2")
    admin_login(client, "platform", "guess", REMOTE_ADDR="10.0.0.3")
    response = admin_login(client, "platform", password, REMOTE_ADDR="10.0.0.4")
    assert "Too many failed logins" in response.content.decode()
    assert SESSION_KEY not in client.session


def test_admin_password_change_is_throttled(staff, password):
    client = Client()
    client.force_login(staff)
    url = reverse("admin:password_change")
    for _ in range(3):
        assert client.post(url, {"old_password": "guess", "new_password1": NEW_PASSWORD,
                                 "new_password2": NEW_PASSWORD}).status_code == 200
    response = client.post(url, {"old_password": password, "new_password1": NEW_PASSWORD,
                                 "new_password2": NEW_PASSWORD})
    assert response.status_code == 429
    staff.refresh_from_db()
    assert staff.check_password(password)
    cache.clear()
    response = client.post(url, {"old_password": password, "new_password1": NEW_PASSWORD,
                                 "new_password2": NEW_PASSWORD})
    assert response.status_code == 302 and response["Location"] == reverse("admin:password_change_done")


# --- one counter per username, whatever way it is typed -------------------------------------------------------


@pytest.mark.parametrize("variants", [
    ["owner ", "owner\t", "ｏｗｎｅｒ"],           # trailing space, tab, full-width letters
    [" owner", "OWNER", "Ｏｗｎｅｒ\t"],
])
def test_variants_of_a_username_share_one_counter(client, owner, password, variants):
    for i, name in enumerate(variants):
        login(client, name, "guess", REMOTE_ADDR=f"10.0.1.{i + 1}")  # other addresses: only the name counts
    response = login(client, "owner", password, REMOTE_ADDR="10.0.1.99")
    assert response.status_code == 429
    assert SESSION_KEY not in client.session


def test_a_variant_is_refused_without_checking_the_password(client, owner, password, monkeypatch):
    for i in range(3):
        login(client, "owner", "guess", REMOTE_ADDR=f"10.0.2.{i + 1}")
    calls = []
    original = get_user_model().check_password
    monkeypatch.setattr(get_user_model(), "check_password", lambda self, raw: calls.append(raw) or original(self, raw))
    assert login(client, "ｏｗｎｅｒ ", password, REMOTE_ADDR="10.0.2.99").status_code == 429
    assert calls == []


# --- one address: a slowdown, never a lockout ------------------------------------------------------------------


def test_a_colleague_behind_the_same_address_logs_in_after_the_wait(client, owner, password, clock):
    for i in range(5):  # five failures, of names that do not exist, from the office's one address
        clock.advance(70)  # each after the previous wait, so each is checked and counted
        assert login(client, f"someone{i}", "guess", REMOTE_ADDR="10.1.1.1").status_code == 200
    # 5 failures, limit 3: the next attempt must come 2 ** (5 - 3) = 4 s after the last failure.
    response = login(client, "owner", password, REMOTE_ADDR="10.1.1.1")
    assert response.status_code == 429
    assert response["Retry-After"] == "4"
    assert "Too many failed logins from your network. Try again in 4 seconds." in response.content.decode()
    clock.advance(3)
    assert "Try again in 1 second." in login(client, "owner", password, REMOTE_ADDR="10.1.1.1").content.decode()
    clock.advance(1)
    response = login(client, "owner", password, REMOTE_ADDR="10.1.1.1")
    assert response.status_code == 302 and response["Location"] == reverse("dashboard")
    assert client.get(reverse("dashboard")).status_code == 200


def test_waiting_attempts_are_not_checked_and_do_not_spend_the_names_guesses(client, owner, password, clock,
                                                                              monkeypatch):
    for i in range(3):
        login(client, f"someone{i}", "guess", REMOTE_ADDR="10.1.1.3")
    calls = []
    original = get_user_model().check_password
    monkeypatch.setattr(get_user_model(), "check_password", lambda self, raw: calls.append(raw) or original(self, raw))
    for _ in range(5):  # a colleague keeps pressing the button during the wait
        assert login(client, "owner", password, REMOTE_ADDR="10.1.1.3").status_code == 429
    assert calls == []
    clock.advance(1)
    assert login(client, "owner", password, REMOTE_ADDR="10.1.1.3").status_code == 302


def test_the_wait_doubles_with_each_failure_up_to_the_maximum(settings, clock):
    settings.LOGIN_THROTTLE_LIMIT, settings.LOGIN_THROTTLE_MAX_DELAY = 2, 8
    waits = []
    for i in range(8):
        try:
            attempt = login_attempt_begin(username=f"name{i}", address="10.2.2.2")
        except LoginThrottled as refusal:
            waits.append(refusal.seconds)
            clock.advance(refusal.seconds)
            attempt = login_attempt_begin(username=f"name{i}", address="10.2.2.2")
        login_attempt_end(attempt=attempt, password_ok=False)
    assert waits == [1, 2, 4, 8, 8, 8]


def test_only_one_attempt_at_a_time_gets_past_the_limit(settings, clock):
    """A burst of parallel requests must not each get a guess once the wait is over."""
    for i in range(3):
        login_attempt_end(attempt=login_attempt_begin(username=f"name{i}", address="10.2.2.3"), password_ok=False)
    clock.advance(60)  # long past any wait: only the claim on the slot holds the second one back
    first = login_attempt_begin(username="a", address="10.2.2.3")
    with pytest.raises(LoginThrottled):
        login_attempt_begin(username="b", address="10.2.2.3")  # while the first is being checked
    login_attempt_end(attempt=first, password_ok=True)
    # A right password frees the slot at once: the next person behind the address need not wait.
    login_attempt_end(attempt=login_attempt_begin(username="b", address="10.2.2.3"), password_ok=True)


def test_parallel_attempts_below_the_limit_cannot_exceed_it():
    attempts = [login_attempt_begin(username="owner", address=f"10.2.3.{i}") for i in range(3)]
    with pytest.raises(LoginThrottled):
        login_attempt_begin(username="owner", address="10.2.3.9")  # three checks of the name already in flight
    for attempt in attempts:
        login_attempt_end(attempt=attempt, password_ok=False)


def test_other_addresses_are_not_slowed(client, owner, password, clock):
    for i in range(6):
        clock.advance(70)
        login(client, f"someone{i}", "guess", REMOTE_ADDR="10.1.2.1")
    assert login(client, "owner", password, REMOTE_ADDR="10.1.2.2").status_code == 302


def test_ipv6_addresses_of_one_subscriber_share_the_wait(client, owner, password, clock):
    for i in range(3):
        login(client, f"someone{i}", "guess", REMOTE_ADDR=f"2001:db8:1:2::{i + 1}")
    assert login(client, "owner", password, REMOTE_ADDR="2001:db8:1:2:ffff::9").status_code == 429


# --- the client address: X-Forwarded-For only from a configured proxy ---------------------------------------------


@pytest.mark.parametrize("proxies, remote, forwarded, expected", [
    ([], "203.0.113.5", "198.51.100.7", "203.0.113.5"),                       # no proxy configured: ignored
    (["10.0.0.0/8"], "203.0.113.5", "198.51.100.7", "203.0.113.5"),          # not from the proxy: ignored
    (["10.0.0.0/8"], "10.0.0.1", "198.51.100.7", "198.51.100.7"),
    (["10.0.0.0/8"], "10.0.0.1", "1.2.3.4, 198.51.100.7", "198.51.100.7"),   # the left part is the client's say
    (["10.0.0.0/8", "192.0.2.1"], "10.0.0.1", "1.2.3.4, 198.51.100.7, 192.0.2.1", "198.51.100.7"),  # two proxies
    (["10.0.0.1"], "10.0.0.1", "", "10.0.0.1"),                               # no header: the proxy itself
    (["10.0.0.1"], "10.0.0.1", "not-an-address", "10.0.0.1"),
    (["2001:db8::/32"], "2001:db8::1", "::ffff:198.51.100.7", "198.51.100.7"),
])
def test_client_address(settings, proxies, remote, forwarded, expected):
    settings.TRUSTED_PROXIES = proxies
    request = RequestFactory().get("/", REMOTE_ADDR=remote, HTTP_X_FORWARDED_FOR=forwarded)
    assert client_address(request) == expected


def test_a_trusted_proxy_passes_on_each_clients_own_address(client, owner, password, settings, clock):
    settings.TRUSTED_PROXIES = ["10.0.0.0/8"]
    for i in range(3):
        login(client, f"someone{i}", "guess", REMOTE_ADDR="10.0.0.1", HTTP_X_FORWARDED_FOR="203.0.113.5")
    # The failing client waits, whatever it writes in front of the proxy's entry ...
    assert login(client, "owner", password, REMOTE_ADDR="10.0.0.1",
                 HTTP_X_FORWARDED_FOR="198.51.100.7, 203.0.113.5").status_code == 429
    # ... while another client behind the same proxy is not slowed.
    assert login(client, "owner", password, REMOTE_ADDR="10.0.0.1",
                 HTTP_X_FORWARDED_FOR="198.51.100.7").status_code == 302


def test_x_forwarded_for_does_not_give_fresh_addresses_without_a_trusted_proxy(client, owner, password, clock):
    for i in range(3):
        login(client, f"someone{i}", "guess", REMOTE_ADDR="203.0.113.9", HTTP_X_FORWARDED_FOR=f"198.51.100.{i}")
    assert login(client, "owner", password, REMOTE_ADDR="203.0.113.9",
                 HTTP_X_FORWARDED_FOR="198.51.100.200").status_code == 429


def test_a_mistyped_trusted_proxy_fails_the_system_check(settings):
    from django.core.management import call_command
    from django.core.management.base import SystemCheckError

    settings.TRUSTED_PROXIES = ["10.0.0.0/33"]
    with pytest.raises(SystemCheckError, match="TRUSTED_PROXIES"):
        call_command("check")


# --- /password/ -------------------------------------------------------------------------------------------------


def change_password(client, old, **extra):
    return client.post(reverse("password_change"), {
        "old_password": old, "new_password1": NEW_PASSWORD, "new_password2": NEW_PASSWORD}, **extra)


def test_wrong_old_passwords_are_throttled(client_owner, owner, password):
    for i in range(3):
        response = change_password(client_owner, "guess", REMOTE_ADDR=f"10.3.0.{i + 1}")
        assert response.status_code == 200 and "old_password" in response.context["form"].errors
    response = change_password(client_owner, password, REMOTE_ADDR="10.3.0.9")
    assert response.status_code == 429
    assert "Too many failed logins" in response.content.decode()
    owner.refresh_from_db()
    assert owner.check_password(password)


def test_wrong_old_passwords_spend_the_same_guesses_as_logins(client_owner, client, owner, password):
    change_password(client_owner, "guess", REMOTE_ADDR="10.3.1.1")
    change_password(client_owner, "guess", REMOTE_ADDR="10.3.1.2")
    login(client, "owner", "guess", REMOTE_ADDR="10.3.1.3")
    assert login(client, "owner", password, REMOTE_ADDR="10.3.1.4").status_code == 429


def test_wrong_old_passwords_slow_their_address(client_owner, client, operator, password, clock):
    for _ in range(3):
        change_password(client_owner, "guess", REMOTE_ADDR="10.3.2.1")
    assert login(client, "operator", password, REMOTE_ADDR="10.3.2.1").status_code == 429
    clock.advance(1)
    assert login(client, "operator", password, REMOTE_ADDR="10.3.2.1").status_code == 302


def test_a_mismatched_new_password_is_not_a_wrong_guess(client_owner, owner, password):
    for _ in range(5):
        client_owner.post(reverse("password_change"), {
            "old_password": password, "new_password1": NEW_PASSWORD, "new_password2": NEW_PASSWORD + "x"})
    assert change_password(client_owner, password).status_code == 302
