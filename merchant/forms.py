"""Forms validate input shape; the rules live in services, whose ValidationErrors land on the fields."""
from datetime import timedelta
from decimal import Decimal

from django import forms
from django.contrib.admin import forms as admin_forms
from django.contrib.auth import get_user_model
from django.contrib.auth.forms import AuthenticationForm, PasswordChangeForm
from django.contrib.auth.password_validation import validate_password
from django.core.validators import MinValueValidator
from django.utils import timezone
from django.utils.translation import gettext, ngettext
from django.utils.translation import gettext_lazy as _

from merchant.client_address import client_address
from merchant.models import (
    Carrier, CustomerGroup, ErpStatus, ImportKind, Module, NotificationEvent, OrderFlag, OrderStatus, PresaleHandoff,
    Product, RegionGroup, RobotChannel, RobotKind, Role, SwitchKind,
)
from merchant.services.login_throttle import LoginThrottled, login_attempt_begin, login_attempt_end
from merchant.validators import normalise_username, validate_storable_text, validate_username
from sync.models import Connection, ConnectionKind, StockRule
from sync.services import gateway_url_check

PRICE = {"max_digits": 12, "decimal_places": 2, "min_value": Decimal("0.01")}
DATE = forms.DateInput(attrs={"type": "date"})
# "Until turned back on" is a choice a merchant makes on purpose, never what a form starts with: a SKU that
# silently stops following the ERP for good is the costliest surprise of a pause.
UNTIL_TURNED_ON = "off"
PAUSE_CHOICES = [("1", _("for 1 hour")), ("4", _("for 4 hours")), ("24", _("for 24 hours")),
                 (UNTIL_TURNED_ON, _("until turned back on"))]
DEFAULT_PAUSE = "1"


class SearchForm(forms.Form):
    """A list page's search box. Text with NUL or an unpaired surrogate is refused here: PostgreSQL cannot look
    it up (a DataError, a server error) and it can only come from a crafted address."""

    q = forms.CharField(required=False, strip=True)

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        # One message for both, rather than Django's NUL message and ours for the same character.
        self.fields["q"].validators = [validate_storable_text]

    def query(self) -> str | None:
        """The search text ("" for none), or None when it is refused (the error is on the form)."""
        return self.cleaned_data["q"] if self.is_valid() else None


class ProductForm(forms.ModelForm):
    class Meta:
        model = Product
        fields = ["name", "barcode", "approval_number", "spec", "manufacturer", "unit", "default_price",
                  "suggested_retail_price", "batch_managed"]


class StockForm(forms.Form):
    stock = forms.IntegerField(label=_("Stock"), min_value=0)
    reason = forms.CharField(label=_("Reason"), max_length=200, required=False)
    pause_for = forms.ChoiceField(label=_("Pause auto stock sync"), choices=[("no", _("no"))] + PAUSE_CHOICES,
                                  required=False, initial="no")


class GroupPriceForm(forms.Form):
    group = forms.ChoiceField(label=_("Group"))
    price = forms.DecimalField(label=_("Price"), **PRICE)

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["group"].choices = [
            (_("Region groups"), [(f"r:{g.pk}", g.name) for g in RegionGroup.objects.all()]),
            (_("Customer groups"), [(f"c:{g.pk}", g.name) for g in CustomerGroup.objects.all()]),
        ]

    def groups(self):
        """(region_group, customer_group): exactly one is set."""
        kind, pk = self.cleaned_data["group"].split(":")
        if kind == "r":
            return RegionGroup.objects.get(pk=pk), None
        return None, CustomerGroup.objects.get(pk=pk)


class BatchForm(forms.Form):
    batch_no = forms.CharField(label=_("Batch number"), max_length=64)
    production_date = forms.DateField(label=_("Production date"), widget=DATE)
    expiry_date = forms.DateField(label=_("Expiry date"), widget=DATE)
    quantity = forms.IntegerField(label=_("Quantity"), min_value=0)

    def clean(self):
        data = super().clean()
        if data.get("production_date") and data.get("expiry_date") and data["expiry_date"] <= data["production_date"]:
            self.add_error("expiry_date", _("The expiry date must be after the production date."))
        return data


