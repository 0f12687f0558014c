"""The one place that decides who may do what in a study, and which objects a user may see.

Every view, API view, selector, export and task asks this module. Two kinds of answer:

* role permissions: may this member perform ``perm`` in this study?  A non-member gets 404
  (the study's existence is not confirmed); a member whose role lacks the permission gets 403.
* scope: which rows of a queryset may this member see?  A membership may be limited to sites and
  participant groups (empty = all). Rows outside scope are filtered out, so looking one up by id
  answers 404 — never a 403 that would confirm it exists.

Models that carry scope declare where their site and group live with two class attributes,
``scope_site_path`` and ``scope_group_path`` (for example ``"participant__site"``).
"""

from __future__ import annotations

from enum import StrEnum
from typing import Any, TypeVar

from django.core.exceptions import PermissionDenied
from django.db import connection, models
from django.db.models import Q, QuerySet, Value
from django.http import Http404

from .models import Membership, Role, Study, User


class Perm(StrEnum):
    STUDY_VIEW = "study.view"
    STUDY_EDIT = "study.edit"
    SITE_MANAGE = "site.manage"
    MEMBER_VIEW = "member.view"
    MEMBER_MANAGE = "member.manage"
    AUDIT_VIEW = "audit.view"
    JOB_VIEW = "job.view"
    # Cancel or retry a job one started (jobs stay private to who started them).
    JOB_MANAGE = "job.manage"
    PARTICIPANT_VIEW = "participant.view"
    PARTICIPANT_MANAGE = "participant.manage"
    PARTICIPANT_IDENTIFIABLE = "participant.identifiable"
    PARTICIPANT_EXPORT = "participant.export"
    CONSENT_VIEW = "consent.view"
    CONSENT_MANAGE = "consent.manage"
    SAMPLING_VIEW = "sampling.view"
    SAMPLING_MANAGE = "sampling.manage"
    TRANSCRIPT_VIEW = "transcript.view"
    TRANSCRIPT_UPLOAD = "transcript.upload"
    TRANSCRIPT_EDIT = "transcript.edit"
    TRANSCRIPT_ORIGINAL = "transcript.original"
    # Read the words a correction or redaction removed (and what earlier edits wrote that a later one
    # removed): a "[NAME]" redaction removes a participant's real name, so only the roles that may
    # undo an edit (lead) or hold the original file (admin) see it; everyone else sees counts only.
    TRANSCRIPT_REMOVED_TEXT = "transcript.removed_text"
    # Make, change and delete saved transcript sets (reading them needs only transcript.view; who may
    # change a given set is ``may_change_transcript_set``).
    TRANSCRIPT_SET_EDIT = "transcript_set.edit"
    CODEBOOK_VIEW = "codebook.view"
    CODEBOOK_EDIT = "codebook.edit"
    CODING_WRITE = "coding.write"
    # Define a code from the coding page; it is marked as proposed until a lead reviews it.
    CODE_PROPOSE = "code.propose"
    # Change or remove other members' codings and memos (everyone may change their own).
    WORK_OF_OTHERS_EDIT = "work_of_others.edit"
    MEMO_WRITE = "memo.write"
    ASSIGNMENT_MANAGE = "assignment.manage"
    AGREEMENT_VIEW = "agreement.view"
    # The PPI board: shared themes, their descriptions and consented quotes (every role).
    THEME_VIEW = "theme.view"
    # The team's theme pages: the codes, counts and coded segments behind a theme.
    THEME_ANALYSE = "theme.analyse"
    # Propose a theme (it starts as a candidate, off the board).
    THEME_PROPOSE = "theme.propose"
    THEME_EDIT = "theme.edit"
    QUOTE_CURATE = "quote.curate"
    THEME_COMMENT = "theme.comment"
    # The team's comments on a code (leads and coders); readers of the codebook read them.
    CODE_COMMENT = "code.comment"
    # Resolve and reopen comments; accept or decline suggestions.
    COMMENT_MODERATE = "comment.moderate"
    BOARD_SETTINGS = "board.settings"
    MATRIX_VIEW = "matrix.view"
    MATRIX_RUN = "matrix.run"
    EXPORT = "export"
    # REFI-QDA projects: an import creates participants, codes, transcripts and codings at once, so
    # it is its own permission (a lead's), not the sum of the admin's and the lead's.
    PROJECT_IMPORT = "project.import"
    PROJECT_EXPORT = "project.export"
    # Export coded material (codings with their text) as CSV/XLSX: whoever may read the transcripts
    # may take their coded segments away, within the same scope, consent and blinding.
    CODING_EXPORT = "coding.export"


