"""The team page: owners add users to their merchant and change roles; a merchant keeps at least one owner."""
import pytest
from django.contrib.auth import get_user_model
from django.core.cache import cache
from django.urls import reverse

from merchant.models import AuditEntry, Membership, Role

from .factories import PASSWORD, member
from .helpers import messages_of

User = get_user_model()
STRONG = "Pill-Counter-42-Ledger"


pytestmark = pytest.mark.usefixtures("english_pages")

def test_owner_adds_a_user_who_can_then_log_in(client_owner, merchant_a, client):
    response = client_owner.post(reverse("team"), {"username": "newclerk", "password": STRONG, "role": "operator"})
    assert response.status_code == 302
    membership = Membership.objects.get(user__username="newclerk")
    assert (membership.merchant, membership.role) == (merchant_a, Role.OPERATOR)
    assert "User newclerk added." in messages_of(response)
    cache.clear()  # no failed logins of other tests may throttle this one
    login = client.post(reverse("login"), {"username": "newclerk", "password": STRONG})
    assert login.status_code == 302


@pytest.mark.parametrize("data, field", [
    ({"username": "owner", "password": STRONG, "role": "viewer"}, "username"),      # taken
    ({"username": "clerk2", "password": "12345678", "role": "viewer"}, "password"),  # too weak
    ({"username": "clerk2", "password": "short", "role": "viewer"}, "password"),
    ({"username": "pharmacist77", "password": "pharmacist77!", "role": "viewer"}, "password"),  # like the name
    ({"username": "clerk2", "password": STRONG, "role": "superuser"}, "role"),
    ({"username": "", "password": STRONG, "role": "viewer"}, "username"),
])
def test_add_user_rejects_bad_input_at_the_field(client_owner, data, field):
    users_before = User.objects.count()
    response = client_owner.post(reverse("team"), data)
    assert response.status_code == 400
    assert field in response.context["form"].errors
    assert User.objects.count() == users_before


@pytest.mark.parametrize("role", ["operator", "viewer"])
def test_only_owners_add_users(request, role):
    response = request.getfixturevalue(f"client_{role}").post(
        reverse("team"), {"username": "sneaky", "password": STRONG, "role": "owner"})
    assert response.status_code == 403
    assert not User.objects.filter(username="sneaky").exists()


def test_owner_changes_a_role(client_owner, operator):
    membership = operator.membership
    response = client_owner.post(reverse("member_role", args=[membership.pk]), {"role": "viewer"})
    assert response.status_code == 302
    membership.refresh_from_db()
    assert membership.role == Role.VIEWER
    assert "Role changed." in messages_of(response)


def test_the_last_owner_cannot_be_demoted(client_owner, owner):
    membership = owner.membership
    response = client_owner.post(reverse("member_role", args=[membership.pk]), {"role": "operator"})
    assert response.status_code == 302
    assert "A merchant needs at least one active owner." in messages_of(response)
    membership.refresh_from_db()
    assert membership.role == Role.OWNER


def test_an_owner_can_be_demoted_while_another_owner_remains(client_owner, owner, merchant_a):
    member(merchant_a, Role.OWNER, username="coowner")
    response = client_owner.post(reverse("member_role", args=[owner.membership.pk]), {"role": "viewer"})
    assert response.status_code == 302
    owner.membership.refresh_from_db()
    assert owner.membership.role == Role.VIEWER
    # The demoted user has lost the team page at once.
    assert client_owner.get(reverse("team")).status_code == 403


def test_unknown_role_changes_nothing(client_owner, operator):
    client_owner.post(reverse("member_role", args=[operator.membership.pk]), {"role": "god"})
    operator.membership.refresh_from_db()
    assert operator.membership.role == Role.OPERATOR


@pytest.mark.parametrize("role", ["operator", "viewer"])
def test_only_owners_change_roles(request, role, owner, viewer):
    client = request.getfixturevalue(f"client_{role}")
    target = request.getfixturevalue(role).membership
    response = client.post(reverse("member_role", args=[target.pk]), {"role": "owner"})
    assert response.status_code == 403
    target.refresh_from_db()
    assert target.role == role


def test_team_page_lists_only_this_merchants_members(client_owner, outsider, operator):
    response = client_owner.get(reverse("team"))
    usernames = {m.user.username for m in response.context["members"]}
    assert usernames == {"owner", "operator"}
    assert "outsider" not in response.content.decode()


