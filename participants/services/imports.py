"""CSV imports of participants and consent events, with a preview.

One function per kind does both: with ``commit=False`` it validates and reports what would happen
(the preview); with ``commit=True`` it writes everything in one transaction — or nothing.
A file with any invalid row imports nothing unless ``import_valid_rows`` is chosen. Sites and
consent-form versions the study does not have yet are created only when asked
(``create_sites`` / ``create_forms``): a typo must not create a site, which would decide who may
see the participant. New attribute columns become typed attributes (date, number or text).
A re-import of the same file changes nothing.
"""

from __future__ import annotations

import datetime as dt
import hashlib
from dataclasses import asdict, dataclass, field
from typing import Any

from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.utils import timezone

from accounts import policy
from accounts.models import ParticipantGroup, Site, Study, User
from accounts.policy import Perm
from accounts.services import audit_record
from config.db import tables_refresh_statistics

from ..crypto import decrypt_bytes, encrypt_bytes, encrypt_text
from ..csvio import Table, decode_upload, read_table
from ..models import (
    AttributeDefinition,
    ConsentEvent,
    ConsentForm,
    ConsentState,
    EventKind,
    EventSource,
    ImportBatch,
    ImportKind,
    ImportStatus,
    Participant,
    WithdrawalScope,
)
from ..values import (
    RESERVED_KEYS,
    ValueProblem,
    attribute_key,
    attribute_value,
    infer_kind,
    parse_date,
    parse_pseudonym,
    parse_yes_no,
)
from .consent import (
    STANDARD_LABELS,
    Ev,
    ItemSpec,
    _form_insert,
    consent_derive,
    consent_fingerprint,
    consent_state_refresh,
)
from .participants import CONTACT_MAX, NAME_MAX, _attribute_insert


@dataclass
class ImportReport:
    kind: str
    filename: str = ""
    encoding: str = ""
    encoding_notice: str = ""
    needs_encoding_confirmation: bool = False
    rows: int = 0
    create: int = 0
    update: int = 0
    unchanged: int = 0
    skipped: int = 0
    error_rows: int = 0
    errors: list[dict[str, Any]] = field(default_factory=list)
    warnings: list[dict[str, Any]] = field(default_factory=list)
    new_sites: list[dict[str, Any]] = field(default_factory=list)
    new_attributes: list[dict[str, Any]] = field(default_factory=list)
    new_forms: list[dict[str, Any]] = field(default_factory=list)
    deletions: list[str] = field(default_factory=list)
    # What the import would do, row by row (pseudonymised: never a name or contact value).
    preview: list[dict[str, Any]] = field(default_factory=list)
    committed: bool = False
    blocked: str = ""

    def error(self, line: int | None, column: str, message: str, *, cause: str = "", follows: int | None = None) -> None:
        """``cause``: a problem shared by many rows (one unknown form version), shown once with the
        rows it affects. ``follows``: the line whose error this one is a consequence of."""
        self.errors.append({"line": line, "column": column, "message": message, "cause": cause, "follows": follows})

    @property
    def error_groups(self) -> list[dict[str, Any]]:
        """Errors by root cause: one entry per shared cause (with every line it affects, including
        the rows that only failed because of it), then each remaining error on its own."""
        groups: dict[str, dict[str, Any]] = {}
        singles: list[dict[str, Any]] = []
        for e in self.errors:
            if e.get("cause"):
                g = groups.setdefault(e["cause"], {"cause": e["cause"], "column": e["column"], "lines": [],
                                                   "consequences": []})
                (g["consequences"] if e.get("follows") else g["lines"]).append(e)
            else:
                singles.append(e)
        return [*groups.values(), *({"cause": "", "error": e} for e in singles)]

    def warn(self, line: int | None, message: str) -> None:
        self.warnings.append({"line": line, "message": message})

    def as_dict(self) -> dict[str, Any]:
        return {**asdict(self), "error_groups": self.error_groups}


