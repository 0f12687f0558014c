"""Writing framework charts: create, delete, write a cell's summary (optimistically locked), record an
export, and the purger that removes a deleted participant's cells and their history."""

from __future__ import annotations

from typing import Any

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import IntegrityError, transaction
from django.http import Http404
from django.utils import timezone

from accounts import policy
from accounts.models import ParticipantGroup, Site, User
from accounts.policy import Perm
from accounts.services import audit_record
from analysis.themes.models import Theme
from participants.models import Participant

from . import selectors
from .models import FrameworkCell, FrameworkCellEdit, FrameworkChart

EXPORT_KIND = "framework_export"
EXPORT_FORMATS = ("xlsx", "csv")
# Above this many participants in the chart the file is made by a job (bench/framework.py: about 1.5 s
# for 65 participants × 7 themes on the shared machine, growing with the participants).
SYNC_MAX_ROWS = 150
NAME_MAX = 200
SUMMARY_MAX = 5_000
MAX_IDS = 500
VERSION_MAX = 2**31 - 1


class CellConflict(Exception):
    """Someone saved the cell since the editor read it. ``current`` is the cell as it is now."""

    def __init__(self, current: FrameworkCell) -> None:
        self.current = current
        at = timezone.localtime(current.updated_at).strftime("%H:%M")
        super().__init__(f"{current.updated_by.display_name} changed this summary at {at} "
                         f"(now version {current.version}); your text was not saved.")


def _text(value: Any, *, field: str, limit: int, required: bool = False) -> str:
    if value is None:
        value = ""
    if not isinstance(value, str):
        raise ValidationError({field: "Give text."})
    if "\x00" in value:
        raise ValidationError({field: "Text cannot contain NUL characters."})
    value = value.replace("\r\n", "\n").replace("\r", "\n")
    if required and not value.strip():
        raise ValidationError({field: "This cannot be empty."})
    if len(value) > limit:
        raise ValidationError({field: f"At most {limit:,} characters (this has {len(value):,})."})
    return value.strip() if required else value


def _ids(values: Any, *, field: str, model: Any, study_id: int) -> list[Any]:
    if values in (None, ""):
        return []
    if not isinstance(values, list | tuple):
        raise ValidationError({field: "Give a list of ids."})
    if len(values) > MAX_IDS:
        raise ValidationError({field: f"At most {MAX_IDS}."})
    ids = set()
    for v in values:
        try:
            n = int(v)
        except (TypeError, ValueError):
            raise ValidationError({field: "Ids are whole numbers."}) from None
        if not policy.id_ok(n):
            raise ValidationError({field: "No such id in this study."})
        ids.add(n)
    found = list(model.objects.filter(study_id=study_id, pk__in=ids))
    if len(found) != len(ids):
        raise ValidationError({field: "No such id in this study."})
    return found


@transaction.atomic
def framework_chart_create(*, actor: User, study_id: int, name: Any, theme_ids: Any = (), group_ids: Any = (),
                           site_ids: Any = (), ip: str | None = None) -> FrameworkChart:
    membership = policy.membership_require(user=actor, study_id=study_id, perm=Perm.MATRIX_RUN)
    clean_name = _text(name, field="name", limit=NAME_MAX, required=True)
    themes = _ids(theme_ids, field="theme_ids", model=Theme, study_id=study_id)
    groups = _ids(group_ids, field="group_ids", model=ParticipantGroup, study_id=study_id)
    sites = _ids(site_ids, field="site_ids", model=Site, study_id=study_id)
    chart = FrameworkChart.objects.create(study_id=study_id, name=clean_name, created_by=actor)
    chart.themes.set(themes)
    chart.groups.set(groups)
    chart.sites.set(sites)
    audit_record(actor=actor, action="framework.create", study=membership.study, obj=chart, ip=ip,
                 details={"name": clean_name, "themes": [t.name for t in themes],
                          "groups": [g.label for g in groups], "sites": [s.name for s in sites]})
    return chart


@transaction.atomic
def framework_chart_delete(*, actor: User, study_id: int, chart_id: Any, ip: str | None = None) -> None:
    """Who made the chart, or a lead, may delete it (``may_change_authored``); others get 403."""
    membership = policy.membership_require(user=actor, study_id=study_id, perm=Perm.MATRIX_RUN)
    chart = selectors.chart_get(user=actor, study_id=study_id, chart_id=chart_id)
    if not policy.may_change_authored(membership=membership, author_id=chart.created_by_id):
        raise PermissionDenied("Only who made this chart, or a lead, can delete it.")
    cells = FrameworkCell.objects.filter(chart=chart).count()
    audit_record(actor=actor, action="framework.delete", study=membership.study, obj=chart, ip=ip,
                 details={"name": chart.name, "summaries": cells})
    chart.delete()


def _version(value: Any) -> int:
    try:
        n = int(value)
    except (TypeError, ValueError):
        raise ValidationError({"version": "Send the version you read (0 for a cell nobody has written)."}) from None
    if not 0 <= n <= VERSION_MAX:
        raise ValidationError({"version": "Send the version you read (0 for a cell nobody has written)."})
    return n


