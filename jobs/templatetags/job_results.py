"""Which template shows a finished job's result, wherever the job's status is included."""

from __future__ import annotations

from typing import Any

from django import template
from django.template.loader import select_template

register = template.Library()


@register.simple_tag
def job_result_template(job: Any) -> str:
    """An app may show its job's result its own way (tables, downloads) in jobs/results/<kind>.html;
    looking it up by name keeps jobs free of imports from the apps that start jobs."""
    name = select_template([f"jobs/results/{job.kind}.html", "jobs/results/default.html"]).template.name
    return str(name)
