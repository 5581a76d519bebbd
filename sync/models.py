"""Connections to other systems and the sync engine's durable state: checkpoints, runs, call records,
breaker transitions, reconciliation reports and processed messages. Redis only carries work; what must
survive a flushed Redis or a killed worker lives here."""
from django.conf import settings
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.db.models import Q
from django.urls import reverse
from django.utils.translation import gettext_lazy as _

from merchant import secrets


class ConnectionKind(models.TextChoices):
    TOP = "top", _("TOP marketplace (Taobao/Tmall)")
    ERP = "erp", _("ERP bridge")
    DOUYIN = "douyin", _("Douyin shop (抖店)")


# The kinds that are marketplaces (their folders in sync/marketplaces): orders come from them, stock and
# logistics go to them.
MARKETPLACE_KINDS = (ConnectionKind.TOP, ConnectionKind.DOUYIN)


class SignMethod(models.TextChoices):
    MD5 = "md5", "md5"
    HMAC = "hmac", "hmac (HMAC-MD5)"
    HMAC_SHA256 = "hmac-sha256", "hmac-sha256"


class BreakerState(models.TextChoices):
    CLOSED = "closed", _("Closed (healthy)")
    OPEN = "open", _("Open (degraded to hourly full pull)")
    HALF_OPEN = "half_open", _("Half open (probing)")


class SyncModule(models.TextChoices):
    ORDERS = "orders", _("Orders (incremental)")
    ORDERS_FULL = "orders_full", _("Orders (full pull)")
    REFUNDS = "refunds", _("Refunds")
    RECONCILE = "reconcile", _("Reconciliation")
    MESSAGES = "messages", _("Message channel")
    STOCK = "stock", _("Stock push")
    PRICES = "prices", _("Price push")
    LISTING = "listing", _("Listing push")
    LOGISTICS = "logistics", _("Logistics push")
    ERP_PULL = "erp_pull", _("ERP pull")
    ERP_ORDERS = "erp_orders", _("Orders to the ERP")
    ITEMS = "items", _("Marketplace items")
    STOCK_CHECK = "stock_check", _("Stock check (read back and repair)")
    TRACE = "trace", _("Carrier traces")


class Connection(models.Model):
    merchant = models.ForeignKey("merchant.Merchant", on_delete=models.CASCADE, related_name="connections")
    kind = models.CharField(_("kind"), max_length=8, choices=ConnectionKind.choices, default=ConnectionKind.TOP)
    name = models.CharField(_("name"), max_length=100)
    gateway_url = models.URLField(_("gateway URL"), max_length=300)
    app_key = models.CharField(_("app key"), max_length=64)
    app_secret_encrypted = models.TextField(editable=False, blank=True)
    session_encrypted = models.TextField(editable=False, blank=True)
    # Douyin: the access token (in `session`) expires; the refresh token renews it (docs/douyin.md).
    refresh_token_encrypted = models.TextField(editable=False, blank=True)
    token_expires_at = models.DateTimeField(_("access token expires"), null=True, blank=True)
    shop_id = models.CharField(_("shop id"), max_length=32, blank=True)
    sign_method = models.CharField(_("sign method"), max_length=12, choices=SignMethod.choices, default=SignMethod.MD5)
    calls_per_minute = models.PositiveIntegerField(_("calls per minute"), default=100)
    orders_interval = models.PositiveIntegerField(_("order pull interval (seconds)"), default=60)
    refunds_interval = models.PositiveIntegerField(_("refund pull interval (seconds)"), default=300)
    messages_enabled = models.BooleanField(_("use the message channel"), default=True)
    is_enabled = models.BooleanField(_("enabled"), default=True)
    # Set when a permanent error (expired session, bad signature) stops the jobs; cleared when the owner
    # saves new credentials or enables the connection again.
    stopped_reason = models.CharField(_("stopped because"), max_length=300, blank=True)
    breaker_state = models.CharField(
        _("breaker"), max_length=10, choices=BreakerState.choices, default=BreakerState.CLOSED
    )
    breaker_reason = models.CharField(_("breaker reason"), max_length=300, blank=True)
    breaker_changed_at = models.DateTimeField(null=True, blank=True)
    last_success_at = models.DateTimeField(_("last success"), null=True, blank=True)
    last_error = models.CharField(_("last error"), max_length=500, blank=True)
    last_error_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    class Meta:
        verbose_name = _("connection")
        verbose_name_plural = _("connections")
        ordering = ["merchant", "name", "id"]
        indexes = [models.Index(fields=["merchant", "kind"], name="connection_kind_idx")]

    def __str__(self):
        return f"{self.name} ({self.get_kind_display()})"

    def get_absolute_url(self):
        return reverse("connection_detail", args=[self.pk])

    @property
    def app_secret(self) -> str:
        return secrets.decrypt(self.app_secret_encrypted)

    @app_secret.setter
    def app_secret(self, value: str) -> None:
        self.app_secret_encrypted = secrets.encrypt(value)

    @property
    def session(self) -> str:
        return secrets.decrypt(self.session_encrypted)

    @session.setter
    def session(self, value: str) -> None:
        self.session_encrypted = secrets.encrypt(value)

    @property
    def refresh_token(self) -> str:
        return secrets.decrypt(self.refresh_token_encrypted)

    @refresh_token.setter
    def refresh_token(self, value: str) -> None:
        self.refresh_token_encrypted = secrets.encrypt(value)

    @property
    def is_active(self) -> bool:
        """Jobs run for it: enabled and not stopped by a permanent error."""
        return self.is_enabled and not self.stopped_reason