def _finish(
    report: ImportReport, *, commit: bool, import_valid_rows: bool, encoding: str | None,
    confirm_deletions: bool = True,
) -> bool:
    """Whether to write; sets ``blocked`` to the reason when a requested commit is refused."""
    report.error_rows = len({e["line"] for e in report.errors})
    if not commit:
        return False
    if report.needs_encoding_confirmation and not encoding:
        report.blocked = (
            "Confirm the file's encoding first: " + report.encoding_notice
        )
    elif report.errors and not import_valid_rows:
        report.blocked = (
            f"{report.error_rows} row(s) have errors, so nothing was imported. Fix them and upload the file again, "
            "or choose to import only the valid rows."
        )
    elif report.deletions and not confirm_deletions:
        report.blocked = (
            "This file withdraws " + ", ".join(report.deletions) + " with deletion of their data, which is final. "
            "Confirm the deletions to import it."
        )
    elif not (report.create or report.update or report.new_forms):
        if report.errors:
            report.blocked = (f"Nothing to import: {report.error_rows} row(s) have errors (listed below) and the other rows "
                              "are already in Chorus. Fix those rows and upload the file again.")
        else:
            report.blocked = "Nothing to import: every row is already in Chorus." if report.rows else "The file has no rows."
    return not report.blocked


def _read(data: bytes, encoding: str | None, report: ImportReport) -> Table:
    decoded = decode_upload(data, encoding=encoding)
    report.encoding = decoded.encoding
    report.encoding_notice = decoded.notice
    report.needs_encoding_confirmation = decoded.detected
    table = read_table(decoded.text)
    report.rows = len(table.rows)
    return table


def _cells(table: Table, line: int, cells: list[str], report: ImportReport) -> dict[str, str] | None:
    if len(cells) != len(table.header):
        report.error(line, "", f"The row has {len(cells)} fields; the header has {len(table.header)}.")
        return None
    return {k: v.strip() for k, v in zip(table.header, cells, strict=True)}


def _pseudonym_column(table: Table) -> str:
    for name in ("participant_id", "pseudonym"):
        if name in table.header:
            return name
    raise ValidationError("Line 1: the file needs a participant_id (or pseudonym) column.")


# Participants -----------------------------------------------------------------------------------


@dataclass
class _PRow:
    line: int
    pseudonym: str
    group: ParticipantGroup
    site_name: str | None  # None = no site column
    attributes: dict[str, Any]
    interview_date: dt.date | None
    name: str
    contact: str
    existing: Participant | None
    has_date: bool


