"""The matrix engine: SQL aggregation over the codings a member may see.

Every count is one ``GROUP BY`` over codings joined to their transcript and participant (and, for theme
columns, the theme-code link): no Python loop over codings. The base queryset is
``codings_visible`` — the member's site and group scope (``accounts.policy``), the participants whose
consent allows analysis (``participants.consent_rules``: withdrawn-retain counts, withdrawn-delete and
purged never) and blind double coding — so the matrix and the reading pages always agree.

Columns are *providers*: a provider turns "the codings" into rows keyed by a column id. Codes key by
the coding's code; themes by the themes of that code (a theme's segments are the codings of its codes).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from typing import Any

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import connection
from django.db.models import Count, Exists, F, Max, OuterRef, QuerySet, Sum, TextField, Value
from django.db.models.fields.json import KeyTextTransform
from django.db.models.functions import Coalesce
from django.http import Http404

from accounts import policy
from accounts.models import ParticipantGroup, Site
from accounts.policy import Perm
from analysis.coding.models import Code, Coding, CodingEvent
from analysis.coding.selectors.codings import CONTEXT_CHARS, blind_exclusion_q
from analysis.coding.selectors.retrieval import segment_windows
from analysis.themes.models import Theme
from analysis.transcripts.models import SpeakerRole, Transcript, TranscriptTurn
from analysis.transcripts.sets.selectors import set_transcript_ids
from participants.consent_rules import DataUse, data_use_allowed, participants_usable_q
from participants.models import AttributeDefinition, ConsentEvent, Participant

from . import bands
from .models import Matrix

COLUMN_KINDS = ("codes", "themes")
# "codes": code co-occurrence, codes × codes (``cooccurrence``).
ROW_KINDS = ("group", "site", "participant", "attribute", "codes")
MEASURES = ("participants", "segments", "share", "characters")
MAX_IDS = 500
# A transcript set's transcripts, resolved when the matrix is asked for, can be the whole of a large study.
MAX_SET_IDS = 20_000
SEGMENTS_PER_PAGE = 20
P = "transcript__participant__"


@dataclass(frozen=True)
class Spec:
    """A matrix request, normalised: equal requests have equal specs and so equal keys."""

    columns: str = "codes"
    column_ids: tuple[int, ...] = ()  # empty: all
    rows: str = "group"
    attribute: str = ""
    coder: str = "all"  # "all", "agreed" or a user id as text
    site_ids: tuple[int, ...] = ()
    group_ids: tuple[int, ...] = ()
    transcript_ids: tuple[int, ...] = ()
    # Asked "by a transcript set": the set's id, and in ``transcript_ids`` its transcripts (those the member
    # may count) as they were when the matrix was asked for. The ids, not the set, are what is counted: a
    # stored result stays reproducible whatever happens to the set later, and ``matrix_is_stale`` compares
    # them with the set as it is now, so adding to or taking from the set makes the matrix out of date.
    transcript_set_id: int | None = None
    skip_interviewer: bool = False
    # Bands for a number or date attribute (``bands.py``), normalised: "18,30,45", "year", "quarter" or
    # "2020-01-01,2020-07-01"; empty: every value its own row.
    bands: str = ""

    def as_dict(self) -> dict[str, Any]:
        return {k: list(v) if isinstance(v, tuple) else v for k, v in asdict(self).items()}

    @property
    def key(self) -> str:
        d = self.as_dict()
        if not d["bands"]:
            del d["bands"]  # requests from before bands existed keep their key (and their fresh results)
        if d["transcript_set_id"] is None:
            del d["transcript_set_id"]  # likewise for requests not made by a transcript set
        return hashlib.sha256(json.dumps(d, sort_keys=True).encode()).hexdigest()


def _ids(value: Any, field_name: str, limit: int = MAX_IDS) -> tuple[int, ...]:
    if value in (None, "", []):
        return ()
    if isinstance(value, str):
        value = [v for v in value.split(",") if v.strip()]
    if not isinstance(value, list | tuple):
        raise ValidationError({field_name: "Give a list of ids."})
    if len(value) > limit:
        raise ValidationError({field_name: f"At most {limit} ids."})
    out = set()
    for v in value:
        try:
            n = int(v)
        except (TypeError, ValueError):
            raise ValidationError({field_name: "Ids are whole numbers."}) from None
        if not policy.id_ok(n):
            raise ValidationError({field_name: "No such id."})
        out.add(n)
    return tuple(sorted(out))


def _choice(value: Any, allowed: tuple[str, ...], field_name: str, default: str) -> str:
    if value in (None, ""):
        return default
    if value not in allowed:
        raise ValidationError({field_name: f"Choose one of: {', '.join(allowed)}."})
    return str(value)


def spec_parse(raw: dict[str, Any]) -> Spec:
    """A :class:`Spec` from a form or a JSON body; anything malformed is a ValidationError (a 400)."""
    for k, v in raw.items():
        if isinstance(v, str) and "\x00" in v:
            raise ValidationError({k: "Text cannot contain NUL characters."})
    rows = _choice(raw.get("rows"), ROW_KINDS, "rows", "group")
    attribute = raw.get("attribute") or ""
    if not isinstance(attribute, str) or len(attribute) > 50:
        raise ValidationError({"attribute": "An attribute key of at most 50 characters."})
    if rows == "attribute" and not attribute:
        raise ValidationError({"attribute": "Choose the participant attribute for the rows."})
    if rows == "codes" and raw.get("columns") not in (None, "", "codes"):
        raise ValidationError({"columns": "Co-occurrence sets codes against codes: choose codes for the columns."})
    coder = raw.get("coder") or "all"
    if not isinstance(coder, str | int):
        raise ValidationError({"coder": "Choose all, agreed or a coder."})
    coder = str(coder)
    if coder not in ("all", "agreed"):
        _ids([coder], "coder")
    skip = raw.get("skip_interviewer")
    band_text = bands.bands_parse(raw.get("bands")) if rows == "attribute" else ""
    set_ids = _ids([raw["transcript_set_id"]] if raw.get("transcript_set_id") not in (None, "") else [],
                   "transcript_set_id")
    return Spec(
        columns=_choice(raw.get("columns"), COLUMN_KINDS, "columns", "codes"),
        column_ids=_ids(raw.get("column_ids"), "column_ids"),
        rows=rows, attribute=attribute if rows == "attribute" else "", coder=coder,
        site_ids=_ids(raw.get("site_ids"), "site_ids"), group_ids=_ids(raw.get("group_ids"), "group_ids"),
        transcript_ids=_ids(raw.get("transcript_ids"), "transcript_ids", MAX_SET_IDS if set_ids else MAX_IDS),
        transcript_set_id=set_ids[0] if set_ids else None,
        skip_interviewer=skip in (True, "1", "on", "true", "yes"), bands=band_text,
    )


def spec_check(*, study_id: int, spec: Spec) -> None:
    """What needs the study to check: bands only on an attribute of their kind (numbers or dates)."""
    if spec.bands:
        kind = AttributeDefinition.objects.filter(study_id=study_id, key=spec.attribute).values_list(
            "kind", flat=True).first()
        bands.bands_check(spec.bands, kind=kind or "")


def data_version(*, study_id: int) -> str:
    """A fingerprint of everything a matrix is computed from: codings (count, newest id and change),
    themes and their codes, consent and participants. Cheap aggregate reads, no row is loaded."""
    parts = [
        Coding.objects.filter(study_id=study_id).aggregate(n=Count("id"), m=Max("id"), u=Max("updated_at")),
        CodingEvent.objects.filter(transcript__study_id=study_id).aggregate(m=Max("id")),
        Theme.objects.filter(study_id=study_id).aggregate(n=Count("id"), u=Max("updated_at"), c=Count("codes")),
        Participant.objects.filter(study_id=study_id).aggregate(n=Count("id"), u=Max("updated_at")),
        ConsentEvent.objects.filter(participant__study_id=study_id).aggregate(m=Max("id")),
        Transcript.objects.filter(study_id=study_id).aggregate(n=Count("id"), v=Sum("version")),
    ]
    return hashlib.sha256(json.dumps(parts, sort_keys=True, default=str).encode()).hexdigest()


# The engine --------------------------------------------------------------------------------------


def _row_expr(spec: Spec) -> Any:
    if spec.rows == "group":
        return F(P + "group_id")
    if spec.rows == "site":
        return F(P + "site_id")
    if spec.rows == "participant":
        return F("transcript__participant_id")
    return _attribute_expr(spec, P + "attributes")


def _attribute_expr(spec: Spec, path: str) -> Any:
    """A participant attribute as text ("" when not recorded), the row key of attribute rows; with bands,
    the label of the value's band ("" when outside every band or not recorded)."""
    if spec.bands:
        return bands.band_expr(spec.bands, KeyTextTransform(spec.attribute, path))
    return Coalesce(KeyTextTransform(spec.attribute, path), models_value(""), output_field=TextField())