# --- usernames: a safe character set, and nothing said about other merchants --------------------------------------

UNAVAILABLE = "This username is not available; choose another."
FORMAT = "A username has 1 to 64 characters: letters, digits and . _ - @ only."


@pytest.mark.parametrize("name", [
    "ow\u200bner2",        # zero-width space
    "clerk\u2060x",        # word joiner
    "<b>clerk</b>",        # markup
    "clerk&co",
    'clerk"x',
    "clerk two",           # inner whitespace
    "clerk\tx",
    "clerk\u202ex",        # right-to-left override
    "clerk\x07",           # control character
    "c" * 65,
])
def test_add_user_refuses_unsafe_usernames(client_owner, name):
    users_before = User.objects.count()
    response = client_owner.post(reverse("team"), {"username": name, "password": STRONG, "role": "viewer"})
    assert response.status_code == 400
    assert response.context["form"].errors["username"] == [FORMAT]
    assert User.objects.count() == users_before


@pytest.mark.parametrize("typed, stored", [
    ("张三", "张三"),
    ("li.si-2@shop_a", "li.si-2@shop_a"),
    ("ｃｌｅｒｋ３", "clerk3"),       # full-width letters and digits are stored as the ordinary ones
    ("  clerk4 ", "clerk4"),
])
def test_add_user_stores_the_normalised_name_that_logs_in(client_owner, client, typed, stored):
    response = client_owner.post(reverse("team"), {"username": typed, "password": STRONG, "role": "viewer"})
    assert response.status_code == 302
    assert User.objects.filter(username=stored).exists()
    cache.clear()
    assert client.post(reverse("login"), {"username": typed, "password": STRONG}).status_code == 302


@pytest.mark.parametrize("name", [
    "operator",          # a member of this merchant
    "outsider",          # the owner of another merchant
    "Outsider",          # ... in other letter case
    "ｏｕｔｓｉｄｅｒ",   # ... in full-width letters
    "platform_staff",    # a platform staff account
])
def test_an_unavailable_username_reads_the_same_whoever_has_it(client_owner, operator, outsider, name):
    User.objects.create_user(username="platform_staff", is_staff=True)
    users_before = User.objects.count()
    response = client_owner.post(reverse("team"), {"username": name, "password": STRONG, "role": "viewer"})
    assert response.status_code == 400
    assert response.context["form"].errors["username"] == [UNAVAILABLE]
    assert "Merchant B" not in response.content.decode()
    assert User.objects.count() == users_before


def test_merchant_create_refuses_an_unsafe_owner_name(db):
    from django.core.management import call_command
    from django.core.management.base import CommandError

    with pytest.raises(CommandError, match="owner"):
        call_command("merchant_create", "acme", "--name", "Acme", "--owner", "ac\u200bme", "--password",
                     "a-Long-pass-2026")
    assert not User.objects.filter(username__startswith="ac").exists()


# --- defaults, deactivate/reactivate, remove, set password, the last active owner ---------------------------------

def _login(client, username, password=PASSWORD):
    cache.clear()  # no failed logins of other tests may throttle this one
    return client.post(reverse("login"), {"username": username, "password": password})


def test_a_new_member_defaults_to_viewer(client_owner):
    form = client_owner.get(reverse("team")).context["form"]
    assert form["role"].value() == Role.VIEWER
    assert 'value="viewer" selected' in str(form["role"])


def test_adding_a_member_is_audited(client_owner, merchant_a):
    client_owner.post(reverse("team"), {"username": "clerk9", "password": STRONG, "role": "viewer"})
    membership = Membership.objects.get(user__username="clerk9")
    fields = set(AuditEntry.objects.filter(merchant=merchant_a, entity="membership", entity_id=membership.pk)
                 .values_list("field", flat=True))
    assert fields == {"member", "role"}


def test_deactivate_asks_first_then_the_member_cannot_log_in(client_owner, merchant_a, client):
    clerk = member(merchant_a, Role.OPERATOR, username="clerk")
    url = reverse("member_deactivate", args=[clerk.membership.pk])
    confirm = client_owner.get(url)
    assert confirm.status_code == 200
    assert "Deactivate clerk?" in confirm.content.decode()
    clerk.refresh_from_db()
    assert clerk.is_active  # the confirm page changes nothing

    response = client_owner.post(url)
    assert response.status_code == 302
    assert "clerk is deactivated and can no longer log in." in messages_of(response)
    clerk.refresh_from_db()
    assert not clerk.is_active
    assert AuditEntry.objects.filter(entity="membership", entity_id=clerk.membership.pk, field="active").exists()
    assert _login(client, "clerk").status_code == 200  # the login page again, not a redirect