def participants_import(
    *,
    actor: User,
    study_id: int,
    data: bytes,
    filename: str = "",
    commit: bool = False,
    create_sites: bool = False,
    import_valid_rows: bool = False,
    encoding: str | None = None,
    ip: str | None = None,
) -> ImportReport:
    study = policy.study_get_for_user(user=actor, study_id=study_id, perm=Perm.PARTICIPANT_MANAGE)
    report = ImportReport(kind=ImportKind.PARTICIPANTS, filename=filename[:200])
    table = _read(data, encoding, report)
    pid_col = _pseudonym_column(table)
    if "group" not in table.header:
        raise ValidationError("Line 1: the file needs a group column (service_user, carer, staff…).")
    builtin = {pid_col, "group", "site", "interview_date", "name", "contact"}
    attr_cols = [c for c in table.header if c not in builtin]
    definitions = {d.key: d for d in AttributeDefinition.objects.filter(study=study)}
    col_key: dict[str, str] = {}
    for col in attr_cols:
        key = attribute_key(col)
        if not key or key in RESERVED_KEYS:
            raise ValidationError(f"Line 1: the column “{col}” cannot be an attribute; rename it.")
        col_key[col] = key
    new_defs: dict[str, AttributeDefinition] = {}
    for col, key in col_key.items():
        if key not in definitions:
            kind = infer_kind([cells[table.header.index(col)] for _, cells in table.rows
                               if len(cells) == len(table.header)])
            new_defs[key] = AttributeDefinition(study=study, key=key, label=col.replace("_", " ").capitalize(), kind=kind)
            report.new_attributes.append({"key": key, "kind": kind})
    all_defs = {**definitions, **new_defs}

    groups: dict[str, ParticipantGroup] = {}
    for g in ParticipantGroup.objects.filter(study=study):
        groups[g.key.lower()] = g
        groups[g.label.lower()] = g
    sites = {s.name.lower(): s for s in Site.objects.filter(study=study)}
    existing = {p.pseudonym.lower(): p for p in Participant.objects.filter(study=study).select_related("group", "site")}
    seen: dict[str, int] = {}
    unknown_sites: dict[str, dict[str, Any]] = {}
    plan: list[_PRow] = []

    for line, cells in table.rows:
        rec = _cells(table, line, cells, report)
        if rec is None:
            continue
        ok = True
        try:
            pseudonym = parse_pseudonym(rec[pid_col])
        except ValueProblem as exc:
            report.error(line, pid_col, str(exc))
            continue
        if pseudonym.lower() in seen:
            report.error(line, pid_col, f"Duplicate pseudonym {pseudonym}: line {seen[pseudonym.lower()]} has it already.")
            continue
        seen[pseudonym.lower()] = line
        group = groups.get(rec["group"].lower())
        if group is None:
            ok = False
            keys = ", ".join(sorted({g.key for g in groups.values()}))
            report.error(line, "group", f"Unknown group “{rec['group'][:40]}”; this study's groups are: {keys}.")
        site_name: str | None = None
        if "site" in rec:
            site_name = rec["site"]
            if site_name and site_name.lower() not in sites:
                entry = unknown_sites.setdefault(site_name.lower(), {"name": site_name, "rows": 0})
                entry["rows"] += 1
                if not create_sites:
                    ok = False
                    report.error(line, "site", f"Unknown site “{site_name[:60]}”. Add it to the study, or choose to "
                                 "create the missing sites.")
        interview_date = None
        if "interview_date" in rec:
            try:
                interview_date = parse_date(rec["interview_date"])
            except ValueProblem as exc:
                ok = False
                report.error(line, "interview_date", str(exc))
        attrs: dict[str, Any] = {}
        for col, key in col_key.items():
            try:
                value = attribute_value(all_defs[key], rec[col])
            except ValueProblem as exc:
                ok = False
                report.error(line, col, str(exc))
                continue
            if value is not None:
                attrs[key] = value
        name, contact = rec.get("name", ""), rec.get("contact", "")
        if len(name) > NAME_MAX or len(contact) > CONTACT_MAX:
            ok = False
            report.error(line, "name" if len(name) > NAME_MAX else "contact", "The value is too long.")
        if not ok:
            continue
        assert group is not None
        current = existing.get(pseudonym.lower())
        if current is not None and (current.purged_at or current.consent_state == ConsentState.WITHDRAWN_DELETE):
            report.skipped += 1
            report.warn(line, f"{current.pseudonym} withdrew and asked for their data to be deleted; the row is skipped.")
            continue
        row = _PRow(line, pseudonym, group, site_name, attrs, interview_date, name, contact, current,
                    "interview_date" in rec)
        changes = [] if current is None else _participant_changes(row, current, col_key.values(), has_date=row.has_date)
        report.preview.append({
            "line": line, "pseudonym": pseudonym, "group": group.label, "site": site_name if site_name is not None else "",
            "interview_date": interview_date.isoformat() if interview_date else "",
            "action": "new" if current is None else "changed" if changes else "unchanged",
            "changes": [c.replace("_", " ") for c in changes],
        })
        if current is None:
            report.create += 1
        elif changes:
            report.update += 1
        else:
            report.unchanged += 1
            continue
        plan.append(row)

    report.new_sites = sorted(unknown_sites.values(), key=lambda s: str(s["name"]).lower())
    if not _finish(report, commit=commit, import_valid_rows=import_valid_rows, encoding=encoding):
        return report
    try:
        with transaction.atomic():
            _participants_write(actor=actor, study=study, plan=plan, sites=sites, create_sites=create_sites,
                                unknown_sites=unknown_sites, new_defs=new_defs, attr_keys=list(col_key.values()),
                                report=report, data=data, ip=ip)
    except IntegrityError as exc:
        raise ValidationError("The participants changed while importing (a pseudonym was added meanwhile). "
                              "Nothing was imported; try again.") from exc
    report.committed = True
    tables_refresh_statistics(tables=[Participant._meta.db_table, AttributeDefinition._meta.db_table])
    return report