class ConnectionTestStatus(models.TextChoices):
    QUEUED = "queued", _("Waiting for a worker")
    RUNNING = "running", _("Running")
    OK = "ok", _("Connected")
    FAILED = "failed", _("Failed")


class ConnectionTest(models.Model):
    """One "test the connection" request. A sync worker runs it (never the web request: a slow gateway must
    not hold a web thread); the page shows its progress and outcome from this row."""

    connection = models.ForeignKey(Connection, on_delete=models.CASCADE, related_name="tests")
    status = models.CharField(_("status"), max_length=8, choices=ConnectionTestStatus.choices,
                              default=ConnectionTestStatus.QUEUED)
    # A fixed text of ours (a status and a reason), never what the remote side said.
    message = models.CharField(_("result"), max_length=300, blank=True)
    # The requester's language, so the worker writes the result in it.
    language = models.CharField(max_length=16, blank=True)
    requested_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    requested_at = models.DateTimeField(_("requested"))
    started_at = models.DateTimeField(_("started"), null=True, blank=True)
    finished_at = models.DateTimeField(_("finished"), null=True, blank=True)

    class Meta:
        verbose_name = _("connection test")
        verbose_name_plural = _("connection tests")
        ordering = ["-requested_at", "-id"]
        indexes = [models.Index(fields=["connection", "-requested_at"], name="connectiontest_recent_idx")]

    def __str__(self):
        return f"{self.connection_id} test {self.requested_at:%Y-%m-%d %H:%M:%S} {self.status}"

    @property
    def is_finished(self) -> bool:
        return self.status in (ConnectionTestStatus.OK, ConnectionTestStatus.FAILED)


class Checkpoint(models.Model):
    """Per (connection, module): how far sync has fully completed, and the lease of the run in progress."""

    connection = models.ForeignKey(Connection, on_delete=models.CASCADE, related_name="checkpoints")
    module = models.CharField(max_length=12, choices=SyncModule.choices)
    # End of the last window that completed; moves only when a window completes.
    position = models.DateTimeField(null=True, blank=True)
    # For the full pull: when it finished (the incremental pull starts only after).
    completed_at = models.DateTimeField(null=True, blank=True)
    last_run_at = models.DateTimeField(null=True, blank=True)
    # A run holds the lease while it works and renews it per window; a killed worker's lease expires.
    lease_until = models.DateTimeField(null=True, blank=True)
    lease_token = models.CharField(max_length=32, blank=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["connection", "module"], name="uniq_checkpoint")]

    def __str__(self):
        return f"{self.connection_id}/{self.module} @ {self.position}"


