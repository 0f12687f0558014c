from django import template
from django.utils.safestring import SafeString

from analysis.themes.markup import comment_html

register = template.Library()


@register.filter
def comment_markup(body: str) -> SafeString:
    return comment_html(body)