def pause_until(value: str):
    """The end of a pause chosen as hours ('1', '4', '24'), None for 'until turned back on'; nothing chosen is
    the default pause (an hour), never an open-ended one."""
    if value == UNTIL_TURNED_ON:
        return None
    return timezone.now() + timedelta(hours=int(value or DEFAULT_PAUSE))


class SwitchForm(forms.Form):
    enabled = forms.TypedChoiceField(choices=[("1", _("on")), ("0", _("off"))], coerce=lambda v: v == "1")
    pause_for = forms.ChoiceField(choices=PAUSE_CHOICES, required=False, label=_("Pause"), initial=DEFAULT_PAUSE)
    reason = forms.CharField(max_length=200, required=False, label=_("Reason"))

    def until(self):
        return None if self.cleaned_data["enabled"] else pause_until(self.cleaned_data.get("pause_for") or "")


class SkuSwitchForm(SwitchForm):
    kind = forms.ChoiceField(choices=SwitchKind.choices)


class ModuleSwitchForm(SwitchForm):
    module = forms.ChoiceField(choices=Module.choices)


class BulkProductForm(forms.Form):
    ACTIONS = [
        ("list", _("List")), ("delist", _("Delist")),
        ("pause_stock", _("Pause auto stock sync")), ("resume_stock", _("Resume auto stock sync")),
        ("pause_price", _("Pause auto price sync")), ("resume_price", _("Resume auto price sync")),
    ]
    action = forms.ChoiceField(choices=ACTIONS, label=_("Action"))
    pause_for = forms.ChoiceField(choices=PAUSE_CHOICES, required=False, label=_("Pause"),
                                  initial=DEFAULT_PAUSE)
    ids = forms.CharField(widget=forms.MultipleHiddenInput, required=False)


class ErpCodeForm(forms.Form):
    code = forms.CharField(label=_("ERP customer code"), max_length=64, required=False)


class StatusForm(forms.Form):
    status = forms.ChoiceField(label=_("New status"), choices=OrderStatus.choices)
    reason = forms.CharField(label=_("Reason"), max_length=300)


class OrderMemoForm(forms.Form):
    seller_memo = forms.CharField(label=_("Seller memo"), max_length=500, required=False,
                                  widget=forms.Textarea(attrs={"rows": 2}),
                                  help_text=_("Only your team sees it; searchable from the orders list."))
    flag = forms.ChoiceField(label=_("Flag"), choices=OrderFlag.choices, required=False)


class ExceptionClocksForm(forms.Form):
    take_hours = forms.IntegerField(label=_("A paid order not taken by the ERP after (hours)"), min_value=1,
                                    max_value=720)
    ship_hours = forms.IntegerField(label=_("An order taken by the ERP not shipped after (hours)"), min_value=1,
                                    max_value=720)
    stall_hours = forms.IntegerField(label=_("A shipped order without tracking progress for (hours)"),
                                     min_value=1, max_value=720)


class ReplenishmentDefaultsForm(forms.Form):
    lead_days = forms.IntegerField(label=_("Supplier lead time (days)"), min_value=0, max_value=365,
                                   help_text=_("From placing a purchase order to the goods being in stock."))
    review_days = forms.IntegerField(label=_("Days between purchase orders"), min_value=0, max_value=365,
                                     help_text=_("How often you place a purchase order: the order covers these "
                                                 "days too."))
    safety_days = forms.IntegerField(label=_("Safety stock (days of sales)"), min_value=0, max_value=365,
                                     help_text=_("Extra stock kept against sales above the forecast, in days of "
                                                 "forecast sales."))


