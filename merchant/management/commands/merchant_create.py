"""Operator CLI: a merchant and its owner in one step."""
import json

from django.contrib.auth import get_user_model
from django.contrib.auth.password_validation import validate_password
from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError, no_translations
from django.db import transaction

from merchant.models import Membership, Merchant, Role
from merchant.validators import normalise_username, validate_username


class Command(BaseCommand):
    help = "Create a merchant and its owner: merchant_create CODE --name NAME --owner USER --password PW"

    def add_arguments(self, parser):
        parser.add_argument("code")
        parser.add_argument("--name", required=True)
        parser.add_argument("--owner", required=True, help="username of the merchant's owner (created)")
        parser.add_argument("--password", required=True)

    @no_translations  # one language on the terminal: service messages in English like the command's own
    def handle(self, code, name, owner, password, **options):
        merchant = Merchant(code=code, name=name)
        try:
            merchant.full_clean()
        except ValidationError as exc:
            raise CommandError("; ".join(f"{k}: {' '.join(v)}" for k, v in exc.message_dict.items())) from None
        User = get_user_model()
        owner = normalise_username(owner)
        try:
            validate_username(owner)
        except ValidationError as exc:
            raise CommandError("owner: " + " ".join(exc.messages)) from None
        if User.objects.filter(username__iexact=owner).exists():
            raise CommandError(f"user {owner!r} already exists (a user belongs to one merchant)")
        user = User(username=owner)
        try:
            validate_password(password, user)
        except ValidationError as exc:
            raise CommandError("password: " + " ".join(exc.messages)) from None
        with transaction.atomic():
            merchant.save()
            user.set_password(password)
            user.save()
            Membership.objects.create(user=user, merchant=merchant, role=Role.OWNER)
        self.stdout.write(json.dumps({"merchant": merchant.code, "id": merchant.pk, "owner": user.username}))
