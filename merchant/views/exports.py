from django.conf import settings
from django.http import HttpResponseBadRequest, StreamingHttpResponse
from django.utils import timezone
from django.utils.translation import gettext as _

from merchant.permissions import Action
from merchant.spreadsheets import orders_export
from merchant.views.common import merchant_view
from merchant.views.order_bulk import SelectionTooLarge, orders_selected
from merchant.views.orders import order_filter

CONTENT_TYPES = {
    "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    "csv": "text/csv; charset=utf-8",
    "csv-spreadsheet": "text/csv; charset=utf-8",  # the csv for opening in Excel, WPS or LibreOffice
}


@merchant_view(Action.EXPORT, methods=("GET", "POST"))
def order_export(request):
    """The filtered orders list, or the orders ticked on it (posted), as a streamed file, one row per item."""
    data = request.POST if request.method == "POST" else request.GET
    fmt = data.get("format", "xlsx")
    if fmt not in CONTENT_TYPES:
        return HttpResponseBadRequest(_("Unknown export format."))
    if request.method == "POST":
        try:
            orders = orders_selected(request.merchant, data)
        except SelectionTooLarge:
            return HttpResponseBadRequest(_("More than %(max)s orders match: narrow the filters, then try again.")
                                          % {"max": f"{settings.ORDER_SELECTION_MAX:,}"})
    else:
        f = order_filter(request)
        if f.is_bound and not f.is_valid():
            return HttpResponseBadRequest(_("Invalid filter: %(errors)s") % {"errors": f.errors.as_text()})
        orders = f.qs
    if fmt == "xlsx":
        chunks = orders_export.xlsx_chunks(orders)
    else:
        chunks = orders_export.csv_chunks(orders, for_spreadsheets=fmt == "csv-spreadsheet")
    response = StreamingHttpResponse(chunks, content_type=CONTENT_TYPES[fmt])
    stamp = timezone.localtime().strftime("%Y%m%d-%H%M%S")
    extension = "xlsx" if fmt == "xlsx" else "csv"
    response["Content-Disposition"] = f'attachment; filename="orders-{request.merchant.code}-{stamp}.{extension}"'
    return response