def _participant_changes(row: _PRow, p: Participant, attr_keys: Any, *, has_date: bool) -> list[str]:
    changed = []
    if p.group_id != row.group.pk:
        changed.append("group")
    if row.site_name is not None and (p.site.name.lower() if p.site else "") != row.site_name.lower():
        changed.append("site")
    if has_date and p.interview_date != row.interview_date:
        changed.append("interview_date")
    merged = _merged_attributes(p.attributes, row.attributes, attr_keys)
    if merged != (p.attributes or {}):
        changed.append("attributes")
    if row.name or row.contact:
        from ..crypto import decrypt_text

        if row.name and decrypt_text(p.name_encrypted) != row.name:
            changed.append("name")
        if row.contact and decrypt_text(p.contact_encrypted) != row.contact:
            changed.append("contact")
    return changed


def _merged_attributes(current: dict[str, Any] | None, new: dict[str, Any], keys: Any) -> dict[str, Any]:
    merged = {k: v for k, v in (current or {}).items() if k not in set(keys)}
    merged.update(new)
    return merged


def _participants_write(
    *, actor: User, study: Study, plan: list[_PRow], sites: dict[str, Site], create_sites: bool,
    unknown_sites: dict[str, dict[str, Any]], new_defs: dict[str, AttributeDefinition], attr_keys: list[str],
    report: ImportReport, data: bytes, ip: str | None,
) -> None:
    if create_sites:
        for entry in unknown_sites.values():
            new_site = Site.objects.create(study=study, name=str(entry["name"]).strip())
            sites[new_site.name.lower()] = new_site
            audit_record(actor=actor, action="site.create", study=study, obj=new_site, ip=ip,
                         details={"name": new_site.name, "via": "participants import"})
    for d in new_defs.values():
        _attribute_insert(study=study, actor=actor, label=d.label, kind=d.kind, key=d.key, ip=ip)
    now = timezone.now()
    created: list[str] = []
    updated: list[str] = []
    new_objs = []
    for row in plan:
        site: Site | None = sites.get(row.site_name.lower()) if row.site_name else None
        if row.existing is None:
            new_objs.append(Participant(
                study=study, pseudonym=row.pseudonym, group=row.group, site=site, attributes=row.attributes,
                interview_date=row.interview_date, name_encrypted=encrypt_text(row.name),
                contact_encrypted=encrypt_text(row.contact), created_by=actor, created_at=now, updated_at=now,
            ))
            created.append(row.pseudonym)
        else:
            p = row.existing
            p.group = row.group
            if row.site_name is not None:
                p.site = site
            if row.has_date:
                p.interview_date = row.interview_date
            p.attributes = _merged_attributes(p.attributes, row.attributes, attr_keys)
            if row.name:
                p.name_encrypted = encrypt_text(row.name)
            if row.contact:
                p.contact_encrypted = encrypt_text(row.contact)
            p.updated_at = now
            p.save()
            updated.append(p.pseudonym)
    Participant.objects.bulk_create(new_objs, batch_size=1000)
    audit_record(
        actor=actor, action="participants.import", study=study, object_type="participants.importbatch", ip=ip,
        details={
            "sha256": hashlib.sha256(data).hexdigest(), "rows": report.rows,
            "created": created, "updated": updated, "unchanged": report.unchanged, "skipped": report.skipped,
            "error_rows": report.error_rows, "sites_created": [str(s["name"]) for s in unknown_sites.values()] if create_sites else [],
            "attributes_created": [d.key for d in new_defs.values()],
        },
    )


# Consent ----------------------------------------------------------------------------------------

