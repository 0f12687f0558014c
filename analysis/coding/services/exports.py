"""Export of coded material: one row per coding (coded text, code path, coder, participant, group,
site, transcript, speaker, line numbers, memo) as CSV or XLSX, in a background job.

Constant memory whatever the size: transcripts are read a batch at a time (their text once, for
the line numbers and the coded text), rows are written straight to a file (``jobs.xlsx`` deflates a
single sheet into the workbook as rows come, and keeps each sheet of a sheet-per-code workbook in a
temporary file), and the file is copied to storage in chunks.

The job runs as the member who asked: the policy module and :func:`codings_visible` decide what it
holds (scope, consent — withdrawn with deletion never appears — and blind double coding), again
when it runs.
"""

from __future__ import annotations

import re
import tempfile
from bisect import bisect_right
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from django.core.exceptions import ValidationError
from django.core.files import File
from django.db import connection
from django.db.models import CharField, F, Func, QuerySet, Value
from django.db.models.functions import Coalesce, NullIf
from django.http import Http404
from django.utils import timezone

from accounts import policy
from accounts.models import ParticipantGroup, Site, User
from accounts.policy import Perm
from accounts.services import audit_record
from analysis.coding.models import Code, Coding
from analysis.coding.selectors.codebook import code_tree, code_tree_flat
from analysis.coding.selectors.codings import codings_visible
from analysis.transcripts.models import Transcript, TranscriptTurn
from analysis.transcripts.sets.selectors import set_transcript_ids
from jobs.csv import CSV_FORMULA_FIRST
from jobs.models import Job
from jobs.services import JobError, job_create, job_progress, job_run
from jobs.xlsx import XlsxSheet, XlsxStream

KIND = "coded_material_export"
FORMATS = ("csv", "xlsx")
HEADER = ("Code path", "Code", "Coded text", "Participant", "Group", "Site", "Transcript", "Speaker",
          "Start line", "End line", "Coder", "Memo", "Coded on")
BATCH = 25  # transcripts read at a time: ~1.5 MB of text at 60,000 characters each
XLSX_CELL_MAX = 32_767  # Excel refuses longer cells
FILTERS = ("codes", "coders", "groups", "sites", "transcripts")
MAX_FILTER_IDS = 5_000
_SHEET_BAD = re.compile(r"[\[\]:*?/\\]")


@dataclass(frozen=True)
class ExportRequest:
    fmt: str
    codes: tuple[int, ...] = ()
    coders: tuple[int, ...] = ()
    groups: tuple[int, ...] = ()
    sites: tuple[int, ...] = ()
    transcripts: tuple[int, ...] = ()
    subcodes: bool = True
    sheet_per_code: bool = False

    def as_params(self) -> dict[str, Any]:
        return {"fmt": self.fmt, "subcodes": self.subcodes, "sheet_per_code": self.sheet_per_code,
                **{k: list(getattr(self, k)) for k in FILTERS}}


def _ids(value: Any, *, name: str) -> tuple[int, ...]:
    """A list of ids from a form or JSON: ints or digit strings, each a valid 64-bit id."""
    if value in (None, "", []):
        return ()
    items = value if isinstance(value, list | tuple) else [value]
    if len(items) > MAX_FILTER_IDS:
        raise ValidationError({name: f"At most {MAX_FILTER_IDS} at a time."})
    out = []
    for item in items:
        if isinstance(item, bool) or not isinstance(item, int | str):
            raise ValidationError({name: "Send ids as whole numbers."})
        text = str(item).strip()
        if not text.isdigit() or len(text) > 19 or not 0 < int(text) < 2**63:
            raise ValidationError({name: "Send ids as whole numbers."})
        out.append(int(text))
    return tuple(sorted(set(out)))


def _flag(value: Any, default: bool) -> bool:
    if value in (None, ""):
        return default
    if isinstance(value, bool):
        return value
    if str(value).lower() in ("1", "true", "on", "yes"):
        return True
    if str(value).lower() in ("0", "false", "off", "no"):
        return False
    raise ValidationError("Answer yes or no (true or false).")


