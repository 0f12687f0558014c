"""Codebook import, whatever the file format: a preview (plan) and an atomic commit.

Parsers (:mod:`interop.qdc`, :mod:`analysis.coding.csvio`) turn a file into :class:`ImportItem` rows, each a
path of names (``("Therapeutic relationship", "Loss of non-verbal cues")``) with the fields the file
states. :func:`codebook_import_plan` matches every item against the study's codebook:

1. by GUID, when the file gives one that a code of this study already carries;
2. otherwise by path: the same name (case-insensitive) under the matched parent.

A matched code is updated with the fields the file states (its name and place stay as they are;
a move or rename is done in Chorus); an unmatched one is created, with any missing ancestors.
Created codes keep the file's GUID, so importing the same file again matches everything and
changes nothing (idempotent). GUIDs are not stable across exports in some tools, so the path is
the fallback that keeps a re-export of the same codebook idempotent too.

The preview is the plan. The commit re-plans against the codebook as it is at that moment, inside
one transaction, and refuses while any row has an error: all or nothing.
"""

from __future__ import annotations

import uuid
from dataclasses import asdict, dataclass, field
from typing import Any

from django.core import signing
from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone

from accounts import policy
from accounts.models import Study, User
from accounts.policy import Perm
from accounts.services import audit_record
from analysis.coding.colours import colour_normalise, palette_next
from analysis.coding.models import Code
from analysis.coding.services.codebook import NAME_MAX, PATH_SEPARATOR, TEXT_FIELDS, TEXT_MAX

MAX_IMPORT_BYTES = 5 * 1024 * 1024
MAX_IMPORT_CODES = 5000
MAX_DEPTH = 20
_SIGNING_SALT = "coding.codebook-import"


class ImportFileError(ValidationError):
    """The file as a whole cannot be read (not XML, a DTD, too big, wrong root…)."""


@dataclass
class ImportItem:
    path: list[str]
    row: int  # line or element number in the file, for messages
    guid: str | None = None
    description: str | None = None
    inclusion_criteria: str | None = None
    exclusion_criteria: str | None = None
    example: str | None = None
    colour: str | None = None
    is_codable: bool | None = None
    errors: list[str] = field(default_factory=list)
    implied: bool = False  # an ancestor the file names only inside a path

    def stated(self) -> dict[str, Any]:
        out = {k: getattr(self, k) for k in (*TEXT_FIELDS, "colour", "is_codable")}
        return {k: v for k, v in out.items() if v is not None}


@dataclass
class ParsedFile:
    kind: str  # "qdc" | "csv"
    filename: str
    items: list[ImportItem]
    warnings: list[str] = field(default_factory=list)


@dataclass
class PlanRow:
    path: list[str]
    row: int
    action: str  # create | update | unchanged | error
    code_id: int | None = None
    changes: dict[str, Any] = field(default_factory=dict)
    errors: list[str] = field(default_factory=list)
    implied: bool = False
    matched_by: str = ""  # guid | path | ""

    @property
    def label(self) -> str:
        return " › ".join(self.path)


@dataclass
class ImportPlan:
    rows: list[PlanRow]
    warnings: list[str]

    def count(self, action: str) -> int:
        return sum(1 for r in self.rows if r.action == action)

    @property
    def errors(self) -> list[PlanRow]:
        return [r for r in self.rows if r.action == "error"]

    @property
    def ok(self) -> bool:
        return not self.errors

    def summary(self) -> dict[str, int]:
        return {a: self.count(a) for a in ("create", "update", "unchanged", "error")}

    def as_dict(self) -> dict[str, Any]:
        return {
            "summary": self.summary(), "warnings": self.warnings,
            "rows": [
                {"path": r.path, "row": r.row, "action": r.action, "code_id": r.code_id,
                 "changes": r.changes, "errors": r.errors, "implied": r.implied, "matched_by": r.matched_by}
                for r in self.rows
            ],
        }


# Shared item checks ------------------------------------------------------------------------------


