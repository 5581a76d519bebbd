"""Marketplace connections (SPEC M12): every role may look, only owners change or run anything.

The app secret and the session token never reach a page: forms never fill them in and templates only say
whether one is stored.
"""
from datetime import timedelta

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.http import JsonResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from merchant.forms import ConnectionForm, StockRuleForm, SyncNowForm
from merchant.permissions import Action
from merchant.views.common import (
    confirm_first, form_error_from, merchant_view, paginate, querystring_without_page,
)
from sync import anomalies, connection_tests, mapping_selectors, outbound_status, selectors, services, stock_rules
from sync.erp import selectors as erp_selectors
from sync.erp import services as erp_services
from sync.marketplaces import adapter_class, is_marketplace
from sync.marketplaces.douyin import services as douyin_services
from sync.marketplaces.top import services as top_services
from sync.models import AnswerAnomaly, Connection, ConnectionKind, RunOutcome, StockCheck, StockRule, SyncModule

POST = ("POST",)


def _get_connection_for_user(request, pk) -> Connection:
    return get_object_or_404(Connection, merchant=request.merchant, pk=pk)


def hourly_points(points) -> list[tuple[str, float]]:
    """(bucket start, value) pairs as bar_chart points labelled with the local hour."""
    return [(timezone.localtime(start).strftime("%H:00"), value) for start, value in points]


@merchant_view()
def connection_list(request):
    connections = selectors.connections_for_merchant(request.merchant)
    return render(request, "merchant/connections/list.html", {
        "healths": selectors.connections_health(connections),
    })


@merchant_view(Action.CONNECTIONS, ("GET", "POST"))
def connection_add(request):
    form = ConnectionForm(request.POST or None, kind=request.GET.get("kind"))
    if request.method == "POST" and form.is_valid():
        create = {ConnectionKind.ERP: erp_services.erp_connection_create,
                  ConnectionKind.DOUYIN: douyin_services.douyin_connection_create}.get(form.kind,
                                                                                       top_services.connection_create)
        try:
            connection = create(merchant=request.merchant, actor=request.actor, **form.settings())
            messages.success(request, _("Connection %(name)s added.") % {"name": connection.name})
            if connection.kind == ConnectionKind.DOUYIN:
                # The shop's access token comes from Douyin: a worker obtains it with the first test.
                connection_tests.connection_test_request(connection=connection, actor=request.actor,
                                                         language=request.LANGUAGE_CODE)
                messages.info(request, _("Getting the shop's access token from Douyin: the test below shows "
                                         "when it is done."))
            return redirect(connection)
        except ValidationError as e:
            form_error_from(form, e)
    return render(request, "merchant/connections/form.html",
                  {"form": form, "form_kind": form.kind, "connection": None, "kinds": ConnectionKind.choices},
                  status=400 if request.method == "POST" else 200)


@merchant_view(Action.CONNECTIONS, ("GET", "POST"))
def connection_edit(request, pk):
    connection = _get_connection_for_user(request, pk)
    # The form works on its own copy: a rejected form must not leave changed values on `connection`.
    form = ConnectionForm(request.POST or None, instance=Connection.objects.get(pk=connection.pk))
    if request.method == "POST" and form.is_valid():
        try:
            update = {ConnectionKind.ERP: erp_services.erp_connection_update,
                      ConnectionKind.DOUYIN: douyin_services.douyin_connection_update}.get(
                connection.kind, top_services.connection_update)
            update(connection=connection, actor=request.actor, **form.settings())
            messages.success(request, _("Connection saved."))
            return redirect(connection)
        except ValidationError as e:
            form_error_from(form, e)
    return render(request, "merchant/connections/form.html",
                  {"form": form, "form_kind": form.kind, "connection": connection},
                  status=400 if request.method == "POST" else 200)


@merchant_view()
def connection_detail(request, pk):
    connection = _get_connection_for_user(request, pk)
    detail = selectors.connection_detail(connection)
    yesterday = timezone.localdate() - timedelta(days=1)
    return render(request, "merchant/connections/detail.html", {
        "connection": connection,
        **detail,
        "error_rate_chart": hourly_points(detail["series"].error_rate),
        "lag_chart": hourly_points(detail["series"].lag),
        "sync_form": SyncNowForm(initial={"job": "reconcile", "first": yesterday, "last": yesterday}),
        "erp": erp_selectors.erp_state(connection) if connection.kind == ConnectionKind.ERP else None,
        "failed_outcomes": selectors.FAILED_RUNS,
        "push_counts": outbound_status.connection_push_counts(connection),
        "mapping": mapping_selectors.mapping_summary(connection) if _offers(connection, "items") else None,
        "offers": _offers_all(connection),
        **_test_context(connection),
        "unusual_answers": _unusual_answers(connection),
        **_stock_rule_context(connection),
        "stock_checks": StockCheck.objects.filter(connection=connection)[:10],
    })


def _offers(connection, capability: str) -> bool:
    """The connection's marketplace offers this (sync.marketplaces.base.Marketplace.supports)."""
    return is_marketplace(connection.kind) and capability in adapter_class(connection.kind).supports


def _offers_all(connection) -> frozenset:
    return adapter_class(connection.kind).supports if is_marketplace(connection.kind) else frozenset()