def models_value(v: Any) -> Any:
    return Value(v)


def _visible(*, user: Any, study_id: int) -> QuerySet[Coding]:
    """The same rows as ``codings_visible`` (scope, consent for analysis, blind double coding), written
    on the one join to the participant that the GROUP BY needs anyway. ``codings_visible`` filters by
    ``transcript IN (subquery)``; with statistics not yet gathered after a bulk import PostgreSQL ran
    that as a nested loop per coding (1 s for 13k codings instead of 70 ms)."""
    qs = Coding.objects.filter(study_id=study_id, lost=False).filter(
        participants_usable_q(DataUse.ANALYSIS, prefix=P))
    qs = policy.filter_visible(user=user, study=study_id, perm=Perm.MATRIX_VIEW, queryset=qs)
    hidden = blind_exclusion_q(user=user, study_id=study_id)
    return qs.exclude(hidden) if hidden else qs


def _base(*, user: Any, study_id: int, spec: Spec) -> QuerySet[Coding]:
    """The codings behind the matrix: visible to the user, inside the request's filters."""
    qs = _visible(user=user, study_id=study_id)
    if spec.site_ids:
        qs = qs.filter(**{P + "site_id__in": spec.site_ids})
    if spec.group_ids:
        qs = qs.filter(**{P + "group_id__in": spec.group_ids})
    if spec.transcript_ids:
        qs = qs.filter(transcript_id__in=spec.transcript_ids)
    if spec.coder == "agreed":
        # Coder A's segments on a double-coded transcript that coder B coded with the same code,
        # overlapping: the passages both coders of the pair agree on.
        partner = Coding.objects.filter(
            transcript_id=OuterRef("transcript_id"), code_id=OuterRef("code_id"),
            coder_id=OuterRef("transcript__assignment__coder_b_id"), lost=False,
            start__lt=OuterRef("end"), end__gt=OuterRef("start"))
        qs = qs.filter(coder_id=F("transcript__assignment__coder_a_id")).filter(Exists(partner))
    elif spec.coder != "all":
        qs = qs.filter(coder_id=int(spec.coder))
    if spec.skip_interviewer:
        inside_interviewer = TranscriptTurn.objects.filter(
            transcript_id=OuterRef("transcript_id"), role=SpeakerRole.INTERVIEWER,
            start__lte=OuterRef("start"), end__gte=OuterRef("end"))
        qs = qs.exclude(Exists(inside_interviewer))
    return qs