class RunOutcome(models.TextChoices):
    RUNNING = "running", _("Running")
    OK = "ok", _("Succeeded")
    FAILED = "failed", _("Failed")
    STOPPED = "stopped", _("Stopped (permanent error)")
    SKIPPED = "skipped", _("Skipped (another run holds the lease)")
    # Its worker was killed or stopped at the time limit: what it saved (orders, checkpoint, counts) is kept.
    INTERRUPTED = "interrupted", _("Interrupted")


# How a run went about its work and what started it, in the merchant's words.
RUN_MODE_LABELS = {
    "full": _("full pull"), "incremental": _("new changes"), "days": _("day by day"), "push": _("push"),
    "handoff": _("hand-over to the ERP"), "consume": _("message channel"), "items": _("reading the shop's items"),
    "trace": _("reading carrier traces"), "check": _("reading the shop's stock back"),
}
RUN_TRIGGER_LABELS = {
    "schedule": _("on schedule"), "manual": _("started by hand"), "cli": _("command line"),
    "consumer": _("message channel"),
}
# The listing state a push carried (TOP approve_status).
LISTING_VALUE_LABELS = {"onsale": _("listed (on sale)"), "instock": _("delisted (in the warehouse)")}


class SyncRun(models.Model):
    connection = models.ForeignKey(Connection, on_delete=models.CASCADE, related_name="runs")
    module = models.CharField(_("module"), max_length=12, choices=SyncModule.choices)
    mode = models.CharField(_("mode"), max_length=16, blank=True)
    trigger = models.CharField(_("trigger"), max_length=16, blank=True)
    started_at = models.DateTimeField(_("started"))
    finished_at = models.DateTimeField(_("finished"), null=True, blank=True)
    outcome = models.CharField(_("outcome"), max_length=12, choices=RunOutcome.choices, default=RunOutcome.RUNNING)
    windows = models.PositiveIntegerField(_("windows"), default=0)
    calls = models.PositiveIntegerField(_("calls"), default=0)
    failed_calls = models.PositiveIntegerField(_("failed calls"), default=0)
    fetched = models.PositiveIntegerField(_("fetched"), default=0)
    created = models.PositiveIntegerField(_("created"), default=0)
    updated = models.PositiveIntegerField(_("updated"), default=0)
    unchanged = models.PositiveIntegerField(_("unchanged"), default=0)
    errors = models.JSONField(_("errors"), default=list, blank=True)
    window_from = models.DateTimeField(null=True, blank=True)
    window_to = models.DateTimeField(null=True, blank=True)
    # The token of the (connection, module) lease the run holds: once the checkpoint no longer holds it (the
    # lease lapsed or another run took it), the run's worker is gone and the dispatcher closes it.
    lease_token = models.CharField(max_length=32, blank=True, editable=False)

    class Meta:
        verbose_name = _("sync run")
        verbose_name_plural = _("sync runs")
        ordering = ["-started_at", "-id"]
        indexes = [
            models.Index(fields=["connection", "-started_at"], name="syncrun_recent_idx"),
            # The dispatcher looks for running runs every minute among months of finished ones.
            models.Index(fields=["connection", "module"], condition=Q(outcome="running"), name="syncrun_running_idx"),
        ]

    def __str__(self):
        return f"{self.connection_id}/{self.module} {self.started_at:%Y-%m-%d %H:%M} {self.outcome}"

    @property
    def mode_label(self) -> str:
        return str(RUN_MODE_LABELS.get(self.mode, self.mode))

    @property
    def trigger_label(self) -> str:
        return str(RUN_TRIGGER_LABELS.get(self.trigger, self.trigger))


