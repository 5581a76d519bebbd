from django.shortcuts import render

from merchant import selectors
from merchant.views.common import merchant_view


@merchant_view()
def dashboard(request):
    stats = selectors.dashboard_stats(request.merchant)
    daily = stats["daily"]
    return render(request, "merchant/dashboard.html", {
        "stats": stats,
        "orders_chart": [(d, n) for d, n, _sales in daily],
        "sales_chart": [(d, sales) for d, _n, sales in daily],
        "status_chart": [(label, n) for _s, label, n in stats["orders_by_status"]],
    })
