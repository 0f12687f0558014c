"""Comment text: plain text or a small Markdown subset, rendered to HTML and sanitised by nh3.

Markdown (Python-Markdown) turns the text into HTML and lets raw HTML through; nh3 (the Rust
ammonia sanitiser) then keeps only the tags below, drops every attribute except a link's address,
removes ``<script>``/``<style>`` with their content and any ``javascript:`` URL. Never hand-rolled.
"""

from __future__ import annotations

import markdown
import nh3
from django.utils.safestring import SafeString, mark_safe

ALLOWED_TAGS = {"p", "br", "em", "strong", "ul", "ol", "li", "blockquote", "code", "a"}
ALLOWED_ATTRIBUTES = {"a": {"href"}}
URL_SCHEMES = {"http", "https", "mailto"}


def comment_html(body: str) -> SafeString:
    html = markdown.markdown(body or "", output_format="html")
    clean = nh3.clean(
        html, tags=ALLOWED_TAGS, attributes=ALLOWED_ATTRIBUTES, url_schemes=URL_SCHEMES,
        link_rel="noopener noreferrer nofollow",
    )
    return mark_safe(clean)  # noqa: S308  (sanitised by nh3 on the line above)