_READ_ANALYSIS = {
    Perm.STUDY_VIEW,
    Perm.PARTICIPANT_VIEW,
    Perm.CONSENT_VIEW,
    Perm.SAMPLING_VIEW,
    Perm.TRANSCRIPT_VIEW,
    Perm.CODEBOOK_VIEW,
    Perm.THEME_VIEW,
    Perm.THEME_ANALYSE,
    Perm.THEME_COMMENT,
    Perm.MATRIX_VIEW,
    Perm.JOB_VIEW,
    Perm.JOB_MANAGE,
}

ROLE_PERMS: dict[str, frozenset[Perm]] = {
    Role.ADMIN: frozenset(
        _READ_ANALYSIS
        | {
            Perm.STUDY_EDIT,
            Perm.SITE_MANAGE,
            Perm.MEMBER_VIEW,
            Perm.MEMBER_MANAGE,
            Perm.AUDIT_VIEW,
            Perm.PARTICIPANT_MANAGE,
            Perm.PARTICIPANT_IDENTIFIABLE,
            Perm.PARTICIPANT_EXPORT,
            Perm.CONSENT_MANAGE,
            Perm.TRANSCRIPT_UPLOAD,
            Perm.TRANSCRIPT_ORIGINAL,
            Perm.TRANSCRIPT_REMOVED_TEXT,
            Perm.AGREEMENT_VIEW,
            Perm.BOARD_SETTINGS,
            Perm.CODING_EXPORT,
        }
    ),
    Role.LEAD: frozenset(
        _READ_ANALYSIS
        | {
            Perm.MEMBER_VIEW,
            Perm.SAMPLING_MANAGE,
            Perm.PARTICIPANT_EXPORT,
            Perm.TRANSCRIPT_UPLOAD,
            Perm.TRANSCRIPT_EDIT,
            Perm.TRANSCRIPT_REMOVED_TEXT,
            Perm.CODEBOOK_EDIT,
            Perm.CODING_WRITE,
            Perm.CODE_PROPOSE,
            Perm.MEMO_WRITE,
            Perm.TRANSCRIPT_SET_EDIT,
            Perm.WORK_OF_OTHERS_EDIT,
            Perm.ASSIGNMENT_MANAGE,
            Perm.AGREEMENT_VIEW,
            Perm.THEME_PROPOSE,
            Perm.THEME_EDIT,
            Perm.QUOTE_CURATE,
            Perm.CODE_COMMENT,
            Perm.COMMENT_MODERATE,
            Perm.BOARD_SETTINGS,
            Perm.MATRIX_RUN,
            Perm.EXPORT,
            Perm.PROJECT_IMPORT,
            Perm.PROJECT_EXPORT,
            Perm.CODING_EXPORT,
        }
    ),
    # Coders ask for matrices too (issue 14): the numbers are computed in their own scope.
    Role.CODER: frozenset(_READ_ANALYSIS | {
        Perm.CODING_WRITE, Perm.CODE_PROPOSE, Perm.MEMO_WRITE, Perm.THEME_PROPOSE, Perm.CODING_EXPORT,
        Perm.MATRIX_RUN, Perm.CODE_COMMENT, Perm.TRANSCRIPT_SET_EDIT,
    }),
    Role.PPI: frozenset({Perm.STUDY_VIEW, Perm.THEME_VIEW, Perm.THEME_COMMENT}),
}

_CACHE_ATTR = "_chorus_memberships"
MAX_ID = 2**63 - 1  # the largest id a 64-bit primary key can hold


def id_ok(value: int) -> bool:
    """Whether an integer can be a primary key: a larger one would overflow SQLite (a 500), so callers
    answer it as "not found" instead."""
    return 0 < value <= MAX_ID

M = TypeVar("M", bound=models.Model)


def membership_get(*, user: Any, study_id: int | str) -> Membership | None:
    """The user's membership in a study, cached on the user object for the request."""
    if not getattr(user, "is_authenticated", False):
        return None
    try:
        key = int(study_id)
    except (TypeError, ValueError):
        return None
    if not id_ok(key):  # SQLite raises OverflowError on ids beyond 64 bits: answer 404
        return None
    cache: dict[int, Membership | None] = user.__dict__.setdefault(_CACHE_ATTR, {})
    if key not in cache:
        cache[key] = _membership_load(user=user, study_id=key)
    return cache[key]