@dataclass
class Header:
    id: Any
    label: str


@dataclass
class Result:
    columns: list[Header] = field(default_factory=list)
    rows: list[Header] = field(default_factory=list)
    # cells[row_index][column_index] = {"participants", "segments", "characters", "share"}
    cells: list[list[dict[str, Any]]] = field(default_factory=list)
    row_totals: list[dict[str, Any]] = field(default_factory=list)
    column_totals: list[dict[str, Any]] = field(default_factory=list)
    total: dict[str, Any] = field(default_factory=dict)
    row_bases: list[int] = field(default_factory=list)
    # "crosstab", or "cooccurrence" (codes × codes: no totals, other measures).
    kind: str = "crosstab"


def _column_headers(*, study_id: int, spec: Spec) -> list[Header]:
    if spec.columns == "themes":
        qs: Any = Theme.objects.filter(study_id=study_id).order_by("position", "name", "id")
    else:
        qs = Code.objects.filter(study_id=study_id, is_codable=True).order_by("parent__position", "position", "name", "id")
    if spec.column_ids:
        qs = qs.filter(pk__in=spec.column_ids)
    return [Header(pk, name) for pk, name in qs.values_list("pk", "name")]


def _row_base(*, user: Any, study_id: int, spec: Spec) -> dict[Any, int]:
    """Participants per row who could have been coded: in scope, usable for analysis, with a transcript
    in the request's set — the denominator of the share."""
    membership = policy.membership_require(user=user, study_id=study_id, perm=Perm.MATRIX_VIEW)
    qs = Participant.objects.filter(study_id=study_id).filter(participants_usable_q(DataUse.ANALYSIS)).filter(
        policy.scope_q(membership, site_path="site", group_path="group"))
    transcripts = Transcript.objects.filter(participant_id=OuterRef("pk"))
    if spec.transcript_ids:
        transcripts = transcripts.filter(pk__in=spec.transcript_ids)
    qs = qs.filter(Exists(transcripts))
    if spec.site_ids:
        qs = qs.filter(site_id__in=spec.site_ids)
    if spec.group_ids:
        qs = qs.filter(group_id__in=spec.group_ids)
    expr: Any = {"group": F("group_id"), "site": F("site_id"), "participant": F("pk")}.get(spec.rows)
    if expr is None:
        expr = _attribute_expr(spec, "attributes")
    return {r["row"]: r["n"] for r in qs.annotate(row=expr).values("row").annotate(n=Count("pk", distinct=True)).order_by()}