def _stock_rule_context(connection) -> dict:
    if not is_marketplace(connection.kind):
        return {}
    rule = StockRule.objects.filter(connection=connection, product__isnull=True).first()
    return {"stock_rule": rule, "stock_rule_text": stock_rules.rule_sentence(rule),
            "stock_rule_form": StockRuleForm(instance=rule),
            "stock_rule_overrides": StockRule.objects.filter(connection=connection, product__isnull=False).count()}


def _unusual_answers(connection) -> list[dict]:
    """Open groups of unusual answers first, then the ten last accepted, each with its sentence."""
    groups = list(AnswerAnomaly.objects.filter(connection=connection, accepted_at__isnull=True)[:50]) + list(
        AnswerAnomaly.objects.filter(connection=connection, accepted_at__isnull=False).order_by("-accepted_at")[:10])
    return [{"group": g, "sentence": anomalies.anomaly_sentence(g)} for g in groups]


@merchant_view(Action.CONNECTIONS, POST)
def connection_anomaly_accept(request, pk, anomaly_pk):
    connection = _get_connection_for_user(request, pk)
    anomaly = get_object_or_404(AnswerAnomaly, connection=connection, pk=anomaly_pk)
    anomalies.anomaly_accept(anomaly=anomaly, actor=request.user)
    messages.success(request, _("Marked as expected: answers like this are no longer raised."))
    return redirect(connection.get_absolute_url() + "#unusual-answers")


def _test_context(connection) -> dict:
    test = connection_tests.connection_test_latest(connection)
    return {"last_test": test, "test_stalled": bool(test and connection_tests.connection_test_stalled(test))}


@merchant_view(Action.CONNECTIONS, POST)
def connection_set_enabled(request, pk, enabled: bool):
    connection = _get_connection_for_user(request, pk)
    if not enabled:
        ask = confirm_first(
            request, title=_("Disable %(name)s?") % {"name": connection.name},
            message=_("While it is disabled no order, refund, stock or price sync runs for this connection; changes "
                      "made meanwhile wait and are sent when you enable it again."),
            button=_("Disable the connection"), back=connection.get_absolute_url())
        if ask is not None:
            return ask
    services.connection_set_enabled(connection=connection, enabled=enabled, actor=request.actor)
    messages.success(request, _("Connection enabled.") if enabled else _("Connection disabled."))
    return redirect(connection)


@merchant_view(Action.CONNECTIONS, POST)
def connection_test(request, pk):
    """Queue the test on a sync worker and return at once; the connection page shows its progress."""
    connection = _get_connection_for_user(request, pk)
    connection_tests.connection_test_request(connection=connection, actor=request.actor,
                                             language=getattr(request, "LANGUAGE_CODE", ""))
    messages.info(request, _("The connection test is queued; its result appears below."))
    return redirect(connection.get_absolute_url() + "#connection-test")


@merchant_view()
def connection_test_status(request, pk):
    """The latest test of the connection as JSON, for the page to follow its progress."""
    connection = _get_connection_for_user(request, pk)
    context = _test_context(connection)
    test = context["last_test"]
    if test is None:
        return JsonResponse({"status": None, "finished": True})
    return JsonResponse({"status": test.status, "label": str(test.get_status_display()), "finished": test.is_finished,
                         "stalled": context["test_stalled"], "message": test.message})


QUEUED = {
    "orders": gettext_lazy("An order sync is queued."),
    "orders_full": gettext_lazy("A full pull is queued."),
    "refunds": gettext_lazy("A refund sync is queued."),
    "reconcile": gettext_lazy("The missed-order check is queued."),
    "stock_check": gettext_lazy("The stock check is queued."),
    "erp_pull": gettext_lazy("A pull from the ERP is queued."),
    "erp_orders": gettext_lazy("Handing orders to the ERP is queued."),
}


@merchant_view(Action.CONNECTIONS, POST)
def connection_sync(request, pk):
    connection = _get_connection_for_user(request, pk)
    form = SyncNowForm(request.POST)
    if not form.is_valid():
        for errors in form.errors.values():
            for error in errors:
                messages.error(request, error)
        return redirect(connection)
    data = form.cleaned_data
    erp = connection.kind == ConnectionKind.ERP
    if (data["job"] in erp_services.SYNC_NOW_JOBS) != erp:
        messages.error(request, _("This job does not apply to this kind of connection."))
        return redirect(connection)
    if erp:
        erp_services.erp_sync_now(connection=connection, job=data["job"], actor=request.actor)
    else:
        services.connection_sync_now(connection=connection, job=data["job"], actor=request.actor,
                                     first=data["first"], last=data["last"])
    messages.success(request, QUEUED[data["job"]])
    if not connection.is_active:
        # The job is queued but skips a disabled or stopped connection; say so instead of a silent no-op.
        messages.warning(request, _("The connection is disabled or stopped: the job will do nothing until "
                                    "the connection is enabled again."))
    return redirect(connection)


@merchant_view()
def connection_runs(request, pk):
    connection = _get_connection_for_user(request, pk)
    module = request.GET.get("module", "")
    outcome = request.GET.get("outcome", "")
    runs = selectors.runs_for(connection, module=module, outcome=outcome)
    return render(request, "merchant/connections/runs.html", {
        "connection": connection,
        "page": paginate(request, runs),
        "query": querystring_without_page(request),
        "modules": SyncModule.choices,
        "outcomes": RunOutcome.choices,
        "module": module,
        "outcome": outcome,
        "failed_outcomes": selectors.FAILED_RUNS,
    })