_KINDS = {
    "consent": EventKind.CONSENT, "consented": EventKind.CONSENT,
    "reconsent": EventKind.RECONSENT, "re-consent": EventKind.RECONSENT, "re_consent": EventKind.RECONSENT,
    "re consent": EventKind.RECONSENT,
    "withdrawal": EventKind.WITHDRAWAL, "withdrawn": EventKind.WITHDRAWAL, "withdraw": EventKind.WITHDRAWAL,
}
_SCOPES = {
    "retain_data": WithdrawalScope.RETAIN_DATA, "retain": WithdrawalScope.RETAIN_DATA,
    "delete_data": WithdrawalScope.DELETE_DATA, "delete": WithdrawalScope.DELETE_DATA,
}
_CONSENT_BUILTIN = {"participant_id", "pseudonym", "event", "date", "form_version", "method", "withdrawal_scope", "note"}


@dataclass
class _CRow:
    line: int
    participant: Participant
    kind: str
    date: dt.date
    form_version: str
    method: str
    answers: dict[str, Any]
    scope: str
    fingerprint: str


@dataclass
class _PlannedForm:
    version: str
    effective_from: dt.date
    items: list[ItemSpec]
    id: int  # a negative placeholder until created


def consent_import(
    *,
    actor: User,
    study_id: int,
    data: bytes,
    filename: str = "",
    commit: bool = False,
    create_forms: bool = False,
    import_valid_rows: bool = False,
    confirm_deletions: bool = False,
    encoding: str | None = None,
    ip: str | None = None,
) -> ImportReport:
    study = policy.study_get_for_user(user=actor, study_id=study_id, perm=Perm.CONSENT_MANAGE)
    report = ImportReport(kind=ImportKind.CONSENT, filename=filename[:200])
    table = _read(data, encoding, report)
    pid_col = _pseudonym_column(table)
    missing = [c for c in ("event", "date") if c not in table.header]
    if missing:
        raise ValidationError(f"Line 1: the file needs the column(s) {', '.join(missing)}.")
    item_cols = [c for c in table.header if c not in _CONSENT_BUILTIN]
    for col in item_cols:
        if attribute_key(col) != col:
            raise ValidationError(f"Line 1: “{col}” is not a consent item key (use letters, digits and _).")
    forms = {f.version.lower(): f for f in ConsentForm.objects.filter(study=study).prefetch_related("items")}
    form_items = {v: {i.key: i for i in f.items.all()} for v, f in forms.items()}
    participants = {p.pseudonym.lower(): p for p in Participant.objects.filter(study=study)}
    known = set(ConsentEvent.objects.filter(study=study).values_list("participant_id", "import_key"))
    planned: dict[str, _PlannedForm] = {}
    seen: dict[tuple[int, str], int] = {}
    candidates: list[_CRow] = []
    line_participant: dict[int, int] = {}

    for line, cells in table.rows:
        rec = _cells(table, line, cells, report)
        if rec is None:
            continue
        try:
            pseudonym = parse_pseudonym(rec[pid_col])
        except ValueProblem as exc:
            report.error(line, pid_col, str(exc))
            continue
        participant = participants.get(pseudonym.lower())
        if participant is None:
            report.error(line, pid_col, f"Unknown participant {pseudonym}: import or add the participant first.")
            continue
        line_participant[line] = participant.pk
        kind = _KINDS.get(rec["event"].strip().lower())
        if kind is None:
            hint = " Record corrections on the participant's page." if rec["event"].lower().startswith("correct") else ""
            report.error(line, "event", f"Unknown event “{rec['event'][:30]}”: use consent, reconsent or withdrawal.{hint}")
            continue
        try:
            date = parse_date(rec["date"])
        except ValueProblem as exc:
            report.error(line, "date", str(exc))
            continue
        if date is None:
            report.error(line, "date", "The date is missing.")
            continue
        if date > timezone.localdate():
            report.error(line, "date", f"{date} is in the future.")
            continue
        version, scope = "", ""
        answers: dict[str, Any] = {}
        method = rec.get("method", "")[:100]
        if kind == EventKind.WITHDRAWAL:
            scope = _SCOPES.get(rec.get("withdrawal_scope", "").strip().lower(), "")
            if not scope:
                report.error(line, "withdrawal_scope", "A withdrawal needs withdrawal_scope retain_data or delete_data.")
                continue
        else:
            version = rec.get("form_version", "").strip()
            if not version:
                report.error(line, "form_version", "A consent needs the form_version it was given on.")
                continue
            answers, problem = _row_answers(rec, item_cols, version, forms, form_items, planned, create_forms, date)
            if problem:
                # A form-level problem (unknown version, an item the form lacks) is the same for every
                # row that names the form: one cause, shown once with the rows it affects.
                cause = problem[1] if problem[0] == "form_version" or (problem[1].startswith("Form version") and "has no item" in problem[1]) else ""
                report.error(line, problem[0], problem[1], cause=cause)
                continue
        fp = consent_fingerprint(pseudonym=participant.pseudonym, kind=kind, date=date,
                                 form_version=forms[version.lower()].version if version.lower() in forms else version,
                                 scope=scope, answers=answers)
        if (participant.pk, fp) in known:
            report.unchanged += 1
            continue
        if (participant.pk, fp) in seen:
            report.unchanged += 1
            report.warn(line, f"The same event as line {seen[(participant.pk, fp)]}; it is recorded once.")
            continue
        if participant.purged_at or participant.consent_state == ConsentState.WITHDRAWN_DELETE:
            report.skipped += 1
            report.warn(line, f"{participant.pseudonym} withdrew and asked for their data to be deleted; the row is skipped.")
            continue
        seen[(participant.pk, fp)] = line
        candidates.append(_CRow(line, participant, kind, date, version, method, answers, scope, fp))

    # Each participant's events must make sense in date order, with what is already recorded.
    failed: dict[int, tuple[int, str]] = {}  # participant -> (line, cause) of their first refused row
    for e in report.errors:
        if e["line"] in line_participant:
            failed.setdefault(line_participant[e["line"]], (e["line"], e["cause"]))
    candidates = _check_sequences(candidates, forms, planned, report, failed)
    report.create = len(candidates)
    report.new_forms = [
        {"version": f.version, "effective_from": f.effective_from.isoformat(), "items": [i.key for i in f.items]}
        for f in planned.values()
    ] if create_forms else []
    unknown_versions = sorted({v.version for v in planned.values()})
    if unknown_versions and not create_forms:
        report.new_forms = [{"version": v, "effective_from": "", "items": []} for v in unknown_versions]
    if not _finish(report, commit=commit, import_valid_rows=import_valid_rows, encoding=encoding,
                   confirm_deletions=confirm_deletions):
        return report
    with transaction.atomic():
        _consent_write(actor=actor, study=study, rows=candidates, forms=forms, planned=planned if create_forms else {},
                       report=report, data=data, ip=ip)
    report.committed = True
    tables_refresh_statistics(tables=[ConsentEvent._meta.db_table, Participant._meta.db_table])
    return report


