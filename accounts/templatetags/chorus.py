from typing import Any

from django import template

register = template.Library()


@register.filter
def pairs(value: Any) -> list[tuple[str, Any]]:
    """A dict's items for templates. `{{ d.items }}` would look up a key called "items" first,
    and audit details may well have one."""
    if not isinstance(value, dict):
        return []
    return [(str(k), v) for k, v in value.items()]