class CallOutcome(models.TextChoices):
    OK = "ok", _("OK")
    RETRYABLE = "retryable", _("Platform error (retried)")
    RATE_LIMITED = "rate_limited", _("Rate limited")
    PERMANENT = "permanent", _("Permanent error")
    BUSINESS = "business", _("Business error")
    MALFORMED = "malformed", _("Malformed answer")
    NETWORK = "network", _("Network error")


# A business error is the marketplace refusing one item, not the connection failing: everything else
# but success counts against the connection (breaker, error rates).
HEALTHY_CALL_OUTCOMES = (CallOutcome.OK, CallOutcome.BUSINESS)


class ApiCall(models.Model):
    """One outbound call (SPEC S8); kept API_CALL_RETENTION_DAYS for run history, breaker and charts."""

    connection = models.ForeignKey(Connection, on_delete=models.CASCADE, related_name="calls")
    method = models.CharField(max_length=64)
    at = models.DateTimeField(db_index=True)
    duration_ms = models.PositiveIntegerField()
    outcome = models.CharField(max_length=12, choices=CallOutcome.choices)
    code = models.CharField(max_length=80, blank=True)
    request_id = models.CharField(max_length=64, blank=True)

    class Meta:
        indexes = [models.Index(fields=["connection", "at"], name="apicall_recent_idx")]

    def __str__(self):
        return f"{self.method} {self.outcome} {self.duration_ms} ms"

    @property
    def failed(self) -> bool:
        return self.outcome not in HEALTHY_CALL_OUTCOMES


class BreakerEvent(models.Model):
    connection = models.ForeignKey(Connection, on_delete=models.CASCADE, related_name="breaker_events")
    at = models.DateTimeField(_("time"))
    from_state = models.CharField(_("from"), max_length=10, choices=BreakerState.choices)
    to_state = models.CharField(_("to"), max_length=10, choices=BreakerState.choices)
    reason = models.CharField(_("reason"), max_length=300)

    class Meta:
        ordering = ["-at", "-id"]

    def __str__(self):
        return f"{self.from_state} -> {self.to_state}: {self.reason}"


class ReconcileReport(models.Model):
    """The missed-order check for one day (SPEC S7)."""

    connection = models.ForeignKey(Connection, on_delete=models.CASCADE, related_name="reconcile_reports")
    run = models.ForeignKey(SyncRun, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    day = models.DateField(_("day"))
    theirs = models.PositiveIntegerField(_("orders on the marketplace"))
    ours = models.PositiveIntegerField(_("orders here"))
    missing = models.PositiveIntegerField(_("missing here"))
    stale = models.PositiveIntegerField(_("older here"))
    refetched = models.PositiveIntegerField(_("re-fetched"))
    extra = models.PositiveIntegerField(_("only here"))
    sample = models.JSONField(_("examples"), default=dict, blank=True)
    created_at = models.DateTimeField(_("checked at"), auto_now_add=True)

    class Meta:
        ordering = ["-day", "-id"]
        indexes = [models.Index(fields=["connection", "-day"], name="reconcile_day_idx")]

    def __str__(self):
        return f"{self.connection_id} {self.day}: {self.missing} missing"


class ProcessedMessage(models.Model):
    """A message-channel message already stored, so a redelivery is confirmed without work (idempotency)."""

    connection = models.ForeignKey(Connection, on_delete=models.CASCADE, related_name="+")
    message_id = models.BigIntegerField()
    topic = models.CharField(max_length=80)
    processed_at = models.DateTimeField(db_index=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["connection", "message_id"], name="uniq_processed_message")]


class PushedMessage(models.Model):
    """A message the marketplace POSTed to our callback URL (Douyin's push channel), stored once by its id
    before we answer, then handled by a job (sync.pushed_messages) that marks it handled."""

    connection = models.ForeignKey(Connection, on_delete=models.CASCADE, related_name="pushed_messages")
    msg_id = models.CharField(max_length=64)
    tag = models.CharField(max_length=16)
    order_no = models.CharField(max_length=64, blank=True)
    data = models.JSONField(default=dict, blank=True)
    received_at = models.DateTimeField()
    handled_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["connection", "msg_id"], name="uniq_pushed_message")]
        indexes = [models.Index(fields=["connection", "received_at"], condition=Q(handled_at__isnull=True),
                                name="pushed_message_open_idx")]

    def __str__(self):
        return f"{self.connection_id}/{self.tag} {self.msg_id}"