class ReplenishmentProductForm(forms.Form):
    on_order = forms.IntegerField(label=_("On order"), min_value=0, max_value=10_000_000,
                                  help_text=_("Ordered from the supplier, not received yet."))
    lead_days = forms.IntegerField(label=_("Supplier lead time (days)"), min_value=0, max_value=365,
                                   required=False)
    review_days = forms.IntegerField(label=_("Days between purchase orders"), min_value=0, max_value=365,
                                     required=False)
    safety_days = forms.IntegerField(label=_("Safety stock (days of sales)"), min_value=0, max_value=365,
                                     required=False)

    def __init__(self, *args, merchant=None, **kwargs):
        super().__init__(*args, **kwargs)
        if merchant is not None:
            for name in ("lead_days", "review_days", "safety_days"):
                self.fields[name].help_text = _("Leave empty to use your default (%(days)s).") % {
                    "days": getattr(merchant, f"replenish_{name}")}
                self.fields[name].widget.attrs["placeholder"] = getattr(merchant, f"replenish_{name}")


class PresaleSettingsForm(forms.Form):
    handoff = forms.ChoiceField(label=_("Hand presale orders to the ERP"),
                                choices=PresaleHandoff.choices)


class CarrierChoiceField(forms.ModelChoiceField):
    default_error_messages = {"invalid_choice": _("Unknown carrier: choose one from the code list.")}


class LogisticsForm(forms.Form):
    carrier = CarrierChoiceField(label=_("Carrier"), queryset=Carrier.objects.filter(is_active=True),
                                 to_field_name="code")
    tracking_no = forms.CharField(label=_("Tracking number"), max_length=64)


class ShipmentLineForm(forms.Form):
    quantity = forms.IntegerField(label=_("Quantity"), min_value=0, required=False)
    batch_no = forms.CharField(label=_("Batch number"), max_length=64, required=False)
    production_date = forms.DateField(label=_("Production date"), required=False, widget=DATE)
    expiry_date = forms.DateField(label=_("Expiry date"), required=False, widget=DATE)

    def __init__(self, *args, batches=None, today=None, **kwargs):
        """With the product's usable batches (first-expiry-first-out), the line picks one of them instead of
        typing a number: its dates come with it, and the earliest-expiring one is suggested."""
        super().__init__(*args, **kwargs)
        self.picks_batch = batches is not None
        self.batches = {str(batch.pk): batch for batch in batches or ()}
        if not self.picks_batch:
            return
        for name in ("batch_no", "production_date", "expiry_date"):
            del self.fields[name]
        today = today or timezone.localdate()
        choices = [(pk, _batch_choice_label(batch, today)) for pk, batch in self.batches.items()]
        self.fields["batch"] = forms.ChoiceField(
            label=_("Batch"), required=False, initial=next(iter(self.batches), ""),
            choices=choices or [("", _("no batch in stock before its expiry"))])

    def clean(self):
        data = super().clean()
        if self.picks_batch:
            batch = self.batches.get(data.get("batch") or "")
            if data.get("quantity") and batch is None:
                self.add_error("batch", _("Choose the batch shipped.") if self.batches else
                               _("No batch of this product can be shipped: none is in stock before its expiry."))
            elif batch is not None and (data.get("quantity") or 0) > batch.quantity:
                self.add_error("batch", gettext("Batch %(batch)s holds %(quantity)d: ship the rest from another batch "
                                                "in a second shipment.") % {"batch": batch.batch_no,
                                                                           "quantity": batch.quantity})
            data.update(batch_no=batch.batch_no if batch else "", production_date=batch.production_date if batch
                        else None, expiry_date=batch.expiry_date if batch else None)
            return data
        if data.get("production_date") and data.get("expiry_date") and data["expiry_date"] <= data["production_date"]:
            self.add_error("expiry_date", _("The expiry date must be after the production date."))
        return data