def item_from_path(
    raw_path: list[str], *, row: int, guid: str | None = None, fields: dict[str, Any] | None = None
) -> ImportItem:
    """An item with its names cleaned and its fields checked; problems go into ``item.errors``."""
    item = ImportItem(path=[], row=row)
    parts: list[str] = []
    for raw in raw_path:
        parts.extend(" ".join(p.split()) for p in str(raw).split(PATH_SEPARATOR))
    item.path = parts
    if not parts or any(not p for p in parts):
        item.errors.append("A code name is empty.")
    if any(len(p) > NAME_MAX for p in parts):
        item.errors.append(f"A code name is longer than {NAME_MAX} characters.")
    if len(parts) > MAX_DEPTH:
        item.errors.append(f"Codes nest at most {MAX_DEPTH} levels deep.")
    if guid:
        try:
            item.guid = str(uuid.UUID(guid.strip().strip("{}")))
        except ValueError:
            item.errors.append(f"“{guid}” is not a GUID.")
    for key, value in (fields or {}).items():
        if value is None:
            continue
        if key in TEXT_FIELDS:
            text = str(value).strip()
            if len(text) > TEXT_MAX:
                item.errors.append(f"{key.replace('_', ' ').capitalize()} is longer than {TEXT_MAX} characters.")
            setattr(item, key, text)
        elif key == "colour":
            try:
                item.colour = colour_normalise(str(value))
            except ValueError:
                item.errors.append(f"“{value}” is not a colour; use a hex value such as #005eb8.")
        elif key == "is_codable":
            item.is_codable = bool(value)
    return item


# Planning ----------------------------------------------------------------------------------------


@dataclass
class _Node:
    """A code in the plan: an existing one (``code``) or one to create (``row``)."""

    code: Code | None
    row: PlanRow | None


def _with_implied_parents(items: list[ImportItem]) -> list[ImportItem]:
    """Every item plus an implied item for each ancestor the file never lists itself, ordered
    parents first (stable within one depth), so ``A::B`` before ``A`` still works."""
    seen = {tuple(p.lower() for p in i.path) for i in items if not i.errors}
    extra: list[ImportItem] = []
    for item in items:
        if item.errors:
            continue
        for depth in range(1, len(item.path)):
            key = tuple(p.lower() for p in item.path[:depth])
            if key not in seen:
                seen.add(key)
                extra.append(ImportItem(path=item.path[:depth], row=item.row, implied=True))
    return sorted([*items, *extra], key=lambda i: len(i.path))


def codebook_import_plan(*, study: Study, parsed: ParsedFile) -> ImportPlan:
    if len(parsed.items) > MAX_IMPORT_CODES:
        raise ImportFileError(f"The file has {len(parsed.items)} codes; at most {MAX_IMPORT_CODES} can be imported at once.")
    existing = list(Code.objects.filter(study=study))
    by_guid = {str(c.guid): c for c in existing}
    existing_children: dict[int | None, dict[str, Code]] = {}
    for c in existing:
        existing_children.setdefault(c.parent_id, {})[c.name.lower()] = c

    root = _Node(code=None, row=None)
    nodes_by_path: dict[tuple[str, ...], _Node] = {(): root}
    rows: list[PlanRow] = []
    used_guids: set[str] = set()
    matched_codes: set[int] = set()

    for item in _with_implied_parents(parsed.items):
        row = PlanRow(path=item.path, row=item.row, action="error", errors=list(item.errors), implied=item.implied)
        rows.append(row)
        if row.errors:
            continue
        key = tuple(p.lower() for p in item.path)
        if key in nodes_by_path:
            row.errors.append("This code appears twice in the file; the first one is used.")
            continue
        parent = nodes_by_path.get(key[:-1])
        if parent is None:  # its parent had an error
            row.errors.append(f"Its parent “{' › '.join(item.path[:-1])}” cannot be imported.")
            continue
        if item.guid and item.guid in used_guids:
            row.errors.append("Another code in the file has the same GUID.")
            continue
        match: Code | None = None
        if item.guid and item.guid in by_guid:
            match, row.matched_by = by_guid[item.guid], "guid"
        elif parent.row is None:  # the parent exists (or is the top level): look for a sibling
            parent_id = parent.code.pk if parent.code else None
            match = existing_children.get(parent_id, {}).get(key[-1])
            row.matched_by = "path" if match else ""
        if match is not None and match.pk in matched_codes:
            row.errors.append(f"Matches the same code as an earlier row (“{match.name}”).")
            continue
        if item.guid:
            used_guids.add(item.guid)
        node = _Node(code=match, row=None)
        if match is not None:
            matched_codes.add(match.pk)
            # Children of a GUID match resolve under the code that matched, wherever it lives.
            row.code_id = match.pk
            changes = {k: v for k, v in item.stated().items() if getattr(match, k) != v}
            row.action = "update" if changes else "unchanged"
            row.changes = changes
        else:
            node.row = row
            row.action = "create"
            row.changes = {
                **item.stated(),
                **({"guid": item.guid} if item.guid and item.guid not in by_guid else {}),
            }
        nodes_by_path[key] = node
    for row in rows:
        if row.errors:
            row.action = "error"
    return ImportPlan(rows=rows, warnings=list(parsed.warnings))


