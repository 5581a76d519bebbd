from django.http import HttpResponseBadRequest, StreamingHttpResponse
from django.utils import timezone
from django.utils.translation import gettext as _

from merchant.permissions import Action
from merchant.spreadsheets import orders_export
from merchant.views.common import merchant_view
from merchant.views.orders import order_filter

CONTENT_TYPES = {
    "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    "csv": "text/csv; charset=utf-8",
}


@merchant_view(Action.EXPORT)
def order_export(request):
    """The filtered orders list as a streamed file, one row per item."""
    fmt = request.GET.get("format", "xlsx")
    if fmt not in CONTENT_TYPES:
        return HttpResponseBadRequest(_("Unknown export format."))
    f = order_filter(request)
    if f.is_bound and not f.is_valid():
        return HttpResponseBadRequest(_("Invalid filter: %(errors)s") % {"errors": f.errors.as_text()})
    orders = f.qs
    chunks = orders_export.xlsx_chunks(orders) if fmt == "xlsx" else orders_export.csv_chunks(orders)
    response = StreamingHttpResponse(chunks, content_type=CONTENT_TYPES[fmt])
    stamp = timezone.localtime().strftime("%Y%m%d-%H%M%S")
    response["Content-Disposition"] = f'attachment; filename="orders-{request.merchant.code}-{stamp}.{fmt}"'
    return response
