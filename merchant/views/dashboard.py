from django.shortcuts import render

from merchant import selectors
from merchant.selectors.presale import presale_frozen_summary
from merchant.views.common import merchant_view
from merchant.views.connections import hourly_points
from sync import outbound_status
from sync import selectors as sync_selectors


@merchant_view()
def dashboard(request):
    stats = selectors.dashboard_stats(request.merchant)
    daily = stats["daily"]
    connections = list(sync_selectors.connections_for_merchant(request.merchant))
    series = sync_selectors.connections_series(connections)
    paused_modules, paused_skus = selectors.paused_switches(request.merchant)
    return render(request, "merchant/dashboard.html", {
        "stats": stats,
        "orders_chart": [(d, n) for d, n, _sales in daily],
        "sales_chart": [(d, sales) for d, _n, sales in daily],
        "status_chart": [(label, n) for _s, label, n in stats["orders_by_status"]],
        "connections": [
            (health, hourly_points(series[health.connection.pk].error_rate),
             hourly_points(series[health.connection.pk].lag))
            for health in sync_selectors.connections_health(connections)
        ],
        "stopped_connections": [c for c in connections if c.stopped_reason],
        "paused_modules": list(paused_modules.order_by("module")),
        "paused_sku_count": paused_skus.count(),
        "failed_pushes": outbound_status.failed_pushes_by_connection(request.merchant),
        "recent_failures": sync_selectors.recent_failed_runs(request.merchant),
        "presale": presale_frozen_summary(request.merchant),
    })
