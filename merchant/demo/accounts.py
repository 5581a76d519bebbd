"""The demo merchants, their users and roles, and the platform admin; all share the public demo password."""
from dataclasses import dataclass, field

from django.contrib.auth import get_user_model
from django.contrib.auth.hashers import make_password

from merchant.models import Membership, Merchant, Role

PASSWORD = "demo12345"


@dataclass(frozen=True)
class MerchantPlan:
    """What the demo generates for one merchant."""

    code: str
    name: str
    users: tuple  # (username, role)
    matched_products: int
    pending_products: int
    orders: int
    erp_codes: int
    erp_code_format: str
    product_id_format: str
    storefront_prefix: str
    settings: dict = field(default_factory=dict)
    extras: bool = False  # switches, held values, group prices


MERCHANTS = [
    MerchantPlan(
        code="demo", name="示例医药 Demo Pharma",
        users=(("demo_owner", Role.OWNER), ("demo_operator", Role.OPERATOR), ("demo_viewer", Role.VIEWER)),
        matched_products=175, pending_products=25, orders=500, erp_codes=50, erp_code_format="KH{:05d}",
        product_id_format="P{:05d}", storefront_prefix="DM",
        settings={"safety_stock": 2, "expiry_exclusion_days": 30, "low_stock_threshold": 10}, extras=True,
    ),
    MerchantPlan(
        code="other", name="他山医药 Other Pharma", users=(("other_owner", Role.OWNER),),
        matched_products=12, pending_products=3, orders=20, erp_codes=10, erp_code_format="C-{:04d}",
        product_id_format="OT-{:04d}", storefront_prefix="OT",
    ),
]
LOGINS = ["admin"] + [username for plan in MERCHANTS for username, _role in plan.users]


def ensure_users() -> dict:
    """The platform admin and every merchant's users, with the demo password; returns username -> user."""
    User = get_user_model()
    # One hash for all demo accounts: PBKDF2 costs ~0.5 s per call, and these passwords are public anyway.
    hashed = make_password(PASSWORD)
    users = {}
    admin, _created = User.objects.get_or_create(username="admin", defaults={"email": "admin@example.com"})
    admin.is_staff = admin.is_superuser = admin.is_active = True
    admin.password = hashed
    admin.save()
    users["admin"] = admin
    for plan in MERCHANTS:
        merchant, _created = Merchant.objects.get_or_create(
            code=plan.code, defaults={"name": plan.name, **plan.settings}
        )
        for username, role in plan.users:
            user, _created = User.objects.get_or_create(
                username=username, defaults={"email": f"{username}@example.com"}
            )
            user.is_active = True
            user.password = hashed
            user.save()
            Membership.objects.update_or_create(user=user, defaults={"merchant": merchant, "role": role})
            users[username] = user
    return users