def _row_headers(*, study_id: int, spec: Spec, keys: set[Any]) -> list[Header]:
    if spec.rows == "group":
        return [Header(pk, label) for pk, label in ParticipantGroup.objects.filter(study_id=study_id, pk__in=keys)
                .order_by("position", "label").values_list("pk", "label")]
    if spec.rows == "site":
        out = [Header(pk, name) for pk, name in Site.objects.filter(study_id=study_id, pk__in=keys)
               .order_by("name").values_list("pk", "name")]
        return out + ([Header(None, "No site")] if None in keys else [])
    if spec.rows == "participant":
        return [Header(pk, name) for pk, name in Participant.objects.filter(study_id=study_id, pk__in=keys)
                .order_by("pseudonym").values_list("pk", "pseudonym")]
    if spec.bands:
        order = {label: i for i, label in enumerate(bands.band_order(spec.bands))}
        return [Header(k, k or "Outside every band or not recorded")
                for k in sorted(keys, key=lambda k: (k == "", order.get(k, len(order)), str(k)))]
    return [Header(k, k or "Not recorded") for k in sorted(keys, key=lambda k: (k == "", str(k)))]


def _share(participants: int, base: int) -> float | None:
    return round(participants / base, 4) if base else None


CROSSTAB_STEPS = 2  # checkpoints: the counts, then the row bases


def _per_participant_code(*, user: Any, study_id: int, spec: Spec) -> tuple[str, tuple[Any, ...]]:
    """SQL for the visible codings summed per (participant, row, code): ``pid``, ``row``, ``code_id``,
    ``n`` (codings) and ``ch`` (coded characters), limited to the codes the columns draw on.

    Every number of the matrix derives from these few thousand rows, so the codings are read once,
    grouped by hashing, instead of four times through COUNT(DISTINCT …) sorts over every coding × theme
    pair (222k rows spilled to disk at 1,000 participants)."""
    qs = _base(user=user, study_id=study_id, spec=spec)
    if spec.columns == "themes":
        links = Theme.codes.through.objects.filter(theme__study_id=study_id)
        if spec.column_ids:
            links = links.filter(theme_id__in=spec.column_ids)
        qs = qs.filter(code_id__in=links.values("code_id"))
    elif spec.column_ids:
        qs = qs.filter(code_id__in=spec.column_ids)
    summed = (qs.annotate(pid=F("transcript__participant_id"), row=_row_expr(spec))
              .values("pid", "row", "code_id").annotate(n=Count("id"), ch=Sum(F("end") - F("start"))).order_by())
    sql, params = summed.query.sql_with_params()
    return sql, tuple(params)