def _membership_load(*, user: Any, study_id: int) -> Membership | None:
    """The membership, its study and its scope ids in one statement.

    This runs on every request that touches a study (it was most of the cost of adding a coding), so
    it is one plain SQL statement rather than an ORM query: the ORM's aggregate query cost ~5 ms of
    Python per request to build, the statement ~1 ms. The rows become ordinary model instances, with
    the database converters applied as the ORM applies them."""
    with connection.cursor() as cursor:
        cursor.execute(_MEMBERSHIP_SQL, [user.pk, study_id])
        rows = cursor.fetchall()
    if not rows:
        return None
    n_m, n_s = len(_MEMBERSHIP_COLUMNS), len(_STUDY_COLUMNS)
    membership = _instance(Membership, _MEMBERSHIP_COLUMNS, rows[0][:n_m])
    membership.study = _instance(Study, _STUDY_COLUMNS, rows[0][n_m:n_m + n_s])
    membership.scope_site_ids = frozenset(r[-1] for r in rows if r[-2] == 0)  # type: ignore[attr-defined]
    membership.scope_group_ids = frozenset(r[-1] for r in rows if r[-2] == 1)  # type: ignore[attr-defined]
    return membership


# One row per scope entry (or one row with NULLs for an unscoped membership). A study field missing
# from the column lists is not wrong, only loaded lazily when read.
_MEMBERSHIP_COLUMNS = ("id", "user_id", "study_id", "role", "created_at")
_STUDY_COLUMNS = ("id", "name", "description", "created_at", "created_by_id")
_MEMBERSHIP_SQL = """
SELECT m.id, m.user_id, m.study_id, m.role, m.created_at,
       s.id, s.name, s.description, s.created_at, s.created_by_id,
       scope.kind, scope.ref
FROM accounts_membership m
JOIN accounts_study s ON s.id = m.study_id
JOIN accounts_user u ON u.id = m.user_id
LEFT JOIN (
    SELECT membership_id, 0 AS kind, site_id AS ref FROM accounts_membership_scope_sites
    UNION ALL
    SELECT membership_id, 1 AS kind, participantgroup_id AS ref FROM accounts_membership_scope_groups
) scope ON scope.membership_id = m.id
WHERE m.user_id = %s AND m.study_id = %s AND u.is_active
"""


def _instance(model: type[M], attnames: tuple[str, ...], values: Any) -> M:
    """A model instance from raw column values, converted as the ORM converts them."""
    converted = []
    for name, value in zip(attnames, values, strict=True):
        field = model._meta.get_field(name)  # accepts an attname ("study_id") too
        assert isinstance(field, models.Field)  # a concrete column, not a reverse relation
        col = field.get_col(model._meta.db_table)
        for converter in connection.ops.get_db_converters(col) + field.get_db_converters(connection):
            value = converter(value, col, connection)
        converted.append(value)
    return model.from_db(connection.alias, list(attnames), converted)


def _scope_ids(membership: Membership) -> tuple[frozenset[int], frozenset[int]]:
    """The membership's scope as id sets (empty = all), loaded once and kept on the object."""
    if not hasattr(membership, "scope_site_ids"):
        through_sites = Membership.scope_sites.through.objects.filter(membership_id=membership.pk)
        through_groups = Membership.scope_groups.through.objects.filter(membership_id=membership.pk)
        rows = through_sites.values_list(Value(0), "site_id").union(
            through_groups.values_list(Value(1), "participantgroup_id"), all=True
        )
        pairs = list(rows)
        membership.scope_site_ids = frozenset(i for kind, i in pairs if kind == 0)  # type: ignore[attr-defined]
        membership.scope_group_ids = frozenset(i for kind, i in pairs if kind == 1)  # type: ignore[attr-defined]
    return membership.scope_site_ids, membership.scope_group_ids  # type: ignore[attr-defined]


def membership_forget(*, user: Any) -> None:
    """Drop the per-request cache after a membership change made in the same request."""
    user.__dict__.pop(_CACHE_ATTR, None)


def role_allows(role: str, perm: Perm) -> bool:
    return perm in ROLE_PERMS.get(role, frozenset())


def has_perm(*, user: Any, study: Study | int, perm: Perm) -> bool:
    study_id = study.pk if isinstance(study, Study) else study
    membership = membership_get(user=user, study_id=study_id)
    return membership is not None and role_allows(membership.role, perm)


def perms_for(*, user: Any, study: Study | int) -> frozenset[Perm]:
    study_id = study.pk if isinstance(study, Study) else study
    membership = membership_get(user=user, study_id=study_id)
    return ROLE_PERMS.get(membership.role, frozenset()) if membership else frozenset()