@transaction.atomic
def framework_cell_write(*, actor: User, study_id: int, chart_id: Any, participant_id: Any, theme_id: Any,
                         version: Any, summary: Any) -> FrameworkCell:
    """Save a cell's summary. ``version`` is the one the editor read (0: nobody had written it); if the
    cell moved on since, :class:`CellConflict` carries the other person's text and nothing is saved."""
    policy.membership_require(user=actor, study_id=study_id, perm=Perm.MATRIX_RUN)
    chart = selectors.chart_get(user=actor, study_id=study_id, chart_id=chart_id)
    participant = selectors.cell_participant(user=actor, study_id=study_id, chart=chart, participant_id=participant_id)
    theme = selectors.cell_theme(chart=chart, theme_id=theme_id)
    text = _text(summary, field="summary", limit=SUMMARY_MAX)
    read = _version(version)
    cell = (FrameworkCell.objects.select_for_update().select_related("updated_by")
            .filter(chart=chart, participant=participant, theme=theme).first())
    now = timezone.now()
    if cell is None:
        if read != 0:
            raise Http404("This summary no longer exists.")
        try:
            with transaction.atomic():
                cell = FrameworkCell.objects.create(chart=chart, participant=participant, theme=theme, summary=text,
                                                    version=1, updated_by=actor, updated_at=now)
        except IntegrityError:
            # Two first writes at once: the other one won; show it as a conflict.
            raise CellConflict(FrameworkCell.objects.select_related("updated_by").get(
                chart=chart, participant=participant, theme=theme)) from None
    else:
        if read != cell.version:
            raise CellConflict(cell)
        if cell.summary == text:
            return cell
        cell.summary, cell.version, cell.updated_by, cell.updated_at = text, cell.version + 1, actor, now
        cell.save(update_fields=["summary", "version", "updated_by", "updated_at"])
    FrameworkCellEdit.objects.create(cell=cell, version=cell.version, summary=text, actor=actor, at=now)
    return cell


def framework_export_record(*, actor: User, chart: FrameworkChart, fmt: str, rows: int, ip: str | None = None) -> None:
    audit_record(actor=actor, action="framework.export", study=chart.study, obj=chart, ip=ip,
                 details={"name": chart.name, "format": fmt, "participants": rows})


def framework_export_start(*, actor: User, study_id: int, chart_id: Any, fmt: Any, ip: str | None = None) -> Any:
    """Make the chart's file in a job (any size; the page offers it for large charts): the job's creator
    downloads it from the job page, as every export."""
    from jobs.services import job_create

    study = policy.study_get_for_user(user=actor, study_id=study_id, perm=Perm.EXPORT)
    chart = selectors.chart_get(user=actor, study_id=study_id, chart_id=chart_id)
    if fmt not in EXPORT_FORMATS:
        raise ValidationError({"format": "Choose xlsx or csv."})
    with transaction.atomic():
        job = job_create(study=study, kind=EXPORT_KIND, created_by=actor, perm=Perm.EXPORT,
                         params={"chart_id": chart.pk, "format": fmt}, task="matrices.framework_export")
        audit_record(actor=actor, action="framework.export", study=study, obj=chart, ip=ip,
                     details={"name": chart.name, "format": fmt, "job": job.pk})
    return job


def framework_export_run(*, job_id: int) -> Any:
    from jobs.services import job_attach_file, job_progress, job_run

    from . import exports

    def work(job: Any) -> dict[str, Any]:
        fmt = job.params.get("format")
        job_progress(job_id=job.pk, done=0, total=1)
        # As its creator may see the chart now: scope and consent are read when the job runs.
        policy.membership_forget(user=job.created_by)
        chart = selectors.chart_get(user=job.created_by, study_id=job.study_id, chart_id=job.params.get("chart_id"))
        data = exports.chart_data(user=job.created_by, study_id=job.study_id, chart=chart, references=fmt == "xlsx")
        if fmt == "xlsx":
            with exports.chart_xlsx(data, chart_name=chart.name) as f:
                content = f.read()
        else:
            content = exports.chart_csv(data)
        job_attach_file(job=job, name=f"framework-chart-{chart.pk}.{fmt}", content=content)
        job_progress(job_id=job.pk, done=1)
        return {"participants": len(data.grid.rows), "themes": len(data.grid.themes)}

    return job_run(job_id=job_id, work=work)


def framework_cells_purge(*, participant: Participant) -> dict[str, int]:
    """Purger (``CHORUS_PURGERS``): a withdrawal with deletion removes the participant's summaries in every
    chart, and their history with them (cascade). Idempotent."""
    _, per_model = FrameworkCell.objects.filter(participant=participant).delete()
    return {"framework_summaries": per_model.get(FrameworkCell._meta.label, 0),
            "framework_summary_versions": per_model.get(FrameworkCellEdit._meta.label, 0)}