def test_a_deactivated_members_open_session_ends(client_owner, merchant_a):
    from django.test import Client

    clerk = member(merchant_a, Role.OPERATOR, username="clerk")
    clerk_client = Client()
    clerk_client.force_login(clerk)
    assert clerk_client.get(reverse("product_list")).status_code == 200
    client_owner.post(reverse("member_deactivate", args=[clerk.membership.pk]))
    assert clerk_client.get(reverse("product_list")).status_code == 302  # to the login page


def test_reactivate_lets_the_member_log_in_again(client_owner, merchant_a, client):
    clerk = member(merchant_a, Role.VIEWER, username="clerk", is_active=False)
    response = client_owner.post(reverse("member_reactivate", args=[clerk.membership.pk]))
    assert "clerk can log in again." in messages_of(response)
    assert _login(client, "clerk").status_code == 302


def test_reactivate_is_post_only(client_owner, merchant_a):
    clerk = member(merchant_a, Role.VIEWER, username="clerk")
    assert client_owner.get(reverse("member_reactivate", args=[clerk.membership.pk])).status_code == 405


def test_remove_asks_first_then_takes_the_member_out(client_owner, merchant_a, client):
    clerk = member(merchant_a, Role.OPERATOR, username="clerk")
    pk = clerk.membership.pk
    url = reverse("member_remove", args=[pk])
    confirm = client_owner.get(url)
    assert "Remove clerk from the team?" in confirm.content.decode()
    assert Membership.objects.filter(pk=pk).exists()

    response = client_owner.post(url)
    assert "clerk was removed from the team." in messages_of(response)
    assert not Membership.objects.filter(pk=pk).exists()
    assert "clerk" not in {m.user.username for m in client_owner.get(reverse("team")).context["members"]}
    assert AuditEntry.objects.get(entity="membership", entity_id=pk, field="member").old_value == "clerk"
    assert _login(client, "clerk").status_code == 200


def test_owner_sets_a_new_password(client_owner, merchant_a, client):
    clerk = member(merchant_a, Role.OPERATOR, username="clerk")
    new = "Another-Ledger-77-Counter"
    response = client_owner.post(reverse("member_password", args=[clerk.membership.pk]),
                                 {"password": new, "password_again": new})
    assert response.status_code == 302
    assert _login(client, "clerk").status_code == 200
    assert _login(client, "clerk", new).status_code == 302
    entry = AuditEntry.objects.get(entity="membership", entity_id=clerk.membership.pk, field="password")
    assert new not in entry.new_value


@pytest.mark.parametrize("password, again, message", [
    ("short", "short", "This password is too short. It must contain at least 8 characters."),
    ("clerk1234", "clerk1234", "The password is too similar to the username."),
    ("12345678", "12345678", "This password is too common."),
    ("Another-Ledger-77", "Another-Ledger-78", "The two passwords differ."),
])
def test_set_password_refuses_weak_or_mistyped(client_owner, merchant_a, password, again, message):
    clerk = member(merchant_a, Role.OPERATOR, username="clerk1234")
    response = client_owner.post(reverse("member_password", args=[clerk.membership.pk]),
                                 {"password": password, "password_again": again})
    assert response.status_code == 400
    assert message in response.content.decode().replace("&#x27;", "'")
    clerk.refresh_from_db()
    assert clerk.check_password(PASSWORD)


def test_password_messages_are_all_chinese_on_chinese_pages(client_owner, merchant_a, settings):
    settings.LANGUAGE_CODE = "zh-hans"
    clerk = member(merchant_a, Role.OPERATOR, username="clerk1234")
    for password in ("short", "1234567"):
        response = client_owner.post(reverse("member_password", args=[clerk.membership.pk]),
                                     {"password": password, "password_again": password})
        errors = response.context["form"].errors["password"]
        assert errors and all(not any("a" <= c.lower() <= "z" for c in e) for e in errors), errors
    response = client_owner.post(reverse("team"), {"username": "clerk2", "password": "short", "role": "viewer"})
    assert "密码长度太短。密码必须包含至少 8 个字符。" in response.context["form"].errors["password"]


