"""The notification centre (every member) and the merchant's notification robots (owners only, SPEC M15).

A robot's webhook address and signing secret never reach a page: forms never fill them in, and pages show the
host and the token's last four characters at most."""
from django.contrib import messages
from django.core.exceptions import ValidationError
from django.http import JsonResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.translation import gettext as _

from merchant import selectors
from merchant.forms import RobotChannelForm
from merchant.models import Delivery, DeliveryStatus, Notification, RobotChannel
from merchant.permissions import Action
from merchant.services import notifications as service
from merchant.views.common import form_error_from, merchant_view, paginate

POST = ("POST",)


def _get_notification_for_user(request, pk) -> Notification:
    return get_object_or_404(Notification, merchant=request.merchant, pk=pk)


def _get_channel_for_user(request, pk) -> RobotChannel:
    return get_object_or_404(RobotChannel, merchant=request.merchant, pk=pk)


def _back(request, default: str):
    target = request.POST.get("next", "")
    if target and url_has_allowed_host_and_scheme(target, allowed_hosts={request.get_host()},
                                                  require_https=request.is_secure()):
        return redirect(target)
    return redirect(default)


@merchant_view()
def notification_list(request):
    page = paginate(request, selectors.notifications_for(request.merchant, request.user))
    return render(request, "merchant/notifications/list.html", {"page": page})


@merchant_view(methods=POST)
def notification_read(request, pk):
    notification = _get_notification_for_user(request, pk)
    service.notification_mark_read(notification=notification, user=request.user)
    return _back(request, "notification_list")


@merchant_view(methods=POST)
def notifications_read_all(request):
    service.notifications_mark_all_read(merchant=request.merchant, user=request.user)
    messages.success(request, _("All notifications are marked read."))
    return _back(request, "notification_list")


@merchant_view(Action.ROBOTS)
def robot_channel_list(request):
    channels = list(RobotChannel.objects.filter(merchant=request.merchant))
    latest = {}
    for delivery in Delivery.objects.filter(channel__in=channels, notification__isnull=True).order_by(
            "channel_id", "-created_at", "-id"):
        latest.setdefault(delivery.channel_id, delivery)
    return render(request, "merchant/notifications/channels.html", {
        "rows": [(channel, latest.get(channel.pk)) for channel in channels],
    })


def _channel_form_page(request, form, channel, status=200):
    return render(request, "merchant/notifications/channel_form.html", {"form": form, "channel": channel},
                  status=status)


@merchant_view(Action.ROBOTS, ("GET", "POST"))
def robot_channel_add(request):
    form = RobotChannelForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        try:
            channel = service.robot_channel_create(
                merchant=request.merchant, actor=request.actor, name=data["name"], kind=data["kind"],
                webhook_url=data["webhook_url"], secret=data["secret"], events=data["events"],
                is_enabled=data["is_enabled"])
        except ValidationError as error:
            form_error_from(form, error)
        else:
            messages.success(request, _("Robot %(name)s added. Send a test message to check it.")
                             % {"name": channel.name})
            return redirect("robot_channel_list")
    return _channel_form_page(request, form, None, status=400 if request.method == "POST" else 200)


@merchant_view(Action.ROBOTS, ("GET", "POST"))
def robot_channel_edit(request, pk):
    channel = _get_channel_for_user(request, pk)
    form = RobotChannelForm(request.POST or None, channel=channel)
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        try:
            service.robot_channel_update(
                channel=channel, actor=request.actor, name=data["name"], events=data["events"],
                is_enabled=data["is_enabled"], webhook_url=data["webhook_url"], secret=data["secret"],
                clear_secret=data.get("clear_secret", False))
        except ValidationError as error:
            form_error_from(form, error)
        else:
            messages.success(request, _("Robot %(name)s saved.") % {"name": data["name"]})
            return redirect("robot_channel_list")
    return _channel_form_page(request, form, channel, status=400 if request.method == "POST" else 200)


@merchant_view(Action.ROBOTS, ("GET", "POST"))
def robot_channel_delete(request, pk):
    """GET asks for confirmation; POST deletes."""
    channel = _get_channel_for_user(request, pk)
    if request.method == "POST":
        service.robot_channel_delete(channel=channel, actor=request.actor)
        messages.success(request, _("Robot %(name)s deleted.") % {"name": channel.name})
        return redirect("robot_channel_list")
    return render(request, "merchant/notifications/channel_delete.html", {"channel": channel})


@merchant_view(Action.ROBOTS, POST)
def robot_channel_set_enabled(request, pk, enabled: bool):
    channel = _get_channel_for_user(request, pk)
    service.robot_channel_set_enabled(channel=channel, enabled=enabled, actor=request.actor)
    messages.success(request, (_("Robot %(name)s enabled.") if enabled else _("Robot %(name)s disabled."))
                     % {"name": channel.name})
    return redirect("robot_channel_list")


@merchant_view(Action.ROBOTS, POST)
def robot_channel_test(request, pk):
    """Queue a test message on a sync worker and return at once; the list follows its outcome."""
    channel = _get_channel_for_user(request, pk)
    service.robot_channel_test(channel=channel, actor=request.actor, language=getattr(request, "LANGUAGE_CODE", ""))
    messages.info(request, _("The test message is queued; its result appears next to the robot."))
    return redirect("robot_channel_list")


@merchant_view(Action.ROBOTS)
def robot_channel_test_status(request, pk):
    """The robot's latest test as JSON, for the list page to follow it."""
    channel = _get_channel_for_user(request, pk)
    test = Delivery.objects.filter(channel=channel, notification__isnull=True).order_by("-created_at", "-id").first()
    if test is None:
        return JsonResponse({"status": None, "finished": True})
    return JsonResponse({"status": test.status, "label": str(test.get_status_display()),
                         "finished": test.status != DeliveryStatus.PENDING, "error": test.error})