def export_request_parse(*, study_id: int, data: dict[str, Any]) -> ExportRequest:
    """Check the format and filters against the study: an id of another study or a coder who is not
    a member is a clear error, not an empty file."""
    fmt = str(data.get("format") or data.get("fmt") or "").lower()
    if fmt not in FORMATS:
        raise ValidationError({"format": "Choose CSV or XLSX."})
    req = ExportRequest(fmt=fmt, **{k: _ids(data.get(k), name=k) for k in FILTERS},
                        subcodes=_flag(data.get("subcodes"), True), sheet_per_code=_flag(data.get("sheet_per_code"), False))
    if req.sheet_per_code and fmt != "xlsx":
        raise ValidationError({"sheet_per_code": "A sheet per code needs the XLSX format."})
    checks: list[tuple[str, QuerySet[Any], tuple[int, ...]]] = [
        ("codes", Code.objects.filter(study_id=study_id), req.codes),
        ("groups", ParticipantGroup.objects.filter(study_id=study_id), req.groups),
        ("sites", Site.objects.filter(study_id=study_id), req.sites),
        ("coders", User.objects.filter(memberships__study_id=study_id), req.coders),
        ("transcripts", Transcript.objects.filter(study_id=study_id), req.transcripts),
    ]
    for name, qs, ids in checks:
        if ids and qs.filter(pk__in=ids).count() != len(ids):
            raise ValidationError({name: f"Some of these {name} are not in this study."})
    return req


def export_transcript_set_apply(*, user: Any, study_id: int, data: dict[str, Any]) -> dict[str, Any]:
    """The request with a chosen transcript set (``transcript_set``) turned into its transcripts that ``user``
    may export, as they are now; a set that does not exist or holds none of theirs is a clear 400, never
    "every transcript"."""
    set_id = data.get("transcript_set")
    if set_id in (None, "", []):
        return {k: v for k, v in data.items() if k != "transcript_set"}
    if data.get("transcripts"):
        raise ValidationError({"transcript_set": "Choose a transcript set or transcripts, not both."})
    try:
        ids = set_transcript_ids(user=user, study_id=study_id, set_id=set_id, perm=Perm.CODING_EXPORT)
    except Http404:
        raise ValidationError({"transcript_set": "No such transcript set in this study."}) from None
    if not ids:
        raise ValidationError({"transcript_set": "This transcript set has no transcripts you can export."})
    return {**{k: v for k, v in data.items() if k != "transcript_set"}, "transcripts": ids}


def export_request_describe(*, study_id: int, req: ExportRequest) -> str:
    """The filters in words, for the job's page: a file named coded-material-20261203-1534.csv does not
    say that it holds only one code's staff segments. Transcripts are counted, never named: an id sent
    through the API may name a transcript outside the member's scope."""
    parts = []
    if req.codes:
        names = list(Code.objects.filter(study_id=study_id, pk__in=req.codes).order_by("name").values_list("name", flat=True))
        parts.append(("Codes: " if len(names) > 1 else "Code: ") + ", ".join(names)
                     + (" (with their sub-codes)" if req.subcodes and Code.objects.filter(
                         study_id=study_id, parent_id__in=req.codes).exists() else ""))
    if req.coders:
        users = User.objects.filter(memberships__study_id=study_id, pk__in=req.coders).distinct()
        parts.append("Coded by: " + ", ".join(sorted(u.display_name for u in users)))
    if req.groups:
        parts.append("Groups: " + ", ".join(ParticipantGroup.objects.filter(study_id=study_id, pk__in=req.groups)
                                           .order_by("position").values_list("label", flat=True)))
    if req.sites:
        parts.append("Sites: " + ", ".join(Site.objects.filter(study_id=study_id, pk__in=req.sites)
                                          .values_list("name", flat=True)))
    if req.transcripts:
        n = len(req.transcripts)
        parts.append(f"{n} chosen transcript{'' if n == 1 else 's'}")
    return "; ".join(parts) if parts else "Everything you may export"


def coded_export_start(*, actor: User, study_id: int, request: ExportRequest, ip: str | None = None) -> Job:
    """Queue an export of coded material as ``actor``; audited with its filters."""
    study = policy.study_get_for_user(user=actor, study_id=study_id, perm=Perm.CODING_EXPORT)
    job = job_create(study=study, kind=KIND, created_by=actor, perm=Perm.CODING_EXPORT, params=request.as_params(),
                     task="coding.coded_export")
    audit_record(actor=actor, action="coding.export", study=study, obj=job, ip=ip, details=request.as_params())
    return job