def _row_answers(
    rec: dict[str, str], item_cols: list[str], version: str, forms: dict[str, ConsentForm],
    form_items: dict[str, dict[str, Any]], planned: dict[str, _PlannedForm], create_forms: bool, date: dt.date,
) -> tuple[dict[str, Any], tuple[str, str] | None]:
    v = version.lower()
    if v in forms:
        items = form_items[v]
        form = forms[v]
        if date < form.effective_from:
            return {}, ("date", f"Form version {form.version} came into use on {form.effective_from}, after this date.")
        answers: dict[str, Any] = {}
        for col in item_cols:
            if rec[col] and col not in items:
                return {}, (col, f"Form version {form.version} has no item “{col}”.")
        for key, item in items.items():
            try:
                value = parse_yes_no(rec.get(key, ""))
            except ValueProblem as exc:
                return {}, (key, str(exc))
            if item.mandatory:
                if value is False:
                    return {}, (key, f"“{key}” is a condition of taking part: a participant who declines it has not consented.")
                value = True
            answers[key] = value
        return answers, None
    # A version the study does not have yet: planned from the file's columns.
    p = planned.get(v)
    if p is None:
        specs = [ItemSpec("take_part", STANDARD_LABELS["take_part"], True)] + [
            ItemSpec(col, STANDARD_LABELS.get(col, col.replace("_", " ").capitalize()), False)
            for col in item_cols if col != "take_part"
        ]
        p = planned[v] = _PlannedForm(version, date, specs, -len(planned) - 1)
    p.effective_from = min(p.effective_from, date)
    if not create_forms:
        return {}, ("form_version", f"Unknown consent form version “{version[:20]}”. Add it, or choose to create "
                                    "the missing form versions from this file.")
    answers = {}
    for spec in p.items:
        try:
            value = parse_yes_no(rec.get(spec.key, ""))
        except ValueProblem as exc:
            return {}, (spec.key, str(exc))
        if spec.mandatory:
            if value is False:
                return {}, (spec.key, "“take_part” is no: a participant who declines has not consented.")
            value = True
        answers[spec.key] = value
    return answers, None