def _batch_choice_label(batch, today) -> str:
    # The production date goes with the batch into the shipment; the choice shows what a picker decides by.
    return gettext("%(batch)s · expires %(expires)s (%(days)d days left) · %(quantity)d in stock") % {
        "batch": batch.batch_no, "expires": batch.expiry_date.isoformat(), "days": (batch.expiry_date - today).days,
        "quantity": batch.quantity}


class ErpStatusForm(forms.Form):
    erp_status = forms.ChoiceField(label=_("ERP status"), choices=[c for c in ErpStatus.choices if c[0]])
    message = forms.CharField(label=_("Message (optional)"), max_length=300, required=False)


# Usernames are global, so whether one is free is visible to every owner; the answer must not also say whose
# it is (this merchant's, another merchant's, staff's): one text, whatever made the name unavailable.
USERNAME_UNAVAILABLE = _("This username is not available; choose another.")


class MemberForm(forms.Form):
    # The column's length bounds the input (NFKC of a huge value is slow); the validator says what fits.
    username = forms.CharField(label=_("Username"), max_length=150)
    password = forms.CharField(label=_("Initial password"), widget=forms.PasswordInput)
    # The least a new member can do until an owner decides otherwise.
    role = forms.ChoiceField(label=_("Role"), choices=Role.choices, initial=Role.VIEWER)

    def clean_username(self):
        name = normalise_username(self.cleaned_data["username"])
        validate_username(name)
        # Case-insensitively: "Owner" beside "owner" would be a look-alike, and they share a login throttle.
        if get_user_model().objects.filter(username__iexact=name).exists():
            raise forms.ValidationError(USERNAME_UNAVAILABLE, code="unavailable")
        return name

    def clean_password(self):
        # With the would-be user, so a password close to the username is refused as for a password reset.
        candidate = get_user_model()(username=self.cleaned_data.get("username", ""))
        validate_password(self.cleaned_data["password"], candidate)
        return self.cleaned_data["password"]


class RoleForm(forms.Form):
    role = forms.ChoiceField(label=_("Role"), choices=Role.choices)


class MemberPasswordForm(forms.Form):
    """An owner sets a new password for a member; Django's validators run in the service (they know the user)."""

    password = forms.CharField(label=_("New password"), widget=forms.PasswordInput, strip=False)
    password_again = forms.CharField(label=_("New password again"), widget=forms.PasswordInput, strip=False)

    def clean(self):
        data = super().clean()
        if data.get("password") and data.get("password_again") and data["password"] != data["password_again"]:
            self.add_error("password_again", forms.ValidationError(_("The two passwords differ."), code="mismatch"))
        return data


def login_refusal_text(refusal: LoginThrottled) -> str:
    """What a refused login or password change says, in the reader's language."""
    if refusal.seconds is None:
        return gettext("Too many failed logins. Wait a few minutes and try again.")
    return ngettext(
        "Too many failed logins from your network. Try again in %(seconds)d second.",
        "Too many failed logins from your network. Try again in %(seconds)d seconds.",
        refusal.seconds,
    ) % {"seconds": refusal.seconds}


class LoginThrottleMixin:
    """Runs a form's password check under the one login throttle (merchant/services/login_throttle.py).

    A refusal is a ValidationError with code "throttled", raised before the password is looked at; the
    refusal itself is kept in `throttle_refusal` for the view (status 429, Retry-After).
    """

    throttle_refusal: LoginThrottled | None = None

    def _check_under_throttle(self, *, username: str, check):
        try:
            attempt = login_attempt_begin(username=username, address=client_address(self.request))
        except LoginThrottled as refusal:
            self.throttle_refusal = refusal
            raise forms.ValidationError(login_refusal_text(refusal), code="throttled") from None
        try:
            result = check()
        except forms.ValidationError:
            login_attempt_end(attempt=attempt, password_ok=False)
            raise
        login_attempt_end(attempt=attempt, password_ok=True)
        return result