class OutboxKind(models.TextChoices):
    STOCK = "stock", _("Stock")
    PRICE = "price", _("Price")
    LISTING = "listing", _("Listing")
    LOGISTICS = "logistics", _("Logistics")


# The run module (lease, run history) that pushes each kind.
PUSH_MODULES = {
    OutboxKind.STOCK: SyncModule.STOCK, OutboxKind.PRICE: SyncModule.PRICES,
    OutboxKind.LISTING: SyncModule.LISTING, OutboxKind.LOGISTICS: SyncModule.LOGISTICS,
}


class Outbox(models.Model):
    """What must reach one marketplace connection (SPEC S4): one row per (connection, kind, product), or per
    (connection, logistics, order). A change bumps `generation`; a push acknowledges the generation it
    claimed, so a burst of changes is one row and one push, and a change that lands while a push is in flight
    leaves the row pending (generation > done_generation) and is pushed again. The value pushed is always
    computed at push time from the value in force, never stored here before the push."""

    connection = models.ForeignKey(Connection, on_delete=models.CASCADE, related_name="outbox")
    kind = models.CharField(_("kind"), max_length=10, choices=OutboxKind.choices)
    product = models.ForeignKey(
        "merchant.Product", null=True, blank=True, on_delete=models.CASCADE, related_name="outbox"
    )
    order = models.ForeignKey("merchant.Order", null=True, blank=True, on_delete=models.CASCADE, related_name="outbox")
    generation = models.PositiveBigIntegerField(default=0)
    # The generation last acknowledged by the marketplace or given up on (failed_at set).
    done_generation = models.PositiveBigIntegerField(default=0)
    # generation > done_generation, kept as a column so the dispatcher's scan uses a partial index.
    pending = models.BooleanField(default=False)
    dirty_since = models.DateTimeField(_("changed since"), null=True, blank=True)
    # Next attempt; a claim moves it past the in-flight lease, so a killed worker's rows come back by themselves.
    due_at = models.DateTimeField()
    # Failed attempts for the pending change (reset by a new change after an ack or a give-up).
    attempts = models.PositiveIntegerField(_("attempts"), default=0)
    claim_token = models.CharField(max_length=32, blank=True)
    claimed_generation = models.PositiveBigIntegerField(default=0)
    last_attempt_at = models.DateTimeField(null=True, blank=True)
    pushed_value = models.CharField(_("last pushed value"), max_length=100, blank=True)
    pushed_at = models.DateTimeField(_("acknowledged at"), null=True, blank=True)
    last_error = models.CharField(_("last error"), max_length=500, blank=True)
    last_error_at = models.DateTimeField(null=True, blank=True)
    # Set when a change was given up on (a business error, or too many attempts); cleared by the next ack.
    failed_at = models.DateTimeField(_("failed permanently at"), null=True, blank=True)

    class Meta:
        verbose_name = _("outbox entry")
        verbose_name_plural = _("outbox entries")
        constraints = [
            models.UniqueConstraint(fields=["connection", "kind", "product"], condition=Q(product__isnull=False),
                                    name="uniq_outbox_product"),
            models.UniqueConstraint(fields=["connection", "kind", "order"], condition=Q(order__isnull=False),
                                    name="uniq_outbox_order"),
            models.CheckConstraint(
                condition=(Q(product__isnull=False) & Q(order__isnull=True))
                | (Q(product__isnull=True) & Q(order__isnull=False)),
                name="outbox_product_or_order",
            ),
        ]
        indexes = [
            models.Index(fields=["connection", "kind", "due_at"], condition=Q(pending=True), name="outbox_due_idx"),
            models.Index(fields=["connection", "kind"], condition=Q(failed_at__isnull=False),
                         name="outbox_failed_idx"),
        ]

    def __str__(self):
        target = f"product {self.product_id}" if self.product_id else f"order {self.order_id}"
        return f"{self.connection_id}/{self.kind} {target} g{self.generation}/{self.done_generation}"

    @property
    def pushed_value_label(self) -> str:
        """The value as the merchant reads it: a listing state in words, a number as it is."""
        return str(LISTING_VALUE_LABELS.get(self.pushed_value, self.pushed_value))