def membership_require(*, user: Any, study_id: int | str, perm: Perm = Perm.STUDY_VIEW) -> Membership:
    """The membership if the user may ``perm`` in the study: 404 for non-members, 403 for the wrong role."""
    membership = membership_get(user=user, study_id=study_id)
    if membership is None:
        raise Http404("No such study.")
    if not role_allows(membership.role, perm):
        raise PermissionDenied(f"Your role in this study does not allow this ({perm}).")
    return membership


def study_get_for_user(*, user: Any, study_id: int | str, perm: Perm = Perm.STUDY_VIEW) -> Study:
    return membership_require(user=user, study_id=study_id, perm=perm).study


def studies_visible(*, user: Any) -> QuerySet[Study]:
    if not getattr(user, "is_authenticated", False):
        return Study.objects.none()
    # A subquery, not a join: a join on memberships would make a later Count("memberships") count
    # only this user's own membership.
    member_of = Membership.objects.filter(user=user, user__is_active=True).values("study_id")
    return Study.objects.filter(pk__in=member_of)


def scope_q(membership: Membership, *, site_path: str | None, group_path: str | None) -> Q:
    """The filter that keeps rows inside the membership's site and group scope."""
    q = Q()
    site_ids, group_ids = _scope_ids(membership)
    if site_ids and site_path:
        q &= Q(**{f"{site_path}__in": sorted(site_ids)})
    if group_ids and group_path:
        q &= Q(**{f"{group_path}__in": sorted(group_ids)})
    return q


def is_scoped(membership: Membership) -> bool:
    site_ids, group_ids = _scope_ids(membership)
    return bool(site_ids or group_ids)


def filter_visible(*, user: Any, study: Study | int, perm: Perm, queryset: QuerySet[M]) -> QuerySet[M]:
    """Rows of ``queryset`` (already limited to the study) that the user may see for ``perm``.

    Raises 404/403 like :func:`membership_require`. The model's ``scope_site_path`` and
    ``scope_group_path`` say where scope applies; a model without them is study-wide.
    """
    study_id = study.pk if isinstance(study, Study) else study
    membership = membership_require(user=user, study_id=study_id, perm=perm)
    model = queryset.model
    site_path = getattr(model, "scope_site_path", None)
    group_path = getattr(model, "scope_group_path", None)
    return queryset.filter(scope_q(membership, site_path=site_path, group_path=group_path))


def get_visible_or_404(*, user: Any, study: Study | int, perm: Perm, queryset: QuerySet[M], **lookup: Any) -> M:
    obj = filter_visible(user=user, study=study, perm=perm, queryset=queryset).filter(**lookup).first()
    if obj is None:
        raise Http404("Not found.")
    return obj


def in_scope(*, membership: Membership, site_id: int | None, group_id: int | None) -> bool:
    """Object-level scope check for one participant-like object (for writes and tasks)."""
    site_ids, group_ids = _scope_ids(membership)
    if site_ids and site_id not in site_ids:
        return False
    return not (group_ids and group_id not in group_ids)


def may_change_authored(*, membership: Membership, author_id: int | None) -> bool:
    """Codings and memos: their author may change them, and a role that may edit others' work."""
    return author_id == membership.user_id or role_allows(membership.role, Perm.WORK_OF_OTHERS_EDIT)


# Double coding ------------------------------------------------------------------------------------------
# Who takes part: a member who may code is a possible coder of a pair; a member who may read agreement
# sees every pair and its figures; a member who may manage assignments pairs coders and decides.


def may_delete_chart(*, membership: Membership, author_id: int | None) -> bool:
    """A framework chart is deleted by a member who may make charts and who made it, or by a lead."""
    return role_allows(membership.role, Perm.MATRIX_RUN) and may_change_authored(
        membership=membership, author_id=author_id)


def may_change_transcript_set(*, membership: Membership, author_id: int | None) -> bool:
    """A transcript set is shared by the team but changed (renamed, its transcripts added or removed, deleted)
    by who made it, or by a lead: a coder's careful selection is not rearranged under them by another coder."""
    return role_allows(membership.role, Perm.TRANSCRIPT_SET_EDIT) and may_change_authored(
        membership=membership, author_id=author_id)


def may_double_code(role: str) -> bool:
    """A member with this role can be one of the two coders of a double-coded transcript."""
    return role_allows(role, Perm.CODING_WRITE)


def double_coding_visible(role: str) -> bool:
    """The *Double coding* page and its navigation item: coders (their own pairs) and agreement readers."""
    return may_double_code(role) or role_allows(role, Perm.AGREEMENT_VIEW)


def roles_double_coding() -> list[str]:
    """The roles whose members may be assigned as a coder of a pair (for choosers and queries)."""
    return [role for role in ROLE_PERMS if may_double_code(role)]