def _filtered(*, user: Any, study_id: int, req: ExportRequest) -> QuerySet[Coding]:
    qs = codings_visible(user=user, study_id=study_id).filter(lost=False)
    if req.codes:
        ids = set(req.codes)
        if req.subcodes:
            children: dict[int | None, list[int]] = {}
            for pk, parent in Code.objects.filter(study_id=study_id).values_list("pk", "parent_id"):
                children.setdefault(parent, []).append(pk)
            todo = list(ids)
            while todo:
                for child in children.get(todo.pop(), []):
                    if child not in ids:
                        ids.add(child)
                        todo.append(child)
        qs = qs.filter(code_id__in=sorted(ids))
    if req.coders:
        qs = qs.filter(coder_id__in=req.coders)
    if req.groups:
        qs = qs.filter(transcript__participant__group_id__in=req.groups)
    if req.sites:
        qs = qs.filter(transcript__participant__site_id__in=req.sites)
    if req.transcripts:
        qs = qs.filter(transcript_id__in=req.transcripts)
    return qs


@dataclass(frozen=True)
class _Part:
    """One transcript's codings: the transcript's own cells once, then one tuple per coding."""

    pseudonym: str
    group: str
    site: str
    title: str
    # (code id, coded text, speaker, start line, end line, coder, memo, coded on), in reading order
    rows: list[tuple[int, str, str, int, int, str, str, str]]


def _code_labels(study_id: int) -> dict[int, tuple[str, str]]:
    """(path, name) of every code of the study."""
    codes = list(Code.objects.filter(study_id=study_id).only("id", "parent_id", "name", "position").order_by("position", "id"))
    return {n.code.pk: (" › ".join(n.path), n.code.name) for n in code_tree_flat(code_tree(codes))}


def _fetch(qs: QuerySet[Any]) -> list[tuple[Any, ...]]:
    """The rows of a ``values_list`` queryset as the driver returns them, in one fetch: Django reads 100
    rows at a time through its converters (2,000 round trips of the loop for 77,720 codings). Only for
    columns that need no conversion (numbers, text)."""
    sql, params = qs.query.sql_with_params()
    with connection.cursor() as cur:
        cur.execute(sql, params)
        return cur.fetchall()


def _coded_parts(*, user: Any, study_id: int, req: ExportRequest, progress: Any = None) -> Iterator[_Part]:
    """A :class:`_Part` for every transcript with codings the user may export under ``req``, by
    participant; reads one batch of transcripts at a time."""
    qs = _filtered(user=user, study_id=study_id, req=req)
    order = (qs.values("transcript_id", "transcript__participant__pseudonym").distinct()
             .order_by("transcript__participant__pseudonym", "transcript_id"))
    transcript_ids = [r["transcript_id"] for r in order]
    tz = timezone.get_current_timezone()
    zone = getattr(tz, "key", None)
    # PostgreSQL writes the date in the study's zone itself (to_char): parsing 77,720 timestamps into
    # datetimes, moving them to the zone and formatting them was a third of the CSV export's CPU.
    in_sql = connection.vendor == "postgresql" and isinstance(zone, str)
    coded_on: Any = F("updated_at")
    if in_sql:
        coded_on = Func(Func(Value(zone), F("updated_at"), function="timezone"), Value("YYYY-MM-DD HH24:MI"),
                        function="to_char", output_field=CharField())
    coder = Coalesce(NullIf(F("coder__full_name"), Value("")), F("coder__email"), output_field=CharField())
    done = 0
    for i in range(0, len(transcript_ids), BATCH):
        batch = transcript_ids[i:i + BATCH]
        meta = {r[0]: r[1:] for r in Transcript.objects.filter(pk__in=batch).values_list(
            "pk", "text", "title", "participant__pseudonym", "participant__group__label", "participant__site__name")}
        turns: dict[int, tuple[list[int], list[tuple[int, str]]]] = {tid: ([], []) for tid in batch}
        for tid, start, end, speaker in _fetch(TranscriptTurn.objects.filter(transcript_id__in=batch).order_by(
                "transcript_id", "start").values_list("transcript_id", "start", "end", "speaker")):
            turns[tid][0].append(start)
            turns[tid][1].append((end, speaker))
        rows_qs = (qs.filter(transcript_id__in=batch).order_by("transcript_id", "start", "end", "id")
                   .annotate(export_on=coded_on, export_coder=coder)
                   .values_list("transcript_id", "code_id", "start", "end", "memo", "export_on", "export_coder"))
        by_transcript: dict[int, list[tuple[Any, ...]]] = {}
        for r in (_fetch(rows_qs) if in_sql else rows_qs):
            by_transcript.setdefault(r[0], []).append(r)
        for tid in batch:
            text, title, pseudonym, group, site = meta[tid]
            codings = by_transcript.get(tid, [])
            lines = _line_numbers(text, [p for c in codings for p in (c[2], max(c[2], c[3] - 1))])
            starts, ends = turns[tid]
            out = []
            for _, code_id, start, end, memo, on, coder_label in codings:
                k = bisect_right(starts, start) - 1
                out.append((code_id, text[start:end], ends[k][1] if k >= 0 and start < ends[k][0] else "",
                            lines[start], lines[max(start, end - 1)], coder_label or "", memo or "",
                            on if in_sql else on.astimezone(tz).strftime("%Y-%m-%d %H:%M")))
            if out:
                yield _Part(pseudonym, group or "", site or "", title or pseudonym, out)
            done += len(out)
        if progress is not None:
            progress(done)