class MappingLink(models.TextChoices):
    AUTO = "auto", _("Matched by merchant code")
    MANUAL = "manual", _("Linked by hand")
    UNLINKED = "unlinked", _("Unlinked by hand")


class MarketplaceSku(models.Model):
    """Where a product lives on one marketplace: every item call needs the item's num_iid (and price calls the
    SKU's property string). Found by reading the shop's items (sync.pipelines.items, matching the SKU's outer id
    to our ERP product id) or by asking for one outer id at push time; `found=False` means the product is not
    on that marketplace, which is not a failure: pushes skip it. A link made or removed by hand (`link`) is
    kept by every refresh."""

    connection = models.ForeignKey(Connection, on_delete=models.CASCADE, related_name="+")
    product = models.ForeignKey("merchant.Product", on_delete=models.CASCADE, related_name="+")
    found = models.BooleanField(default=False)
    link = models.CharField(_("link"), max_length=10, choices=MappingLink.choices, default=MappingLink.AUTO)
    num_iid = models.BigIntegerField(null=True, blank=True)
    sku_id = models.BigIntegerField(null=True, blank=True)
    properties = models.CharField(max_length=200, blank=True)
    checked_at = models.DateTimeField()

    class Meta:
        constraints = [models.UniqueConstraint(fields=["connection", "product"], name="uniq_marketplace_sku")]
        indexes = [models.Index(fields=["connection", "num_iid"], name="marketplace_sku_item_idx")]

    def __str__(self):
        return f"{self.connection_id}/{self.product_id} -> {self.num_iid}:{self.sku_id}"


class MarketplaceListing(models.Model):
    """One SKU of the shop as the last items refresh read it (items.onsale/inventory.get, item.seller.get):
    what a product can be linked to, and what the mapping page names."""

    connection = models.ForeignKey(Connection, on_delete=models.CASCADE, related_name="+")
    num_iid = models.BigIntegerField(_("item id"))
    sku_id = models.BigIntegerField(_("SKU id"))
    title = models.CharField(_("item title"), max_length=200)
    sku_name = models.CharField(_("SKU"), max_length=200, blank=True)
    outer_id = models.CharField(_("merchant code"), max_length=64, blank=True)
    properties = models.CharField(max_length=200, blank=True)
    price = models.DecimalField(_("price"), max_digits=12, decimal_places=2, null=True, blank=True)
    quantity = models.IntegerField(_("quantity"), null=True, blank=True)
    onsale = models.BooleanField(_("on sale"), default=True)
    # The item's modified time on the marketplace: an unchanged item is not read again.
    item_modified = models.DateTimeField(null=True, blank=True)
    seen_at = models.DateTimeField()

    class Meta:
        verbose_name = _("marketplace SKU")
        verbose_name_plural = _("marketplace SKUs")
        constraints = [models.UniqueConstraint(fields=["connection", "sku_id"], name="uniq_marketplace_listing")]
        indexes = [
            models.Index(fields=["connection", "outer_id"], name="marketplace_listing_outer_idx"),
            models.Index(fields=["connection", "num_iid"], name="marketplace_listing_item_idx"),
        ]

    def __str__(self):
        return f"{self.title} {self.sku_name}".strip()