def disagreement_access(*, membership: Membership, coder_ids: tuple[int | None, int | None], write: bool) -> bool:
    """Read (or, with ``write``, comment on and resolve) a double-coded transcript's disagreements: the two
    assigned coders, and leads (write) or agreement readers (read)."""
    assigned = membership.user_id in coder_ids and may_double_code(membership.role)
    if write:
        return assigned or role_allows(membership.role, Perm.ASSIGNMENT_MANAGE)
    return assigned or role_allows(membership.role, Perm.AGREEMENT_VIEW)


# Ids in a URL that name a piece of the analysis (a transcript, a participant, a code, a theme's team page…).
ANALYSIS_OBJECT_KWARGS = frozenset({
    "transcript_id", "participant_id", "code_id", "coding_id", "memo_id", "event_id", "edit_id", "batch_id",
    "attribute_id", "form_id", "key", "theme_id", "quote_id", "matrix_id", "chart_id",
    "set_id",
})


def denial_hides_object(*, user: Any, kwargs: dict[str, Any]) -> bool:
    """Should a refusal be a 404 rather than a 403? Yes for a board-only member (a PPI co-designer) asking
    for a piece of the analysis by its id: they may know the transcripts page exists (403 there), but are
    never told whether transcript 17 does. The error handlers of the pages and the API ask this."""
    study_id = kwargs.get("study_id")
    if study_id is None or not (ANALYSIS_OBJECT_KWARGS & kwargs.keys()):
        return False
    membership = membership_get(user=user, study_id=study_id)
    return membership is not None and not role_allows(membership.role, Perm.THEME_ANALYSE)


def comment_perm(*, on_code: bool) -> Perm:
    """What writing a comment needs: on a theme, taking part in the board; on a code, being on the team."""
    return Perm.CODE_COMMENT if on_code else Perm.THEME_COMMENT


def comment_read_perm(*, on_code: bool) -> Perm:
    """What reading a comment needs: the board's for a theme's, the codebook's for a code's."""
    return Perm.CODEBOOK_VIEW if on_code else Perm.THEME_VIEW


def may_edit_comment(*, membership: Membership, author_id: int | None, on_code: bool = False) -> bool:
    """A comment's words are its author's: only they may change them (a lead resolves, not rewrites)."""
    return author_id == membership.user_id and role_allows(membership.role, comment_perm(on_code=on_code))


def may_delete_comment(*, membership: Membership, author_id: int | None, on_code: bool = False) -> bool:
    """Its author, or a lead moderating the board or the codebook's threads."""
    return may_edit_comment(membership=membership, author_id=author_id, on_code=on_code) or role_allows(
        membership.role, Perm.COMMENT_MODERATE)


def may_code_transcript(*, membership: Membership | None, participant: Any) -> bool:
    """May this member add codings to a transcript of ``participant`` (already in their scope)?
    Their role must allow coding and the participant's consent must allow new coding: the *Code*
    links, the coding page's picker and the coding services all ask this one question."""
    if membership is None or not role_allows(membership.role, Perm.CODING_WRITE):
        return False
    from participants.consent_rules import DataUse, data_use_allowed  # the consent rules import this module

    return data_use_allowed(participant=participant, use=DataUse.CODING)


def may_propose_code(*, membership: Membership | None) -> bool:
    """May this member define a new code from the coding page? Leads edit the codebook; coders
    propose codes (design: roles), which land in the codebook marked as proposed."""
    return membership is not None and (
        role_allows(membership.role, Perm.CODEBOOK_EDIT) or role_allows(membership.role, Perm.CODE_PROPOSE)
    )


def acting_user(request: Any) -> User:
    """The signed-in user of a request (views are behind login_required / IsAuthenticated)."""
    user = request.user
    if not isinstance(user, User) or not user.is_authenticated:
        raise PermissionDenied("Sign in first.")
    return user


def study_member_or_404(*, user: Any, study_id: Any) -> None:
    """The first check of every request under a study (pages: accounts.middleware; API: the default
    permission class): a signed-in non-member learns nothing, not even what was wrong with the input."""
    if getattr(user, "is_authenticated", False) and membership_get(user=user, study_id=study_id) is None:
        raise Http404("No such study.")


def user_is_member(*, user: User, study: Study) -> bool:
    return membership_get(user=user, study_id=study.pk) is not None


def may_report_csp_violation(*, user: Any) -> bool:
    """Anyone may send a Content-Security-Policy violation report, signed in or not. Browsers send
    them without the session cookie (the Reporting API never includes credentials), so requiring one
    would lose exactly the reports that show a broken or attacked page; the endpoint's size and rate
    limits bound the abuse instead, and it stores nothing."""
    return True
