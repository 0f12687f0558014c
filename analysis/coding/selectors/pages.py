"""What the coding pages show, gathered for the acting user: the coding page, the side-by-side
comparison of a double-coded transcript, the double coding page and the Memos page. Each function
takes the user and asks the policy module, so a view only parses its request and renders."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from django.core.exceptions import PermissionDenied
from django.db.models import QuerySet
from django.urls import reverse

from accounts import policy
from accounts.models import Membership, User
from accounts.policy import Perm
from analysis.coding.models import Assignment, Code, Coding
from analysis.coding.selectors import assignments as assignment_selectors
from analysis.coding.selectors import codebook as codebook_selectors
from analysis.coding.selectors import codings as coding_selectors
from analysis.coding.selectors import disagreements as disagreement_selectors
from analysis.transcripts import selectors as transcript_selectors
from analysis.transcripts.models import Transcript
from participants.consent_rules import DataUse, data_use_allowed

# The comparison shows this much of each span's text; the reading view holds the rest.
COMPARE_TEXT_CHARS = 600


def codes_for_picker(*, user: Any, study_id: int) -> list[dict[str, Any]]:
    """The codebook as the coding page's picker reads it: flat, in tree order, with each code's path."""
    policy.membership_require(user=user, study_id=study_id, perm=Perm.CODEBOOK_VIEW)
    codes = list(Code.objects.filter(study_id=study_id).order_by("position", "id").only(
        "id", "parent_id", "name", "colour", "is_codable", "description", "position"))
    flat = codebook_selectors.code_tree_flat(codebook_selectors.code_tree(codes))
    return [{"id": n.code.pk, "name": n.code.name, "path": " › ".join(n.path), "colour": n.code.colour,
             "text": n.code.label_colour, "codable": n.code.is_codable, "depth": n.depth,
             "description": n.code.description} for n in flat]


@dataclass
class CodingPage:
    membership: Membership
    transcript: Transcript
    turns: list[Any]
    config: dict[str, Any]  # read by coder.js (json_script)
    can_code: bool
    frozen: bool
    assignment: Assignment | None
    is_assigned: bool


def coding_page(*, user: User, study_id: int, transcript_id: Any) -> CodingPage:
    """The transcript with its visible codings, the codebook and what the user may do there."""
    membership = policy.membership_require(user=user, study_id=study_id, perm=Perm.TRANSCRIPT_VIEW)
    transcript = coding_selectors.transcript_for_coding(user=user, study_id=study_id, transcript_id=transcript_id)
    rows = coding_selectors.transcript_coding_rows(user=user, study_id=study_id, transcript=transcript)
    frozen = not data_use_allowed(participant=transcript.participant, use=DataUse.CODING)
    can_code = policy.may_code_transcript(membership=membership, participant=transcript.participant)
    assignment = Assignment.objects.filter(transcript=transcript).select_related("coder_a", "coder_b").first()
    coders = {r["coder"]: r["coder_name"] for r in rows}
    coders.setdefault(user.pk, user.display_name)
    perms = policy.perms_for(user=user, study=study_id)
    config = {
        "study": study_id, "transcript": transcript.pk, "version": transcript.version, "me": user.pk,
        "meName": user.display_name, "canCode": can_code, "canMemo": Perm.MEMO_WRITE in perms and not frozen,
        "isLead": Perm.WORK_OF_OTHERS_EDIT in perms,
        "newCodeApi": reverse("api-code-propose", args=[study_id])
        if can_code and policy.may_propose_code(membership=membership) else None,
        "api": reverse("api-coding-list", args=[study_id, transcript.pk]),
        "memoApi": reverse("api-memo-list", args=[study_id]),
        "memoPage": reverse("memo-list", args=[study_id]),
        "stream": reverse("coding-stream", args=[study_id, transcript.pk]),
        "feed": coding_selectors.feed_head(transcript_id=transcript.pk),
        "codings": rows, "codes": codes_for_picker(user=user, study_id=study_id),
        "coders": [{"id": k, "name": v} for k, v in sorted(coders.items(), key=lambda kv: kv[1])],
    }
    return CodingPage(
        membership=membership, transcript=transcript, turns=transcript_selectors.reading_all(transcript=transcript),
        config=config, can_code=can_code, frozen=frozen, assignment=assignment,
        is_assigned=assignment is not None and user.pk in (assignment.coder_a_id, assignment.coder_b_id),
    )


# Double coding ---------------------------------------------------------------------------------------


def agreement_if_readable(*, user: Any, study_id: int, transcript_ids: list[int] | None = None) -> dict[str, Any] | None:
    """The agreement figures for a member who may read them, None for anyone else (coders see their
    pairs, not the figures)."""
    if not policy.has_perm(user=user, study=study_id, perm=Perm.AGREEMENT_VIEW):
        return None
    return assignment_selectors.agreement_compute(user=user, study_id=study_id, transcript_ids=transcript_ids)


@dataclass
class DoubleCodingPage:
    membership: Membership
    rows: list[tuple[Assignment, dict[str, Any] | None]]
    report: dict[str, Any] | None
    coders: list[User]
    transcripts: list[Transcript]


def double_coding_require(*, user: User, study_id: int) -> Membership:
    """The membership of a member who takes part in double coding (403 for any other role)."""
    membership = policy.membership_require(user=user, study_id=study_id, perm=Perm.TRANSCRIPT_VIEW)
    if not policy.double_coding_visible(membership.role):
        raise PermissionDenied("Your role does not take part in double coding.")
    return membership


def double_coding_page(*, user: User, study_id: int) -> DoubleCodingPage:
    """The pairs the user sees with their figures, and who and what may still be paired."""
    membership = double_coding_require(user=user, study_id=study_id)
    assignments = list(assignment_selectors.assignments_visible(user=user, study_id=study_id)
                       .order_by("transcript__participant__pseudonym"))
    report = agreement_if_readable(user=user, study_id=study_id)
    per_t = {r["transcript"]: r for r in report["transcripts"]} if report else {}
    coders = Membership.objects.filter(
        study_id=study_id, role__in=policy.roles_double_coding(), user__is_active=True).select_related("user")
    assigned = {a.transcript_id for a in assignments}
    return DoubleCodingPage(
        membership=membership, rows=[(a, per_t.get(a.transcript_id)) for a in assignments], report=report,
        coders=[m.user for m in coders],
        transcripts=[t for t in transcript_selectors.transcript_list(user=user, study_id=study_id)
                     if t.pk not in assigned],
    )


@dataclass
class Comparison:
    """A double-coded transcript side by side: per code, each span coded by one or both coders."""

    membership: Membership
    transcript: Transcript
    assignment: Assignment
    blind: bool  # the coders are not both done: nothing is compared yet
    rows: list[dict[str, Any]] = field(default_factory=list)
    report: dict[str, Any] | None = None
    listing: disagreement_selectors.Listing | None = None
    status: str = "all"


def comparison(*, user: User, study_id: int, transcript_id: Any, status: str = "all") -> Comparison:
    membership, a = disagreement_selectors.disagreements_access(
        user=user, study_id=study_id, transcript_id=transcript_id, write=False)
    t = coding_selectors.transcript_for_coding(user=user, study_id=study_id, transcript_id=transcript_id)
    if not a.complete:
        return Comparison(membership=membership, transcript=t, assignment=a, blind=True)
    codings = coding_selectors.transcript_codings(user=user, study_id=study_id, transcript=t).filter(
        coder_id__in=[a.coder_a_id, a.coder_b_id])
    by_code: dict[int, dict[str, Any]] = {}
    for c in codings:
        row = by_code.setdefault(c.code_id, {"code": c.code, "a": [], "b": []})
        row["a" if c.coder_id == a.coder_a_id else "b"].append(c)
    rows = []
    for row in sorted(by_code.values(), key=lambda r: r["code"].name):
        spans_a = {(c.start, c.end) for c in row["a"]}
        spans_b = {(c.start, c.end) for c in row["b"]}
        items = [{"start": s, "end": e, "text": t.text[s:e][:COMPARE_TEXT_CHARS],
                  "a": (s, e) in spans_a, "b": (s, e) in spans_b} for s, e in sorted(spans_a | spans_b)]
        rows.append({"code": row["code"], "items": items,
                     "agree": sum(1 for i in items if i["a"] and i["b"]), "total": len(items)})
    status = status if status in disagreement_selectors.STATUSES else "all"
    return Comparison(
        membership=membership, transcript=t, assignment=a, blind=False, rows=rows,
        report=agreement_if_readable(user=user, study_id=study_id, transcript_ids=[t.pk]),
        listing=disagreement_selectors.disagreements_list(user=user, study_id=study_id, transcript_id=t.pk,
                                                          status=status),
        status=status,
    )


# Memos -------------------------------------------------------------------------------------------------


@dataclass
class MemoPage:
    membership: Membership
    memos: list[coding_selectors.MemoEntry]
    codes: QuerySet[Code]
    transcripts: QuerySet[Transcript]
    about_coding: Coding | None
    about_coding_text: str


def memo_page(*, user: User, study_id: int, query: str = "", target: str = "", coding_id: Any = None) -> MemoPage:
    """The memos the user may read, what a new memo may be about, and the coding a memo is being
    written on (when the coding page sent the user here)."""
    membership = policy.membership_require(user=user, study_id=study_id, perm=Perm.TRANSCRIPT_VIEW)
    about = None
    if coding_id:
        try:
            about = coding_selectors.codings_visible(user=user, study_id=study_id).select_related(
                "code", "transcript__participant").get(pk=int(coding_id))
        except (ValueError, OverflowError, Coding.DoesNotExist):
            about = None
    return MemoPage(
        membership=membership,
        memos=coding_selectors.memo_entries(user=user, study_id=study_id, query=query, target=target),
        codes=Code.objects.filter(study_id=study_id).order_by("name"),
        transcripts=transcript_selectors.transcript_list(user=user, study_id=study_id),
        about_coding=about, about_coding_text=about.transcript.text[about.start:about.end] if about else "",
    )