def _crosstab_counts(*, user: Any, study_id: int, spec: Spec) -> list[tuple[Any, ...]]:
    """One statement: ``(kind, row, col, participants, segments, characters)`` for the cells (1), row
    totals (2), column totals (3) and the whole (4). A coding counts once in a total even when its code
    serves two chosen themes (its segments come from ``p``); characters and participants are summed over
    the coding × column pairs as each cell sums them."""
    p_sql, params = _per_participant_code(user=user, study_id=study_id, spec=spec)
    if spec.columns == "themes":
        theme_filter = ""
        extra: tuple[Any, ...] = (study_id,)
        if spec.column_ids:
            theme_filter = " AND tc.theme_id IN (" + ", ".join(["%s"] * len(spec.column_ids)) + ")"
            extra += tuple(spec.column_ids)
        t_sql = ('SELECT p.pid, p."row", tc.theme_id AS col, p.n, p.ch FROM p '  # noqa: S608
                 "JOIN themes_theme_codes tc ON tc.code_id = p.code_id "
                 "JOIN themes_theme th ON th.id = tc.theme_id WHERE th.study_id = %s" + theme_filter)
    else:
        extra = ()
        t_sql = 'SELECT p.pid, p."row", p.code_id AS col, p.n, p.ch FROM p'
    # Only placeholders and the ORM's compiled SQL are spliced in; every value travels as a parameter.
    sql = (
        f"WITH p AS ({p_sql}), t AS ({t_sql}) "  # noqa: S608
        'SELECT 1, t."row", t.col, COUNT(DISTINCT t.pid), SUM(t.n), SUM(t.ch) FROM t GROUP BY t."row", t.col '
        'UNION ALL SELECT 2, t."row", NULL, COUNT(DISTINCT t.pid), NULL, SUM(t.ch) FROM t GROUP BY t."row" '
        "UNION ALL SELECT 3, NULL, t.col, COUNT(DISTINCT t.pid), SUM(t.n), SUM(t.ch) FROM t GROUP BY t.col "
        "UNION ALL SELECT 4, NULL, NULL, COUNT(DISTINCT t.pid), NULL, SUM(t.ch) FROM t "
        'UNION ALL SELECT 5, p."row", NULL, NULL, SUM(p.n), NULL FROM p GROUP BY p."row" '
        "UNION ALL SELECT 6, NULL, NULL, NULL, SUM(p.n), NULL FROM p"
    )
    with connection.cursor() as cursor:
        cursor.execute(sql, params + extra)
        return list(cursor.fetchall())


def crosstab_compute(*, user: Any, study_id: int, spec: Spec, checkpoint: Callable[[int], None] | None = None) -> Result:
    """The matrix as the user may see it now: one aggregate statement (cells, row totals, column totals,
    the whole, over the codings summed per participant and code) plus the row bases and the headers
    (``engine.matrix_compute`` sends codes × codes to co-occurrence instead). ``checkpoint(n)`` is
    called after each statement (the job's progress and cancel point)."""
    step = checkpoint or (lambda _n: None)
    policy.membership_require(user=user, study_id=study_id, perm=Perm.MATRIX_VIEW)
    cells: dict[tuple[Any, Any], dict[str, Any]] = {}
    row_tot: dict[Any, dict[str, Any]] = {}
    col_tot: dict[Any, dict[str, Any]] = {}
    whole: dict[str, Any] = {}
    for kind, row, col, participants, segments, characters in _crosstab_counts(user=user, study_id=study_id,
                                                                                spec=spec):
        if kind == 1:
            cells[(row, col)] = {"participants": participants, "segments": segments, "characters": characters}
        elif kind == 2:
            row_tot.setdefault(row, {}).update(participants=participants, characters=characters)
        elif kind == 3:
            col_tot[col] = {"participants": participants, "segments": segments, "characters": characters}
        elif kind == 4:
            whole.update(participants=participants, characters=characters)
        elif kind == 5:
            row_tot.setdefault(row, {})["segments"] = segments
        else:
            whole["segments"] = segments
    step(1)
    bases = _row_base(user=user, study_id=study_id, spec=spec)
    step(2)
    columns = _column_headers(study_id=study_id, spec=spec)
    rows = _row_headers(study_id=study_id, spec=spec, keys=set(bases) | set(row_tot))
    zero = {"participants": 0, "segments": 0, "characters": 0}

    def pick(r: Any, n_base: int | None) -> dict[str, Any]:
        out: dict[str, Any] = {k: int((r or zero).get(k) or 0) for k in zero}
        out["share"] = _share(out["participants"], n_base) if n_base is not None else None
        return out

    out = Result(columns=columns, rows=rows)
    for row in rows:
        b = bases.get(row.id, 0)
        out.row_bases.append(b)
        out.cells.append([pick(cells.get((row.id, c.id)), b) for c in columns])
        out.row_totals.append(pick(row_tot.get(row.id), b))
    n_all = sum(bases.values())
    out.column_totals = [pick(col_tot.get(c.id), n_all) for c in columns]
    out.total = pick(whole, n_all)
    return out


def result_json(result: Result) -> dict[str, Any]:
    return asdict(result)


# Reading stored matrices -------------------------------------------------------------------------


def matrices_mine(*, user: Any, study_id: int) -> QuerySet[Matrix]:
    policy.membership_require(user=user, study_id=study_id, perm=Perm.MATRIX_VIEW)
    return Matrix.objects.filter(study_id=study_id, created_by=user).select_related("job")


