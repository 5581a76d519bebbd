"""Filters of the Open API reference page."""
import re

from django import template
from django.utils.html import escape
from django.utils.safestring import mark_safe

register = template.Library()
_CODE = re.compile(r"`([^`\n]+)`")


@register.filter
def code_spans(text) -> str:
    """The document's descriptions mark names as `code`: show them so, everything else escaped."""
    return mark_safe(_CODE.sub(r"<code>\1</code>", escape(str(text))))