class AnswerShape(models.Model):
    """What the normal answers of one method on one connection look like (SPEC S13), learned from its first
    ANOMALY_LEARN_ANSWERS successful answers: each field's path, in how many of them it was present, the types
    it had, and the error codes the method answered meanwhile. Once learned it no longer changes, except where
    a merchant marks a group of unusual answers as expected."""

    connection = models.ForeignKey(Connection, on_delete=models.CASCADE, related_name="answer_shapes")
    method = models.CharField(max_length=64)
    answers = models.PositiveIntegerField(default=0)
    presence = models.JSONField(default=dict)  # path -> answers (of those learned from) that had it
    types = models.JSONField(default=dict)  # path -> sorted type names seen
    error_codes = models.JSONField(default=list)
    learned_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["connection", "method"], name="uniq_answer_shape")]

    def __str__(self):
        return f"{self.connection_id} {self.method}: {self.answers} answers"


class AnomalyKind(models.TextChoices):
    FIELD_MISSING = "field_missing", _("A field every earlier answer had is missing")
    TYPE_CHANGED = "type_changed", _("A field came back as another type")
    NOT_JSON = "not_json", _("A successful answer that is not JSON")
    UNKNOWN_ERROR = "unknown_error", _("An error code not seen before")


class AnswerAnomaly(models.Model):
    """A group of unusual answers: one method, one kind, one field or code (`subject`). Counted each time it is
    seen again; raised once (a notification when the group first appears)."""

    connection = models.ForeignKey(Connection, on_delete=models.CASCADE, related_name="anomalies")
    method = models.CharField(_("call"), max_length=64)
    kind = models.CharField(_("what"), max_length=16, choices=AnomalyKind.choices)
    subject = models.CharField(_("field or code"), max_length=120)
    # What was expected and what came back: type names, field names, codes, a request id; never values from
    # the answer (they may be buyers' data) nor a body that is not JSON (the remote side's words).
    example = models.JSONField(default=dict)
    count = models.PositiveIntegerField(_("times"), default=1)
    first_at = models.DateTimeField(_("first seen"))
    last_at = models.DateTimeField(_("last seen"))
    accepted_at = models.DateTimeField(null=True, blank=True)
    accepted_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL,
                                    related_name="+")

    class Meta:
        verbose_name = _("unusual answer")
        verbose_name_plural = _("unusual answers")
        ordering = ["-last_at", "-id"]
        constraints = [models.UniqueConstraint(fields=["connection", "method", "kind", "subject"],
                                               name="uniq_answer_anomaly")]

    def __str__(self):
        return f"{self.method} {self.kind} {self.subject} x{self.count}"


class StockRule(models.Model):
    """How much of a product's sellable stock one marketplace connection is offered (SPEC S11): the connection's
    rule (no product) or one SKU's override of it. Applied in this order: the share, the fixed add or subtract,
    at least / at most, 0 below the threshold; never below 0. See sync/stock_rules.py."""

    connection = models.ForeignKey(Connection, on_delete=models.CASCADE, related_name="stock_rules")
    product = models.ForeignKey("merchant.Product", null=True, blank=True, on_delete=models.CASCADE,
                                related_name="+")
    ratio_percent = models.PositiveSmallIntegerField(
        _("share pushed (%)"), default=100, validators=[MinValueValidator(0), MaxValueValidator(100)],
        help_text=_("Of the sellable stock, this share is offered (rounded down)."))
    adjust = models.IntegerField(_("add or subtract"), default=0,
                                 help_text=_("Added after the share; negative to keep some back."))
    minimum = models.PositiveIntegerField(_("at least"), null=True, blank=True,
                                          help_text=_("Never less than this, but never more than is sellable."))
    maximum = models.PositiveIntegerField(_("at most"), null=True, blank=True)
    zero_below = models.PositiveIntegerField(_("push 0 when sellable is below"), null=True, blank=True)
    auto_delist = models.BooleanField(_("delist at 0, relist when stock is back"), default=False)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name = _("stock rule")
        verbose_name_plural = _("stock rules")
        constraints = [
            models.UniqueConstraint(fields=["connection", "product"], name="uniq_stock_rule_sku"),
            models.UniqueConstraint(fields=["connection"], condition=Q(product__isnull=True),
                                    name="uniq_stock_rule_connection"),
        ]

    def __str__(self):
        return f"{self.connection_id}/{self.product_id or '*'}: {self.ratio_percent}% {self.adjust:+d}"


