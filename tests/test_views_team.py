"""The team page: owners add users to their merchant and change roles; a merchant keeps at least one owner."""
import pytest
from django.contrib.auth import get_user_model
from django.core.cache import cache
from django.urls import reverse

from merchant.models import Membership, Role

from .factories import member
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
    assert "A merchant needs at least one owner." in messages_of(response)
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
