"""Template helpers of the print pages."""
import segno
from django import template
from django.utils.html import format_html
from django.utils.safestring import mark_safe
from django.utils.translation import gettext as _

register = template.Library()


@register.simple_tag
def order_qr(order_no: str):
    """The order number as a QR code in inline SVG, sized by CSS (class order-qr).

    segno writes presentation attributes only (fill=, stroke=), never style=, so it renders under the
    Content Security Policy; a full QR code (never a Micro QR, which many scanners do not read) with its
    four-module quiet zone and a white background, so it scans from any paper or screen.
    """
    # A fixed mask: scoring the eight masks is 85% of segno's time (4.4 ms a code, 2 s for 500 notes), and
    # any mask gives a valid code (ISO/IEC 18004); the scoring only avoids patterns that rarely matter printed.
    svg = segno.make(str(order_no), error="m", micro=False, mask=2).svg_inline(
        omitsize=True, svgclass="order-qr", lineclass=None, light="#fff", border=4)
    # segno's output holds only numbers and path commands, never the encoded text: safe to mark as such.
    return format_html('<span class="order-code" role="img" aria-label="{}">{}</span>',
                       _("QR code of order number %(order_no)s") % {"order_no": order_no}, mark_safe(svg))