def matrix_get(*, user: Any, study_id: int, matrix_id: Any) -> Matrix:
    try:
        pk = int(matrix_id)
    except (TypeError, ValueError):
        raise Http404("No such matrix.") from None
    m = matrices_mine(user=user, study_id=study_id).filter(pk=pk).first() if policy.id_ok(pk) else None
    if m is None:
        raise Http404("No such matrix.")
    return m


def matrix_is_stale(*, matrix: Matrix) -> bool:
    if matrix.data_version != data_version(study_id=matrix.study_id):
        return True
    spec = spec_of(matrix)
    if spec.transcript_set_id is None:
        return False
    current = set_transcripts_now(user=matrix.created_by, study_id=matrix.study_id, set_id=spec.transcript_set_id)
    # A deleted set is not a change of data: the stored ids still say what was counted.
    return current is not None and tuple(current) != spec.transcript_ids


def set_transcripts_now(*, user: Any, study_id: int, set_id: int) -> list[int] | None:
    """The transcript set's transcripts that ``user`` may count in a matrix today; ``None`` if the set is
    gone or they may no longer read it."""
    try:
        return set_transcript_ids(user=user, study_id=study_id, set_id=set_id, perm=Perm.MATRIX_VIEW)
    except (Http404, PermissionDenied):
        return None


def spec_of(matrix: Matrix) -> Spec:
    return spec_parse(dict(matrix.spec))


# Click-through -----------------------------------------------------------------------------------


@dataclass
class Segment:
    coding_id: int
    code_name: str
    pseudonym: str
    group: str
    transcript_id: int
    transcript_title: str
    line: int
    start: int  # for the link into the reading page (never shown)
    length: int
    before: str
    text: str
    after: str
    shown: bool
    quotable: bool
    # Who coded it: two coders' codings of one passage are two segments, which read as a duplicate unnamed.
    coder: str = ""
    # A co-occurrence passage: ``text`` is where both codes apply; ``lead`` / ``tail`` the rest of the two
    # coded segments around it; the second coding and its code.
    other_code: str = ""
    other_coding_id: int | None = None
    other_coder: str = ""
    lead: str = ""
    tail: str = ""
    overlap_start: int | None = None
    overlap_length: int | None = None


@dataclass
class CellPage:
    column: str
    row: str
    total: int
    page: int
    pages: int
    segments: list[Segment] = field(default_factory=list)


def page_number(page: Any) -> int:
    """A click-through page number from the request, or a ValidationError."""
    try:
        page_n = int(page or 1)
    except (TypeError, ValueError):
        raise ValidationError({"page": "A page number."}) from None
    if not 0 < page_n <= 100_000:
        raise ValidationError({"page": "Out of range."})
    return page_n


def crosstab_cell(*, user: Any, study_id: int, spec: Spec, result: dict[str, Any], row: Any, column: Any,
                  page_n: int, per_page: int = SEGMENTS_PER_PAGE) -> CellPage:
    """One page of the segments behind a cell (``row`` / ``column`` are indexes into the stored result,
    or "total" for the totals), with context. Segment text is shown only where the participant's consent
    stands (not after a withdrawal); their counts stay."""
    qs = _base(user=user, study_id=study_id, spec=spec)
    col_label = row_label = "All"
    col_id = None
    if column != "total":
        idx = _index(column, len(result.get("columns", [])), "column")
        col = result["columns"][idx]
        col_id, col_label = col["id"], col["label"]
    if spec.columns == "themes":
        # The theme's codes as a list of ids, not a join: a coding whose code is in two themes stays one row
        # (no DISTINCT over the page), and with the ids known PostgreSQL reads each transcript's codings of
        # those codes only (a subquery made it read every coding of the row's transcripts: 96 → 64 ms for a
        # 48,000-segment cell at 1,000 participants).
        links = Theme.codes.through.objects.filter(theme__study_id=study_id)
        if col_id is not None:
            links = links.filter(theme_id=col_id)
        elif spec.column_ids:
            links = links.filter(theme_id__in=spec.column_ids)
        qs = qs.filter(code_id__in=sorted(set(links.values_list("code_id", flat=True))))
    elif col_id is not None:
        qs = qs.filter(code_id=col_id)
    elif spec.column_ids:
        qs = qs.filter(code_id__in=spec.column_ids)
    if row != "total":
        idx = _index(row, len(result.get("rows", [])), "row")
        r = result["rows"][idx]
        qs = qs.annotate(row=_row_expr(spec)).filter(row=r["id"]) if r["id"] is not None else qs.filter(
            **{P + "site_id__isnull": True})
        row_label = r["label"]
    return segments_page(qs, column=col_label, row=row_label, page=page_n, per_page=per_page)