def _check_sequences(
    rows: list[_CRow], forms: dict[str, ConsentForm], planned: dict[str, _PlannedForm], report: ImportReport,
    failed: dict[int, tuple[int, str]] | None = None,
) -> list[_CRow]:
    by_participant: dict[int, list[_CRow]] = {}
    for r in rows:
        by_participant.setdefault(r.participant.pk, []).append(r)
    keep: list[_CRow] = []
    existing: dict[int, list[Ev]] = {}
    for e in ConsentEvent.objects.filter(participant_id__in=list(by_participant)):
        existing.setdefault(e.participant_id, []).append(Ev.of(e))
    far = timezone.now() + dt.timedelta(days=36500)
    # Problems the recorded events have on their own, which no row of this file caused.
    baseline = {pk: {ref for ref, _ in consent_derive(evs).problems} for pk, evs in existing.items()}
    for pk, prow in by_participant.items():
        pending = list(prow)
        while True:
            evs = existing.get(pk, []) + [
                Ev(ref=r, pk=None, kind=r.kind, date=r.date, answers=r.answers, scope=r.scope,
                   form_id=(forms[r.form_version.lower()].pk if r.form_version.lower() in forms
                            else planned[r.form_version.lower()].id if r.form_version else None),
                   seq=(far, r.line))
                for r in pending
            ]
            d = consent_derive(evs)
            bad = [(ref, msg) for ref, msg in d.problems if isinstance(ref, _CRow)]
            # A row dated before an event already recorded makes that event the odd one out (a second
            # consent, say): the row is what the import would change, so the row is what is refused, with
            # its line, rather than the commit failing on the recorded event.
            for ref, _msg in d.problems:
                if isinstance(ref, _CRow) or ref in baseline.get(pk, ()):
                    continue
                earlier = [r for r in pending if r.date <= ref.date] or pending
                recorded = ref.get_kind_display().lower() if hasattr(ref, "get_kind_display") else "event"
                bad.extend((r, f"this row is dated {r.date}, before the {recorded} already recorded on {ref.date}, "
                               "and events count in date order, so that one would no longer make sense. Correct "
                               "the date, or the record on the participant's page.") for r in earlier
                           if all(r is not b[0] for b in bad))
            if not bad:
                break
            for ref, msg in bad:
                prior = (failed or {}).get(pk)
                if prior is not None and prior[0] < ref.line:
                    # Most likely a consequence: the row this one builds on was refused.
                    report.error(ref.line, "event", f"{ref.participant.pseudonym}: {msg} (line {prior[0]} for "
                                 f"{ref.participant.pseudonym} was refused; fix it first)", cause=prior[1],
                                 follows=prior[0])
                else:
                    report.error(ref.line, "event", f"{ref.participant.pseudonym}: {msg}")
            pending = [r for r in pending if all(r is not b[0] for b in bad)]
        if d.state == ConsentState.WITHDRAWN_DELETE and prow[0].participant.consent_state != ConsentState.WITHDRAWN_DELETE:
            report.deletions.append(prow[0].participant.pseudonym)
        keep.extend(pending)
    report.deletions.sort()
    return keep


