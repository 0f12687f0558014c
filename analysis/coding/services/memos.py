"""Writes to memos: on the study, a transcript, a code or a coding (at most one target)."""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.http import Http404
from django.utils import timezone

from accounts import policy
from accounts.models import User
from accounts.policy import Perm
from analysis.coding.models import Code, Memo
from analysis.coding.selectors.codings import codings_visible, memos_visible
from analysis.coding.services.codings import CodingFrozen
from analysis.transcripts.selectors import transcripts_visible
from participants.consent_rules import DataUse, data_use_allowed

TITLE_MAX = 200
BODY_MAX = 50_000
# A double click or a retried request sends the same memo twice within moments: the second answer is the
# first memo, not a copy. An identical memo written deliberately later is a new memo.
DUPLICATE_WINDOW = dt.timedelta(seconds=30)


def _id(value: Any, field: str) -> int | None:
    if value in (None, ""):
        return None
    try:
        out = int(value)
    except (TypeError, ValueError):
        raise ValidationError({field: "Not a valid id."}) from None
    if not policy.id_ok(out):
        raise ValidationError({field: "Not a valid id."})
    return out


def _text(title: Any, body: Any) -> tuple[str, str]:
    title = " ".join(str(title or "").split())
    body = str(body or "").strip()
    if not title:
        raise ValidationError({"title": "A memo needs a title."})
    if len(title) > TITLE_MAX:
        raise ValidationError({"title": f"At most {TITLE_MAX} characters."})
    if len(body) > BODY_MAX:
        raise ValidationError({"body": f"At most {BODY_MAX} characters."})
    return title, body


@transaction.atomic
def memo_create(
    *, actor: User, study_id: int, title: Any, body: Any = "", transcript_id: Any = None, code_id: Any = None,
    coding_id: Any = None,
) -> Memo:
    membership = policy.membership_require(user=actor, study_id=study_id, perm=Perm.MEMO_WRITE)
    title, body = _text(title, body)
    t_id, c_id, cg_id = _id(transcript_id, "transcript"), _id(code_id, "code"), _id(coding_id, "coding")
    if sum(x is not None for x in (t_id, c_id, cg_id)) > 1:
        raise ValidationError("A memo is about one thing: the study, a transcript, a code or a coding.")
    memo = Memo(study=membership.study, author=actor, title=title, body=body)
    if c_id is not None:
        memo.code = Code.objects.filter(study_id=study_id, pk=c_id).first()
        if memo.code is None:
            raise ValidationError({"code": "No such code in this study."})
    if cg_id is not None:
        coding = codings_visible(user=actor, study_id=study_id).select_related("transcript__participant").filter(pk=cg_id).first()
        if coding is None:
            raise Http404("No such coding.")
        memo.coding, memo.transcript = coding, coding.transcript
    if t_id is not None:
        t = transcripts_visible(user=actor, study_id=study_id).select_related("participant").filter(pk=t_id).first()
        if t is None:
            raise Http404("No such transcript.")
        memo.transcript = t
    if memo.transcript is not None and not data_use_allowed(participant=memo.transcript.participant, use=DataUse.CODING):
        raise CodingFrozen("This participant's consent does not allow new memos on their transcript (it is read-only).")
    # One author's memo writes wait for each other (PostgreSQL row lock), so two identical requests arriving
    # together cannot both miss the other's memo.
    User.objects.select_for_update().filter(pk=actor.pk).values_list("pk", flat=True).first()
    same = Memo.objects.filter(
        study_id=study_id, author=actor, title=title, body=body, transcript=memo.transcript, code=memo.code,
        coding=memo.coding, created_at__gte=timezone.now() - DUPLICATE_WINDOW,
    ).order_by("-pk").first()
    if same is not None:
        return same
    memo.save()
    return memo


def _memo_for_write(*, actor: User, study_id: int, memo_id: Any) -> Memo:
    membership = policy.membership_require(user=actor, study_id=study_id, perm=Perm.MEMO_WRITE)
    mid = _id(memo_id, "memo") or 0
    memo = memos_visible(user=actor, study_id=study_id).select_for_update().filter(pk=mid).first()
    if memo is None:
        raise Http404("No such memo.")
    if not policy.may_change_authored(membership=membership, author_id=memo.author_id):
        raise PermissionDenied("Only the memo's author (or a lead) can change it.")
    return memo


@transaction.atomic
def memo_update(*, actor: User, study_id: int, memo_id: Any, title: Any, body: Any) -> Memo:
    memo = _memo_for_write(actor=actor, study_id=study_id, memo_id=memo_id)
    memo.title, memo.body = _text(title, body)
    memo.updated_at = timezone.now()
    memo.save(update_fields=["title", "body", "updated_at"])
    return memo


@transaction.atomic
def memo_delete(*, actor: User, study_id: int, memo_id: Any) -> None:
    _memo_for_write(actor=actor, study_id=study_id, memo_id=memo_id).delete()