class ThrottledAuthenticationForm(LoginThrottleMixin, AuthenticationForm):
    def clean(self):
        username, password = self.cleaned_data.get("username"), self.cleaned_data.get("password")
        if not username or not password:
            return super().clean()  # a missing field: no password is checked, nothing to count
        # The field has stripped and NFKC-normalised the name already: the throttle counts what is checked.
        return self._check_under_throttle(username=username, check=super().clean)


class ThrottledAdminAuthenticationForm(ThrottledAuthenticationForm, admin_forms.AdminAuthenticationForm):
    """The Django admin's login form (staff only, its own look) under the same throttle."""


class ThrottledPasswordChangeForm(LoginThrottleMixin, PasswordChangeForm):
    """Wrong old passwords spend the same per-name and per-address guesses as failed logins: a stolen session
    must not become an unthrottled way to test passwords."""

    def __init__(self, *args, request, **kwargs):
        super().__init__(*args, **kwargs)
        self.request = request

    def clean_old_password(self):
        return self._check_under_throttle(username=self.user.get_username(), check=super().clean_old_password)


class ThrottledAdminPasswordChangeForm(ThrottledPasswordChangeForm, admin_forms.AdminPasswordChangeForm):
    """The Django admin's own password change, under the same throttle."""


class ImportUploadForm(forms.Form):
    kind = forms.ChoiceField(label=_("What to import"), choices=ImportKind.choices)
    file = forms.FileField(label=_("File (.xlsx, .xls, .ods or .csv)"))


class ImportConfirmForm(forms.Form):
    valid_only = forms.BooleanField(label=_("Apply the valid rows only (skip the invalid ones)"), required=False)
    pause_stock = forms.BooleanField(label=_("Pause auto stock sync for these SKUs"), required=False)
    pause_price = forms.BooleanField(label=_("Pause auto price sync for these SKUs"), required=False)
    pause_for = forms.ChoiceField(label=_("Pause"), choices=PAUSE_CHOICES, required=False, initial="24")

    def pause_kinds(self) -> list[str]:
        return [kind for kind in ("stock", "price") if self.cleaned_data.get(f"pause_{kind}")]


# Settings only a TOP marketplace connection has; an ERP bridge connection's form leaves them out.
TOP_ONLY = ("session", "sign_method", "refunds_interval", "messages_enabled")


