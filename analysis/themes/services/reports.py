"""The themes report job (Markdown or Word, for the team or the PPI group)."""

from __future__ import annotations

from typing import Any

from django.core.exceptions import ValidationError

from accounts import policy
from accounts.models import User
from accounts.policy import Perm
from accounts.services import audit_record

REPORT_KIND = "themes_report"
# The report ---------------------------------------------------------------------------------------


def themes_report_start(*, actor: User, study_id: int, fmt: Any, audience: Any, ip: str | None = None) -> Any:
    """Start the report job (leads: an export). ``fmt`` is md or docx; ``audience`` team or ppi."""
    from analysis.themes.report import AUDIENCES, FORMATS
    from jobs.services import job_create

    study = policy.study_get_for_user(user=actor, study_id=study_id, perm=Perm.EXPORT)
    if fmt not in FORMATS:
        raise ValidationError({"format": "Choose md (Markdown) or docx (Word)."})
    if audience not in AUDIENCES:
        raise ValidationError({"audience": "Choose team or ppi."})
    job = job_create(study=study, kind=REPORT_KIND, created_by=actor, perm=Perm.EXPORT,
                     params={"format": fmt, "audience": audience},
                     task="themes.report")
    audit_record(actor=actor, action="themes.report", study=study, obj=job, ip=ip,
                 details={"format": fmt, "audience": audience})
    return job


def themes_report_run(*, job_id: int) -> Any:
    from analysis.themes import report
    from jobs.services import job_attach_file, job_progress, job_run

    def work(job: Any) -> dict[str, Any]:
        fmt, audience = job.params.get("format"), job.params.get("audience")
        job_progress(job_id=job.pk, done=0, total=1)
        # As its creator sees the study now: a member removed since gets nothing, consent is read today.
        policy.membership_forget(user=job.created_by)
        title, themes = report.report_content(user=job.created_by, study=job.study, audience=audience)
        slug = "ppi-summary" if audience == "ppi" else "themes"
        if fmt == "docx":
            job_attach_file(job=job, name=f"{slug}.docx",
                            content=report.report_docx(title, themes, audience=audience))
        else:
            job_attach_file(job=job, name=f"{slug}.md",
                            content=report.report_markdown(title, themes, audience=audience).encode("utf-8"))
        job_progress(job_id=job.pk, done=1)
        return {"themes": len(themes), "quotes": sum(len(t.quotes) for t in themes)}

    return job_run(job_id=job_id, work=work)