@pytest.mark.parametrize("url_name", ["member_deactivate", "member_remove"])
def test_the_last_active_owner_cannot_be_removed_or_deactivated(owner, merchant_a, url_name):
    # The other owner is deactivated, so "owner" is the last active one; the service refuses whoever asks
    # (the page also refuses acting on yourself, which would hide this rule).
    from django.core.exceptions import ValidationError

    from merchant.permissions import Actor
    from merchant.services.team import member_active_set, member_remove

    other = member(merchant_a, Role.OWNER, username="coowner", is_active=False)
    write = {"member_deactivate": lambda m, a: member_active_set(member=m, actor=a, active=False),
             "member_remove": lambda m, a: member_remove(member=m, actor=a)}[url_name]
    with pytest.raises(ValidationError, match="at least one active owner"):
        write(owner.membership, Actor.for_user(other))
    owner.refresh_from_db()
    assert owner.is_active and Membership.objects.filter(pk=owner.membership.pk).exists()


def test_a_deactivated_owner_does_not_count_as_the_remaining_owner(owner, merchant_a):
    other = member(merchant_a, Role.OWNER, username="coowner", is_active=False)
    from django.core.exceptions import ValidationError

    from merchant.permissions import Actor
    from merchant.services.team import member_role_set

    with pytest.raises(ValidationError, match="at least one active owner"):
        member_role_set(member=owner.membership, actor=Actor.for_user(other), role=Role.VIEWER)


def test_the_last_active_owner_cannot_be_demoted_via_the_page(client_owner, owner, merchant_a):
    member(merchant_a, Role.OWNER, username="coowner", is_active=False)
    response = client_owner.post(reverse("member_role", args=[owner.membership.pk]), {"role": "operator"})
    assert "A merchant needs at least one active owner." in messages_of(response)
    owner.membership.refresh_from_db()
    assert owner.membership.role == Role.OWNER


def test_an_owner_can_deactivate_another_owner_while_staying_one(client_owner, merchant_a):
    other = member(merchant_a, Role.OWNER, username="coowner")
    client_owner.post(reverse("member_deactivate", args=[other.membership.pk]))
    other.refresh_from_db()
    assert not other.is_active


@pytest.mark.parametrize("url_name", ["member_deactivate", "member_remove", "member_password"])
def test_an_owner_does_not_act_on_themselves_here(client_owner, owner, merchant_a, url_name):
    member(merchant_a, Role.OWNER, username="coowner")
    response = client_owner.post(reverse(url_name, args=[owner.membership.pk]),
                                 {"password": "Another-Ledger-77", "password_again": "Another-Ledger-77"})
    owner.refresh_from_db()
    assert owner.is_active and not owner.check_password("Another-Ledger-77")
    assert Membership.objects.filter(pk=owner.membership.pk).exists()
    assert response.status_code in (302, 400)


@pytest.mark.parametrize("role", ["operator", "viewer"])
@pytest.mark.parametrize("url_name, method", [
    ("member_deactivate", "get"), ("member_deactivate", "post"), ("member_reactivate", "post"),
    ("member_remove", "get"), ("member_remove", "post"), ("member_password", "get"), ("member_password", "post"),
])
def test_only_owners_manage_members(request, merchant_a, role, url_name, method):
    clerk = member(merchant_a, Role.VIEWER, username="clerk")
    client = request.getfixturevalue(f"client_{role}")
    response = getattr(client, method)(reverse(url_name, args=[clerk.membership.pk]),
                                       {"password": "Another-Ledger-77", "password_again": "Another-Ledger-77"})
    assert response.status_code == 403
    clerk.refresh_from_db()
    assert clerk.is_active and clerk.check_password(PASSWORD)
    assert Membership.objects.filter(pk=clerk.membership.pk).exists()


@pytest.mark.parametrize("url_name, method", [
    ("member_deactivate", "get"), ("member_deactivate", "post"), ("member_reactivate", "post"),
    ("member_remove", "get"), ("member_remove", "post"), ("member_password", "get"), ("member_password", "post"),
    ("member_role", "post"),
])
def test_another_merchants_member_is_not_found(client_owner, outsider, url_name, method):
    response = getattr(client_owner, method)(reverse(url_name, args=[outsider.membership.pk]),
                                             {"password": "Another-Ledger-77", "password_again": "Another-Ledger-77",
                                              "role": "viewer"})
    assert response.status_code == 404
    outsider.refresh_from_db()
    assert outsider.is_active and Membership.objects.filter(pk=outsider.membership.pk).exists()