class ConnectionForm(forms.ModelForm):
    """A marketplace or ERP bridge connection's settings. The secret and the session token are write-only:
    the inputs are never filled in from the stored values, and on edit a blank input keeps the stored one.
    The kind is chosen when adding (`kind`, or the posted one) and fixed afterwards."""

    kind = forms.ChoiceField(label=_("Kind"), choices=ConnectionKind.choices, required=False,
                             widget=forms.HiddenInput)
    gateway_url = forms.URLField(label=_("Gateway URL"), max_length=300, assume_scheme="https",
                                 help_text=_("For example https://gw.api.taobao.com/router/rest"))
    app_secret = forms.CharField(label=_("App secret"), max_length=200, strip=True,
                                 widget=forms.PasswordInput(render_value=False, attrs={"autocomplete": "new-password"}))
    session = forms.CharField(label=_("Session token"), max_length=500, strip=True,
                              widget=forms.PasswordInput(render_value=False, attrs={"autocomplete": "new-password"}))

    class Meta:
        model = Connection
        fields = ["name", "gateway_url", "app_key", "app_secret", "session", "shop_id", "sign_method",
                  "calls_per_minute", "orders_interval", "refunds_interval", "messages_enabled"]

    def __init__(self, *args, kind: str | None = None, **kwargs):
        super().__init__(*args, **kwargs)
        posted = self.data.get("kind") if self.is_bound else None
        self.kind = self.instance.kind if self.instance.pk else (posted or kind or ConnectionKind.TOP)
        if self.kind not in ConnectionKind.values:
            self.kind = ConnectionKind.TOP
        self.initial["kind"] = self.kind
        for name in ("calls_per_minute", "orders_interval", "refunds_interval"):
            self.fields[name].widget.attrs["min"] = 1
            self.fields[name].validators.append(MinValueValidator(1))
        if self.kind != ConnectionKind.DOUYIN:
            del self.fields["shop_id"]
        if self.kind == ConnectionKind.DOUYIN:
            self._as_douyin()
        if self.kind == ConnectionKind.ERP:
            for name in TOP_ONLY:
                del self.fields[name]
            self.fields["gateway_url"].label = _("Bridge base URL")
            self.fields["gateway_url"].help_text = _(
                "Where your ERP bridge answers, e.g. https://erp.example.com/hub-bridge "
                "(see the ERP bridge contract).")
            self.fields["app_key"].label = _("Key")
            self.fields["app_secret"].label = _("Secret")
            self.fields["orders_interval"].label = _("Pull and order handoff interval (seconds)")
        if self.instance.pk:
            for name in ("app_secret", "session"):
                if name not in self.fields:
                    continue
                self.fields[name].required = False
                self.fields[name].help_text = _("Stored. Leave blank to keep it.") if self._stored(name) else _(
                    "Not set.")

    def _as_douyin(self) -> None:
        """A self-use app on the Douyin shop open platform: the token is obtained, not typed; the shop id says
        which shop."""
        del self.fields["session"]
        self.fields["shop_id"].required = True
        self.fields["shop_id"].label = _("Shop id")
        self.fields["shop_id"].help_text = _("The number Douyin's seller centre shows for the shop (店铺ID).")
        self.fields["gateway_url"].help_text = _("For example https://openapi-fxg.jinritemai.com")
        self.fields["sign_method"].choices = [("hmac-sha256", "hmac-sha256"), ("md5", "md5")]
        self.fields["messages_enabled"].label = _("Take the messages Douyin pushes to us")
        if not self.instance.pk:
            self.initial.setdefault("gateway_url", "https://openapi-fxg.jinritemai.com")
            self.initial.setdefault("sign_method", "hmac-sha256")

    def _stored(self, name: str) -> bool:
        return bool(getattr(self.instance, f"{name}_encrypted"))

    def clean_kind(self) -> str:
        return self.kind

    def clean_gateway_url(self) -> str:
        """The service checks again on save; checking here shows the reason next to the field at once."""
        from django.core.exceptions import ValidationError

        url = self.cleaned_data["gateway_url"]
        try:
            gateway_url_check(url)
        except ValidationError as error:
            raise forms.ValidationError(error.message_dict["gateway_url"]) from None
        return url

    def settings(self) -> dict:
        """The cleaned values for the create / update services of the form's kind (secrets as typed, maybe
        blank); an ERP form has no TOP-only settings."""
        return {name: self.cleaned_data[name] for name in self.Meta.fields if name in self.fields}


SYNC_JOBS = [("orders", _("Sync orders now")), ("orders_full", _("Full pull (last 90 days)")),
             ("refunds", _("Refunds now")), ("reconcile", _("Check for missed orders")),
             ("stock_check", _("Check the marketplace's stock and repair it")),
             ("erp_pull", _("Pull from the ERP now")), ("erp_orders", _("Hand orders to the ERP now"))]
RECONCILE_MAX_DAYS = 31


class SyncNowForm(forms.Form):
    job = forms.ChoiceField(label=_("Job"), choices=SYNC_JOBS)
    first = forms.DateField(label=_("From day"), required=False, widget=DATE)
    last = forms.DateField(label=_("To day"), required=False, widget=DATE)

    def clean(self):
        data = super().clean()
        first, last = data.get("first"), data.get("last")
        if data.get("job") != "reconcile":
            data["first"] = data["last"] = None
            return data
        if first and last and last < first:
            self.add_error("last", _("The last day must not be before the first day."))
        elif (last or first) and (last or first) >= timezone.localdate():
            self.add_error("last", _("Only days that are over can be checked."))
        elif first and last and (last - first).days >= RECONCILE_MAX_DAYS:
            self.add_error("last", _("Check at most %(n)s days at once.") % {"n": RECONCILE_MAX_DAYS})
        return data


