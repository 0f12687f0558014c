"""Reading transcript sets. A set is study-level (the whole team sees it), but its members are transcripts,
which follow scope and consent: every count and list here holds only the transcripts the acting member may
see (``transcripts_visible``), so a site-scoped coder never learns what else a set holds."""

from __future__ import annotations

from typing import Any

from django.db.models import Count, Q, QuerySet
from django.http import Http404

from accounts import policy
from accounts.policy import Perm
from analysis.transcripts.models import Transcript, TranscriptSet, TranscriptSetMember
from analysis.transcripts.selectors import transcripts_visible


def _pk(value: Any) -> int:
    try:
        pk = int(value)
    except (TypeError, ValueError):
        raise Http404("No such transcript set.") from None
    if not policy.id_ok(pk):
        raise Http404("No such transcript set.")
    return pk


def sets_list(*, user: Any, study_id: int, perm: Perm = Perm.TRANSCRIPT_VIEW) -> QuerySet[TranscriptSet]:
    """The study's sets, each with ``visible_count``: its transcripts this member may see."""
    policy.membership_require(user=user, study_id=study_id, perm=perm)
    visible = transcripts_visible(user=user, study_id=study_id, perm=perm).order_by().values("pk")
    return (TranscriptSet.objects.filter(study_id=study_id).select_related("created_by")
            .annotate(visible_count=Count("members", filter=Q(members__transcript_id__in=visible)))
            .order_by("name", "id"))


def set_get(*, user: Any, study_id: int, set_id: Any, perm: Perm = Perm.TRANSCRIPT_VIEW) -> TranscriptSet:
    found = sets_list(user=user, study_id=study_id, perm=perm).filter(pk=_pk(set_id)).first()
    if found is None:
        raise Http404("No such transcript set.")
    return found


def set_transcripts(*, user: Any, study_id: int, transcript_set: TranscriptSet,
                    perm: Perm = Perm.TRANSCRIPT_VIEW) -> QuerySet[Transcript]:
    """The set's transcripts this member may see, as the transcript list orders them."""
    members = TranscriptSetMember.objects.filter(transcript_set=transcript_set).values("transcript_id")
    return (transcripts_visible(user=user, study_id=study_id, perm=perm).filter(pk__in=members)
            .select_related("participant", "participant__group", "participant__site").defer("text")
            .order_by("participant__pseudonym", "id"))


def set_transcript_ids(*, user: Any, study_id: int, set_id: Any, perm: Perm = Perm.TRANSCRIPT_VIEW) -> list[int]:
    """The ids of the set's transcripts this member may see, sorted (what a matrix "by this set" counts)."""
    transcript_set = set_get(user=user, study_id=study_id, set_id=set_id, perm=perm)
    return sorted(set_transcripts(user=user, study_id=study_id, transcript_set=transcript_set, perm=perm)
                  .values_list("pk", flat=True))


def sets_changeable(*, user: Any, study_id: int) -> list[TranscriptSet]:
    """The sets this member may add transcripts to (the transcript list's "Add to set…" chooser)."""
    membership = policy.membership_get(user=user, study_id=study_id)
    if membership is None or not policy.has_perm(user=user, study=study_id, perm=Perm.TRANSCRIPT_SET_EDIT):
        return []
    return [s for s in TranscriptSet.objects.filter(study_id=study_id).order_by("name", "id")
            if policy.may_change_transcript_set(membership=membership, author_id=s.created_by_id)]


def may_change(*, user: Any, study_id: int, transcript_set: TranscriptSet) -> bool:
    """May this member rename the set, change its transcripts or delete it (for the page's buttons)?"""
    membership = policy.membership_get(user=user, study_id=study_id)
    return membership is not None and policy.may_change_transcript_set(
        membership=membership, author_id=transcript_set.created_by_id)


def set_names(*, study_id: int, set_ids: list[int]) -> dict[int, str]:
    """Names of sets by id, for describing matrices already asked for (a deleted set is missing)."""
    return dict(TranscriptSet.objects.filter(study_id=study_id, pk__in=set_ids).values_list("pk", "name"))