def _consent_write(
    *, actor: User, study: Study, rows: list[_CRow], forms: dict[str, ConsentForm], planned: dict[str, _PlannedForm],
    report: ImportReport, data: bytes, ip: str | None,
) -> None:
    from .purge import participant_purge_start

    for p in planned.values():
        created = _form_insert(study=study, actor=actor, version=p.version, title="", effective_from=p.effective_from,
                               reconsent_required=False, items=p.items)
        forms[p.version.lower()] = created
        audit_record(actor=actor, action="consent_form.create", study=study, obj=created, ip=ip,
                     details={"version": created.version, "items": [i.key for i in p.items], "via": "consent import"})
    touched: dict[int, Participant] = {}
    recorded: list[dict[str, Any]] = []
    for r in sorted(rows, key=lambda r: (r.participant.pk, r.date, r.line)):
        form: ConsentForm | None = forms.get(r.form_version.lower()) if r.form_version else None
        ConsentEvent.objects.create(
            study=study, participant=r.participant, kind=r.kind, form=form, date=r.date, method=r.method,
            answers=r.answers, withdrawal_scope=r.scope, source=EventSource.IMPORT, import_key=r.fingerprint,
            recorded_by=actor,
        )
        touched[r.participant.pk] = r.participant
        recorded.append({"pseudonym": r.participant.pseudonym, "kind": r.kind, "date": r.date.isoformat(),
                         "form_version": form.version if form else "", "withdrawal_scope": r.scope})
    purges = []
    for participant in touched.values():
        before, after = consent_state_refresh(participant=participant)
        if before != after and after in (ConsentState.WITHDRAWN_RETAIN, ConsentState.WITHDRAWN_DELETE):
            audit_record(actor=actor, action="consent.withdraw", study=study, obj=participant, ip=ip,
                         details={"pseudonym": participant.pseudonym, "state_before": before, "state_after": after,
                                  "source": EventSource.IMPORT})
        if after == ConsentState.WITHDRAWN_DELETE and before != ConsentState.WITHDRAWN_DELETE:
            purges.append(participant_purge_start(actor=actor, participant=participant, ip=ip).pk)
    audit_record(
        actor=actor, action="consent.import", study=study, object_type="participants.importbatch", ip=ip,
        details={"sha256": hashlib.sha256(data).hexdigest(), "rows": report.rows,
                 "events": recorded, "unchanged": report.unchanged, "skipped": report.skipped,
                 "error_rows": report.error_rows, "purge_jobs": purges},
    )



# Previews in the browser -----------------------------------------------------------------------


def import_batch_create(*, actor: User, study_id: int, kind: str, data: bytes, filename: str = "") -> ImportBatch:
    """Keep an uploaded file (encrypted) between its preview and the user's decision."""
    perm = Perm.PARTICIPANT_MANAGE if kind == ImportKind.PARTICIPANTS else Perm.CONSENT_MANAGE
    study = policy.study_get_for_user(user=actor, study_id=study_id, perm=perm)
    from ..csvio import max_bytes

    if len(data) > max_bytes():
        decode_upload(data)  # raises the size message
    # Drop this user's earlier, abandoned previews: only the latest is kept.
    ImportBatch.objects.filter(study=study, created_by=actor, kind=kind, status=ImportStatus.PREVIEW).delete()
    return ImportBatch.objects.create(
        study=study, kind=kind, filename=filename[:200], sha256=hashlib.sha256(data).hexdigest(),
        content_encrypted=encrypt_bytes(data).decode("ascii"), created_by=actor,
    )


def import_batch_get(*, actor: User, study_id: int, batch_id: int, kind: str) -> tuple[ImportBatch, bytes]:
    batch = ImportBatch.objects.filter(
        study_id=study_id, pk=batch_id, kind=kind, created_by=actor, status=ImportStatus.PREVIEW
    ).exclude(content_encrypted="").first()
    if batch is None:
        raise ValidationError("This preview has expired or was already imported. Upload the file again.")
    return batch, decrypt_bytes(batch.content_encrypted.encode("ascii"))


def import_batch_done(*, batch: ImportBatch, report: ImportReport) -> None:
    """Mark a previewed batch imported and wipe its content."""
    ImportBatch.objects.filter(pk=batch.pk).update(
        status=ImportStatus.COMMITTED, content_encrypted="", committed_at=timezone.now(),
        summary={k: v for k, v in report.as_dict().items() if k in ("rows", "create", "update", "unchanged", "skipped", "error_rows")},
    )