class ApiKeyForm(forms.Form):
    name = forms.CharField(label=_("Name"), max_length=100, required=False,
                           help_text=_("Where the key is used, e.g. \"ERP production\"."))


class RobotChannelForm(forms.Form):
    """A notification robot's settings. The webhook address (it holds the robot's token) and the signing secret
    are write-only: never filled in from the stored values; on edit a blank input keeps the stored one. The kind
    of robot is chosen when adding and fixed afterwards."""

    name = forms.CharField(label=_("Name"), max_length=100, help_text=_("E.g. \"Warehouse group\"."))
    kind = forms.ChoiceField(label=_("Robot"), choices=RobotKind.choices)
    webhook_url = forms.CharField(
        label=_("Webhook address"), max_length=500, strip=True,
        widget=forms.PasswordInput(render_value=False, attrs={"autocomplete": "off", "spellcheck": "false"}),
        help_text=_("Copy it from the robot's settings in the group chat. It contains the robot's token and is "
                    "kept secret."))
    secret = forms.CharField(
        label=_("Signing secret"), max_length=200, strip=True, required=False,
        widget=forms.PasswordInput(render_value=False, attrs={"autocomplete": "new-password"}),
        help_text=_("Only when the robot's security setting is \"sign\" (DingTalk: 加签, starts with SEC; Feishu: "
                    "签名校验). WeCom robots have none."))
    clear_secret = forms.BooleanField(label=_("Remove the stored signing secret"), required=False)
    events = forms.MultipleChoiceField(label=_("Send these events"), choices=NotificationEvent.choices,
                                       widget=forms.CheckboxSelectMultiple, required=False)
    is_enabled = forms.BooleanField(label=_("Enabled"), required=False, initial=True)

    def __init__(self, *args, channel: RobotChannel | None = None, **kwargs):
        super().__init__(*args, **kwargs)
        self.channel = channel
        if channel is None:
            del self.fields["clear_secret"]
            self.initial.setdefault("events", list(NotificationEvent.values))
            return
        self.fields["kind"].disabled = True
        self.fields["webhook_url"].required = False
        self.fields["webhook_url"].help_text = _("Stored (%(host)s, token ending in …%(hint)s). Leave blank to keep "
                                                 "it.") % {"host": channel.webhook_host, "hint": channel.token_hint}
        self.fields["secret"].help_text = _("Stored. Leave blank to keep it.") if channel.has_secret else _("Not set.")
        if not channel.has_secret:
            del self.fields["clear_secret"]
        self.initial.update({"name": channel.name, "kind": channel.kind, "events": channel.events,
                             "is_enabled": channel.is_enabled})


class StockRuleForm(forms.ModelForm):
    """A connection's stock rule, or one SKU's override of it (SPEC S11)."""

    class Meta:
        model = StockRule
        fields = ["ratio_percent", "adjust", "minimum", "maximum", "zero_below", "auto_delist"]
        widgets = {name: forms.NumberInput(attrs={"class": "narrow"})
                   for name in ("ratio_percent", "adjust", "minimum", "maximum", "zero_below")}


class FollowUpAssignForm(forms.Form):
    assignee = forms.ModelChoiceField(label=_("Assign to"), queryset=get_user_model().objects.none(),
                                      required=False, empty_label=_("Nobody"))

    def __init__(self, *args, merchant, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["assignee"].queryset = get_user_model().objects.filter(
            membership__merchant=merchant, is_active=True).order_by("username")
        self.fields["assignee"].label_from_instance = lambda user: user.get_full_name() or user.username


class FollowUpNoteForm(forms.Form):
    note = forms.CharField(label=_("Note"), required=False, max_length=2000, validators=[validate_storable_text],
                           widget=forms.Textarea(attrs={"rows": 3}))