class StockCheck(models.Model):
    """One read-back of a marketplace's quantities (SPEC S12): how many SKUs were compared with what their stock
    rule offers, how many had drifted (a quantity changed on the marketplace, or a write that did not stick), how
    many were pushed again and confirmed, with a few examples."""

    connection = models.ForeignKey(Connection, on_delete=models.CASCADE, related_name="stock_checks")
    run = models.ForeignKey(SyncRun, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    at = models.DateTimeField(_("checked at"))
    items = models.PositiveIntegerField(_("items read"), default=0)
    skus = models.PositiveIntegerField(_("SKUs compared"), default=0)
    drifted = models.PositiveIntegerField(_("drifted"), default=0)
    repaired = models.PositiveIntegerField(_("repaired"), default=0)
    # SKUs lower on the marketplace while our orders lag behind: possibly sold there already, left alone.
    held_back = models.PositiveIntegerField(_("left for the order pull"), default=0)
    items_left = models.PositiveIntegerField(_("items left for the next check"), default=0)
    # [{"erp_product_id", "theirs", "ours", "acknowledged"}], the first few drifts.
    examples = models.JSONField(default=list)
    # The last item read when the check stopped for the call budget; the next check goes on after it.
    resume_after = models.BigIntegerField(default=0)

    class Meta:
        ordering = ["-at", "-id"]
        indexes = [models.Index(fields=["connection", "-at"], name="stock_check_recent_idx")]

    def __str__(self):
        return f"{self.connection_id} {self.at:%Y-%m-%d %H:%M}: {self.drifted}/{self.skus} drifted"


class TraceWatch(models.Model):
    """The carrier trace of one marketplace order we shipped (taobao.logistics.trace.search), as far as we have
    read it, and when to read it again: sooner while it moves, later each time it did not (sync.pipelines.trace). Kept
    until the parcel is signed for or the order leaves the shipped state."""

    connection = models.ForeignKey(Connection, on_delete=models.CASCADE, related_name="+")
    order = models.ForeignKey("merchant.Order", on_delete=models.CASCADE, related_name="+")
    active = models.BooleanField(default=True)
    due_at = models.DateTimeField()
    # Reads in a row that found no new node: the backoff's exponent.
    quiet_checks = models.PositiveSmallIntegerField(default=0)
    nodes = models.PositiveIntegerField(default=0)
    last_node_at = models.DateTimeField(_("last trace node"), null=True, blank=True)
    last_node_text = models.CharField(_("last trace node"), max_length=300, blank=True)
    carrier_name = models.CharField(max_length=100, blank=True)
    tracking_no = models.CharField(max_length=64, blank=True)
    delivered = models.BooleanField(default=False)
    checked_at = models.DateTimeField(null=True, blank=True)
    last_error = models.CharField(max_length=300, blank=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["connection", "order"], name="uniq_trace_watch")]
        indexes = [
            models.Index(fields=["connection", "due_at"], condition=Q(active=True), name="trace_watch_due_idx"),
            models.Index(fields=["order"], name="trace_watch_order_idx"),
        ]

    def __str__(self):
        return f"{self.connection_id}/order {self.order_id} due {self.due_at}"


class SchedulerTick(models.Model):
    """The next tick of one periodic job of config/cron.py, and who queued the last one. Every scheduler claims a
    due tick by moving `due_at` on with a conditional update, so each tick is queued once however many schedulers
    run (sync.scheduler)."""

    # The job's dotted path (sync.scheduler.Periodic.name).
    name = models.CharField(max_length=200, primary_key=True)
    due_at = models.DateTimeField()
    # hostname:pid of the scheduler that claimed the last tick, and when.
    claimed_by = models.CharField(max_length=200, blank=True)
    claimed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["name"]

    def __str__(self):
        return f"{self.name} due {self.due_at:%Y-%m-%d %H:%M:%S}"