def segments_page(qs: QuerySet[Coding], *, column: str, row: str, page: int, per_page: int) -> CellPage:
    """One page of the codings of ``qs`` with their text, context and line numbers."""
    # The codings counted per participant in reading order (pseudonym; unique in a study), then the page's
    # ids from the one to three participants it falls on, then text, context and line numbers for those 20
    # rows only. The total needs every coding of the cell once; sorting them all by pseudonym to cut a page
    # (a window count over the ordered ids: 48,359 rows sorted and spilled to disk for the busiest cell at
    # 1,000 participants) does not: the page's own query reads a few participants' codings.
    # Ordered here, not by the database: ordered by pseudonym, PostgreSQL sorted the 48,359 rows (on disk)
    # instead of hashing them into 522 participants; the pseudonym rides along in the GROUP BY (the
    # participants are joined for consent anyway), where a second query by 522 ids cost more to send.
    per_person = sorted(
        (pseudonym, pid, n) for pid, pseudonym, n in qs.order_by()
        .values("transcript__participant_id", "transcript__participant__pseudonym").annotate(n=Count("id"))
        .values_list("transcript__participant_id", "transcript__participant__pseudonym", "n"))
    total = sum(n for _pseudonym, _pid, n in per_person)
    pages = max(1, -(-total // per_page))
    page_n = min(page, pages)  # a page past the end shows the last one
    first = (page_n - 1) * per_page
    people: list[int] = []
    skip = seen = 0
    for _pseudonym, pid, n in per_person:
        if seen + n > first:
            if not people:
                skip = first - seen
            people.append(pid)
        seen += n
        if seen >= first + per_page:
            break
    ids = list(qs.filter(transcript__participant_id__in=people).order_by(P + "pseudonym", "transcript_id", "start", "id")
               .values_list("id", flat=True)[skip: skip + per_page]) if people else []
    rows = (
        Coding.objects.filter(pk__in=ids).select_related("code", "coder", "transcript__participant__group")
        .defer("transcript__text", "transcript__newlines")
        .order_by(P + "pseudonym", "transcript_id", "start", "id")
    )
    # Text, context and line numbers as a code's segments page reads them (``segment_windows``): the window
    # [start - CONTEXT_CHARS, end + CONTEXT_CHARS) cut once per row, the line from the recorded newlines.
    windows = segment_windows(ids, CONTEXT_CHARS)
    out = CellPage(column=column, row=row, total=total, page=page_n, pages=pages)
    for c in rows:
        w = windows[c.pk]
        rel_s, rel_e = c.start - w.start, c.end - w.start
        p = c.transcript.participant
        # The team reads the text of participants whose consent stands; after a withdrawal that keeps the
        # data, the segment still counts but its words are no longer shown ("no new quotes").
        shown = data_use_allowed(participant=p, use=DataUse.CODING)
        out.segments.append(Segment(
            coding_id=c.pk, code_name=c.code.name, pseudonym=p.pseudonym, group=p.group.label,
            transcript_id=c.transcript_id, transcript_title=c.transcript.title, line=w.line_at(c.start), start=c.start,
            length=c.end - c.start, before=(("…" if c.start > CONTEXT_CHARS else "") + w.text[:rel_s]) if shown else "",
            text=w.text[rel_s:rel_e] if shown else "", after=_more(w.text[rel_e:]) if shown else "", shown=shown,
            quotable=data_use_allowed(participant=p, use=DataUse.QUOTING), coder=c.coder.display_name))
    return out


def _more(after: str) -> str:
    """The context after a segment, with "…" where the transcript goes on beyond it (as before it)."""
    return after + "…" if len(after) >= CONTEXT_CHARS else after


def _index(value: Any, n: int, name: str) -> int:
    try:
        i = int(value)
    except (TypeError, ValueError):
        raise ValidationError({name: f"Choose a {name} of the matrix."}) from None
    if not 0 <= i < n:
        raise ValidationError({name: f"No such {name} in this matrix."})
    return i