def codebook_import_preview(*, actor: User, study_id: int, parsed: ParsedFile) -> ImportPlan:
    study = policy.study_get_for_user(user=actor, study_id=study_id, perm=Perm.CODEBOOK_EDIT)
    return codebook_import_plan(study=study, parsed=parsed)


@transaction.atomic
def codebook_import_commit(
    *, actor: User, study_id: int, parsed: ParsedFile, ip: str | None = None
) -> ImportPlan:
    """Apply the file: all rows or none. Returns the plan that was applied."""
    study = policy.study_get_for_user(user=actor, study_id=study_id, perm=Perm.CODEBOOK_EDIT)
    # Serialise imports into one study (PostgreSQL; SQLite serialises writers anyway).
    Study.objects.select_for_update().filter(pk=study.pk).first()
    plan = codebook_import_plan(study=study, parsed=parsed)
    if not plan.ok:
        raise ValidationError(
            [f"Row {r.row} ({r.label}): {'; '.join(r.errors)}" for r in plan.errors][:50]
        )
    now = timezone.now()
    created_by_path: dict[tuple[str, ...], Code] = {}
    used = list(Code.objects.filter(study=study).values_list("colour", flat=True))
    next_pos: dict[int | None, int] = {}
    for row in plan.rows:
        key = tuple(p.lower() for p in row.path)
        if row.action == "create":
            parent_key = key[:-1]
            parent_code: Code | None = None
            if parent_key:
                parent_code = created_by_path.get(parent_key)
                if parent_code is None:
                    raise ValidationError(f"Row {row.row}: its parent could not be resolved.")
            parent_id = parent_code.pk if parent_code else None
            if parent_id not in next_pos:
                last = Code.objects.filter(study=study, parent_id=parent_id).order_by("-position").first()
                next_pos[parent_id] = last.position + 1 if last else 0
            fields = dict(row.changes)
            guid = fields.pop("guid", None)
            if "colour" not in fields:
                fields["colour"] = palette_next(used)
            used.append(fields["colour"])
            code = Code.objects.create(
                study=study, parent=parent_code, name=row.path[-1], position=next_pos[parent_id],
                guid=uuid.UUID(guid) if guid else uuid.uuid4(), created_by=actor, updated_by=actor,
                created_at=now, updated_at=now, **fields,
            )
            next_pos[parent_id] += 1
            row.code_id = code.pk
            created_by_path[key] = code
        else:
            assert row.code_id is not None
            code = Code.objects.get(pk=row.code_id)
            created_by_path[key] = code
            if row.action == "update":
                Code.objects.filter(pk=code.pk).update(
                    **row.changes, version=code.version + 1, updated_by=actor, updated_at=now
                )
    audit_record(
        actor=actor, action="codebook.import", study=study, ip=ip, object_type="coding.codebook",
        object_id=study.pk, details={"file": parsed.filename[:200], "format": parsed.kind, **plan.summary()},
    )
    return plan


# Carrying a parsed file from the preview page to the commit, without a temporary table ----------


def parsed_sign(*, parsed: ParsedFile, study_id: int, user_id: int) -> str:
    payload = {"study": study_id, "user": user_id, "file": asdict(parsed)}
    return signing.dumps(payload, salt=_SIGNING_SALT, compress=True)


def parsed_unsign(*, token: str, study_id: int, user_id: int, max_age: int = 3600) -> ParsedFile:
    try:
        payload = signing.loads(token, salt=_SIGNING_SALT, max_age=max_age)
    except signing.BadSignature as exc:
        raise ValidationError("The preview has expired or was altered. Upload the file again.") from exc
    if payload.get("study") != study_id or payload.get("user") != user_id:
        raise ValidationError("This preview belongs to another study or user. Upload the file again.")
    f = payload["file"]
    items = [ImportItem(**i) for i in f["items"]]
    return ParsedFile(kind=f["kind"], filename=f["filename"], items=items, warnings=f["warnings"])
