"""Reads of blind double coding: the assignments a member sees and the agreement over the complete
ones (:mod:`analysis.coding.agreement` does the arithmetic)."""

from __future__ import annotations

from collections import defaultdict
from typing import Any

from django.db.models import Q, QuerySet
from django.db.models.functions import Length

from accounts import policy
from accounts.policy import Perm
from analysis.coding import agreement
from analysis.coding.models import Assignment, Code, Coding
from analysis.transcripts.selectors import transcripts_visible


def assignments_visible(*, user: Any, study_id: int) -> QuerySet[Assignment]:
    policy.membership_require(user=user, study_id=study_id, perm=Perm.TRANSCRIPT_VIEW)
    visible = transcripts_visible(user=user, study_id=study_id).values("pk")
    return Assignment.objects.filter(study_id=study_id, transcript__in=visible).select_related(
        "coder_a", "coder_b", "transcript__participant"
    )


def agreement_compute(*, user: Any, study_id: int, transcript_ids: list[int] | None = None) -> dict[str, Any]:
    """Agreement over the user's visible complete assignments (optionally some transcripts)."""
    policy.membership_require(user=user, study_id=study_id, perm=Perm.AGREEMENT_VIEW)
    qs = assignments_visible(user=user, study_id=study_id).filter(done_a__isnull=False, done_b__isnull=False)
    if transcript_ids is not None:
        qs = qs.filter(transcript_id__in=transcript_ids)
    rows = list(qs.annotate(n=Length("transcript__text")))
    spans: dict[tuple[int, int], dict[int, list[tuple[int, int]]]] = defaultdict(lambda: defaultdict(list))
    coder_pairs = {r.transcript_id: (r.coder_a_id, r.coder_b_id) for r in rows}
    for tid, coder, code, s, e in Coding.objects.filter(transcript_id__in=list(coder_pairs), lost=False).filter(
        Q(coder_id__in={c for p in coder_pairs.values() for c in p})
    ).values_list("transcript_id", "coder_id", "code_id", "start", "end"):
        spans[(tid, coder)][code].append((s, e))
    items = [
        agreement.TranscriptCodings(
            key=r.transcript_id, length=int(r.n),
            coder_a=spans[(r.transcript_id, r.coder_a_id)], coder_b=spans[(r.transcript_id, r.coder_b_id)],
        )
        for r in rows
    ]
    report = agreement.agreement_report(items)
    names: dict[Any, str] = dict(Code.objects.filter(study_id=study_id).values_list("pk", "name"))
    titles = {r.transcript_id: f"{r.transcript.participant.pseudonym} — {r.transcript}" for r in rows}
    return {
        "transcripts": [
            {"transcript": tid, "title": titles[tid], "coders": [r.coder_a.display_name, r.coder_b.display_name],
             **report.per_transcript[tid].as_dict()}
            for r in rows for tid in [r.transcript_id]
        ],
        "codes": [{"code": c, "name": names.get(c, "?"), **a.as_dict()} for c, a in report.per_code.items()],
        "per_transcript_code": [
            {"transcript": t, "code": c, "name": names.get(c, "?"), **a.as_dict()}
            for (t, c), a in report.per_transcript_code.items()
        ],
        "overall": report.overall.as_dict(),
    }