def _line_numbers(text: str, offsets: list[int]) -> dict[int, int]:
    """1-based line of each offset, counting newlines once from the start to the last offset."""
    out: dict[int, int] = {}
    line, at = 1, 0
    for offset in sorted(set(offsets)):
        line += text.count("\n", at, offset)
        at = offset
        out[offset] = line
    return out


def _count(*, user: Any, study_id: int, req: ExportRequest) -> int:
    return _filtered(user=user, study_id=study_id, req=req).count()


def _csv_cell(value: str) -> str:
    """A text cell as ``csv.writer`` (QUOTE_MINIMAL, CRLF) writes it after ``csv_safe_row``: the same
    bytes, without the writer's character-by-character pass over 34 MB of coded text (a fifth of the
    export's CPU)."""
    if value[:1] in CSV_FORMULA_FIRST:
        value = "'" + value
    if '"' in value:
        return '"' + value.replace('"', '""') + '"'
    if "," in value or "\n" in value or "\r" in value:
        return '"' + value + '"'
    return value


def _write_csv(path: str, parts: Iterator[_Part], *, labels: dict[int, tuple[str, str]]) -> int:
    n = 0
    code_cells: dict[int, str] = {}
    cells: dict[str, str] = {}  # speakers and coders: a few distinct values on many rows

    def cell(value: str) -> str:
        out = cells.get(value)
        if out is None:
            if len(cells) > 10_000:
                cells.clear()
            out = cells[value] = _csv_cell(value)
        return out

    with open(path, "wb") as f:
        # A BOM so Excel opens UTF-8 as UTF-8.
        f.write(("\ufeff" + ",".join(_csv_cell(h) for h in HEADER) + "\r\n").encode())
        for part in parts:
            meta = ",".join(_csv_cell(v) for v in (part.pseudonym, part.group, part.site, part.title))
            lines = []
            for code_id, text, speaker, first, last, coder, memo, on in part.rows:
                code = code_cells.get(code_id)
                if code is None:
                    path_, name = labels.get(code_id, ("", ""))
                    code = code_cells[code_id] = _csv_cell(path_) + "," + _csv_cell(name)
                lines.append(f"{code},{_csv_cell(text)},{meta},{cell(speaker)},{first},{last},{cell(coder)},"
                             f"{_csv_cell(memo)},{_csv_cell(on)}\r\n")
            f.write("".join(lines).encode())
            n += len(lines)
    return n


def _xlsx_value(value: Any) -> Any:
    if not isinstance(value, str):
        return value
    if len(value) > XLSX_CELL_MAX:
        note = f" … [cut: {len(value)} characters in all; the CSV export holds the whole text]"
        value = value[:XLSX_CELL_MAX - len(note)] + note
    # Every text is written as an inline string (jobs.xlsx): "=…" stays text, never a formula.
    return value


def _sheet_title(name: str, used: set[str]) -> str:
    base = _SHEET_BAD.sub(" ", name).strip().strip("'")[:28] or "Code"
    title, n = base, 2
    while title.lower() in used:
        title = f"{base[:25]} ({n})"
        n += 1
    used.add(title.lower())
    return title


def _write_xlsx(path: str, parts: Iterator[_Part], *, sheet_per_code: bool, labels: dict[int, tuple[str, str]]) -> int:
    wb = XlsxStream(path)
    try:
        return _fill_xlsx(wb, parts, sheet_per_code=sheet_per_code, labels=labels)
    except BaseException:
        wb.abort()  # a worker runs many jobs: no temporary file or deflating thread left behind by a failed one
        raise


def _fill_xlsx(wb: XlsxStream, parts: Iterator[_Part], *, sheet_per_code: bool, labels: dict[int, tuple[str, str]]) -> int:
    sheets: dict[int, XlsxSheet] = {}
    used: set[str] = set()
    single = None
    if not sheet_per_code:
        single = wb.single_sheet("Codings")
        single.append(HEADER)
    code_cells = {pk: (_xlsx_value(p), _xlsx_value(name)) for pk, (p, name) in labels.items()}
    n = 0
    for part in parts:
        pseudonym, group, site, title = (_xlsx_value(v) for v in (part.pseudonym, part.group, part.site, part.title))
        rows: dict[int, list[tuple[Any, ...]]] = {}
        for code_id, text, speaker, first, last, coder, memo, on in part.rows:
            path_, name = code_cells.get(code_id, ("", ""))
            row = (path_, name, text if len(text) <= XLSX_CELL_MAX else _xlsx_value(text), pseudonym, group, site,
                   title, speaker, first, last, coder, memo if len(memo) <= XLSX_CELL_MAX else _xlsx_value(memo), on)
            rows.setdefault(0 if single else code_id, []).append(row)
        for code_id, batch in rows.items():
            ws = single
            if ws is None:
                ws = sheets.get(code_id)
                if ws is None:
                    ws = sheets[code_id] = wb.add_sheet(_sheet_title(code_cells.get(code_id, ("", "Code"))[1] or "Code", used))
                    ws.append(HEADER)
            ws.append_rows(batch)
        n += len(part.rows)
    if single is None and not sheets:
        wb.add_sheet("Codings").append(HEADER)
    wb.close()
    return n


def coded_export_run(*, job_id: int) -> Job | None:
    """The Celery side: write the file as the member who asked, then attach it to the job."""

    def work(job: Job) -> dict[str, Any]:
        user = job.created_by
        if not policy.has_perm(user=user, study=job.study_id, perm=Perm.CODING_EXPORT):
            raise JobError("You may no longer export coded material from this study.")
        p = job.params
        try:
            req = ExportRequest(fmt=p["fmt"], subcodes=bool(p.get("subcodes", True)),
                                sheet_per_code=bool(p.get("sheet_per_code")),
                                **{k: tuple(int(i) for i in p.get(k, [])) for k in FILTERS})
        except (KeyError, TypeError, ValueError) as exc:
            raise JobError("The export's settings are not readable.") from exc
        total = _count(user=user, study_id=job.study_id, req=req)
        job_progress(job_id=job.pk, done=0, total=total)
        parts = _coded_parts(user=user, study_id=job.study_id, req=req,
                             progress=lambda done: job_progress(job_id=job.pk, done=done))
        labels = _code_labels(job.study_id)
        stamp = timezone.localtime().strftime("%Y%m%d-%H%M")
        with tempfile.NamedTemporaryFile(suffix="." + req.fmt) as tmp:
            if req.fmt == "csv":
                n = _write_csv(tmp.name, parts, labels=labels)
            else:
                n = _write_xlsx(tmp.name, parts, sheet_per_code=req.sheet_per_code, labels=labels)
            with open(tmp.name, "rb") as f:
                job.result_file.save(f"coded-material-{stamp}.{req.fmt}", File(f), save=False)
        Job.objects.filter(pk=job.pk).update(result_file=job.result_file.name)
        result = {"Codings exported": n, "File format": req.fmt.upper()
                  + (", one sheet per code" if req.sheet_per_code else ""),
                  "Chosen": export_request_describe(study_id=job.study_id, req=req)}
        if n == 0:
            # "Done", "0" and a Download button read as a fault; say why the file is empty.
            result["Note"] = "No coding matched what you chose: the file holds only the column headings."
        return result

    return job_run(job_id=job_id, work=work)
