"""The plain-SQL lookups on the hot path of adding a coding give the same answers as the ORM rules
they stand in for: the membership loader (policy), the locked transcript lookup (the same rule as
``transcripts_visible``), the token check and the codebook / duplicate lookups.

They run on both backends (SQLite locally, PostgreSQL in CI), so the vendor-specific parts are
checked where they run."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from django.core.exceptions import PermissionDenied
from django.db import transaction
from django.http import Http404
from django.utils import timezone
from rest_framework.authtoken.models import Token

from accounts import policy
from accounts.models import Membership, Role
from accounts.policy import Perm
from analysis.transcripts.models import Transcript
from analysis.transcripts.selectors import transcript_lock_visible, transcripts_visible
from participants.models import ConsentState
from tests.factories import add_transcript, participant_row

from .conftest import CAST
from .factories import MembershipFactory, UserFactory

pytestmark = pytest.mark.django_db


def _fresh(user: Any) -> None:
    policy.membership_forget(user=user)


def test_membership_loader_matches_the_database(cast: Any) -> None:
    # A membership scoped both ways, beside the cast's unscoped and site-scoped ones.
    both = UserFactory(email="scoped.both@example.org")
    m = MembershipFactory(user=both, study=cast.study, role=Role.CODER)
    m.scope_sites.set([cast.north, cast.south])
    m.scope_groups.set([cast.group("staff")])
    users = {**cast.users, "scoped_both": both}
    for name, user in users.items():
        _fresh(user)
        loaded = policy.membership_get(user=user, study_id=cast.study.pk)
        stored = Membership.objects.filter(user=user, study=cast.study).first()
        if stored is None:
            assert loaded is None, name
            continue
        assert loaded is not None, name
        assert (loaded.pk, loaded.user_id, loaded.study_id, loaded.role) == (
            stored.pk, stored.user_id, stored.study_id, stored.role)
        assert loaded.created_at == stored.created_at
        assert timezone.is_aware(loaded.created_at)
        assert loaded.study.name == cast.study.name
        assert loaded.study.created_at == cast.study.created_at
        assert isinstance(loaded.study.created_at, dt.datetime)
        assert loaded.scope_site_ids == frozenset(stored.scope_sites.values_list("pk", flat=True)), name  # type: ignore[attr-defined]
        assert loaded.scope_group_ids == frozenset(stored.scope_groups.values_list("pk", flat=True)), name  # type: ignore[attr-defined]
    assert policy.membership_get(user=both, study_id=cast.study.pk).scope_site_ids == {cast.north.pk, cast.south.pk}  # type: ignore[union-attr]


def test_membership_loader_refuses_an_inactive_user(cast: Any) -> None:
    coder = cast.users["coder"]
    coder.is_active = False
    coder.save(update_fields=["is_active"])
    _fresh(coder)
    assert policy.membership_get(user=coder, study_id=cast.study.pk) is None


def _world(cast: Any) -> list[Transcript]:
    """Transcripts across both sites, two groups and every consent situation."""
    rows = [
        ("N1", "service_user", cast.north, ConsentState.CONSENTED, None, False),
        ("N2", "staff", cast.north, ConsentState.PARTIAL, {"take_part": True, "transcription": True}, False),
        ("S1", "staff", cast.south, ConsentState.CONSENTED, None, False),
        ("S2", "service_user", cast.south, ConsentState.WITHDRAWN_RETAIN, None, False),
        ("S3", "carer", cast.south, ConsentState.CONSENTED, {"take_part": True, "transcription": False}, False),
        ("S4", "service_user", cast.south, ConsentState.NONE, {}, False),
        ("S5", "staff", cast.south, ConsentState.CONSENTED, None, True),
        ("X1", "carer", None, ConsentState.CONSENTED, {"take_part": True}, False),
    ]
    out = []
    for pseudonym, group, site, state, answers, purged in rows:
        p = participant_row(cast, pseudonym, group, site)
        out.append(add_transcript(cast, p, f"Interviewer: hello {pseudonym} 👍\n{pseudonym}: hi.\n"))
        type(p).objects.filter(pk=p.pk).update(
            consent_state=state, consent_answers=answers if answers is not None else p.consent_answers,
            purged_at=timezone.now() if purged else None,
        )
    return out


@pytest.mark.parametrize("perm", [Perm.TRANSCRIPT_VIEW, Perm.CODING_WRITE])
def test_locked_lookup_agrees_with_transcripts_visible(cast: Any, perm: Perm) -> None:
    transcripts = _world(cast)
    checked = 0
    for name in CAST:
        user = cast.users[name]
        _fresh(user)
        try:
            visible = set(transcripts_visible(user=user, study_id=cast.study.pk, perm=perm).values_list("pk", flat=True))
        except (Http404, PermissionDenied) as exc:
            with pytest.raises(type(exc)), transaction.atomic():
                transcript_lock_visible(user=user, study_id=cast.study.pk, transcript_id=transcripts[0].pk, perm=perm)
            continue
        for t in transcripts:
            with transaction.atomic():
                found = transcript_lock_visible(user=user, study_id=cast.study.pk, transcript_id=t.pk, perm=perm)
            assert (found is not None) == (t.pk in visible), (name, t.participant.pseudonym)
            if found is not None:
                locked, length = found
                assert locked.pk == t.pk
                assert locked.version == t.version
                assert length == len(t.text)
                assert locked.participant.pseudonym == t.participant.pseudonym
            checked += 1
    assert checked > 0
    # This study's transcript asked for under another study the user belongs to is not found.
    outsider = cast.users["outsider"]
    with transaction.atomic():
        assert transcript_lock_visible(user=outsider, study_id=cast.other_study.pk, transcript_id=transcripts[0].pk,
                                       perm=Perm.TRANSCRIPT_VIEW) is None
    # The world is not trivial: each user sees some transcripts and not others.
    lead_visible = set(transcripts_visible(user=cast.users["lead"], study_id=cast.study.pk).values_list("pk", flat=True))
    assert 0 < len(lead_visible) < len(transcripts)


def test_token_check_answers_like_drf(cast: Any, api: dict[str, Any]) -> None:
    from rest_framework.test import APIClient

    url = f"/api/v1/studies/{cast.study.pk}/codes/"
    assert api["coder"].get(url).status_code == 200
    bad = APIClient()
    bad.credentials(HTTP_AUTHORIZATION="Token " + "0" * 40)
    r = bad.get(url)
    assert r.status_code == 401
    assert r.json()["detail"] == "Invalid token."
    coder = cast.users["coder"]
    coder.is_active = False
    coder.save(update_fields=["is_active"])
    r = api["coder"].get(url)
    assert r.status_code == 401
    assert r.json()["detail"] == "User inactive or deleted."
    assert Token.objects.filter(user=coder).exists()


def test_adding_a_coding_takes_few_statements(cast: Any, api: dict[str, Any], django_assert_max_num_queries: Any) -> None:
    from analysis.coding.services import codebook as code_services

    p = participant_row(cast, "Q1", "service_user", cast.north)
    t = add_transcript(cast, p, "Interviewer: hi 👍\nQ1: hello there.\n")
    code = code_services.code_create(actor=cast.users["lead"], study_id=cast.study.pk, name="Greeting")
    url = f"/api/v1/studies/{cast.study.pk}/transcripts/{t.pk}/codings/"
    api["coder"].get(url)
    # token, membership, locked transcript, code, duplicate check, insert, event (+ savepoint/transaction)
    with django_assert_max_num_queries(10):
        r = api["coder"].post(url, {"code": code.pk, "start": 0, "end": 5}, format="json")
    assert r.status_code == 201, r.content
    again = api["coder"].post(url, {"code": code.pk, "start": 0, "end": 5}, format="json")
    assert again.status_code == 201
    assert again.json()["id"] == r.json()["id"]


# The plain-SQL reads of opening a document (the transcript API and the codings API) ------------------


def _outcome(fn: Any) -> Any:
    """What a read answers, or the kind of refusal it raises."""
    try:
        return fn()
    except (Http404, PermissionDenied) as exc:
        return type(exc)


def test_transcript_read_agrees_with_transcript_get(cast: Any) -> None:
    from analysis.transcripts.selectors import transcript_get, transcript_read

    transcripts = _world(cast)
    Transcript.objects.filter(pk=transcripts[0].pk).update(edited_at=timezone.now(), title="Edited")

    def fields(t: Transcript) -> tuple[Any, ...]:
        p = t.participant
        return (t.pk, t.study.pk, t.participant_id, t.title, t.text, t.version, t.interview_date, t.interview_mode,
                t.interviewer, t.source_format, t.original_sha256, t.imported_at, t.edited_at, t.imported_by_id,
                p.pseudonym, p.consent_state, p.group.key, p.site.name if p.site else None)

    checked = 0
    for name in CAST:
        user = cast.users[name]
        for t in [*transcripts, Transcript(pk=10**9)]:
            _fresh(user)
            expected = _outcome(lambda t=t, user=user: fields(transcript_get(user=user, study_id=cast.study.pk, transcript_id=t.pk)))
            _fresh(user)
            got = _outcome(lambda t=t, user=user: fields(transcript_read(user=user, study_id=cast.study.pk, transcript_id=t.pk)))
            assert got == expected, (name, t.pk)
            checked += isinstance(got, tuple)
    assert checked > 0
    # Another study's transcript, asked for under a study the user belongs to, is not found.
    _fresh(cast.users["outsider"])
    assert _outcome(lambda: transcript_read(user=cast.users["outsider"], study_id=cast.other_study.pk,
                                            transcript_id=transcripts[0].pk)) is Http404


def test_codings_list_agrees_with_the_orm_path(cast: Any) -> None:
    from analysis.coding.selectors import codings as selectors
    from analysis.coding.services import assignments
    from analysis.coding.services import codebook as code_services
    from analysis.coding.services import codings as coding_services

    transcripts = _world(cast)
    sid = cast.study.pk
    code = code_services.code_create(actor=cast.users["lead"], study_id=sid, name="Greeting")
    by_name = {t.participant.pseudonym: t for t in transcripts}
    for pseudonym, coders in (("N1", ("lead", "coder")), ("S1", ("coder", "coder_other_site", "lead"))):
        for k, who in enumerate(coders):
            coding_services.coding_create(actor=cast.users[who], study_id=sid, transcript_id=by_name[pseudonym].pk,
                                          code_id=code.pk, start=k, end=k + 5, memo=f"by {who}")
    # S1 double coded by coder and coder_other_site, not complete: each is blind to the other.
    assignments.assignment_create(actor=cast.users["lead"], study_id=sid, transcript_id=by_name["S1"].pk,
                                  coder_a_id=cast.users["coder"].pk, coder_b_id=cast.users["coder_other_site"].pk)

    def orm(user: Any, tid: Any) -> Any:
        t = selectors.transcript_for_coding(user=user, study_id=sid, transcript_id=tid)
        return (t.version, selectors.feed_head(transcript_id=t.pk),
                selectors.transcript_coding_rows(user=user, study_id=sid, transcript=t))

    seen = 0
    for name in CAST:
        user = cast.users[name]
        for tid in [*(t.pk for t in transcripts), "x", 10**9]:
            _fresh(user)
            expected = _outcome(lambda tid=tid, user=user: orm(user, tid))
            _fresh(user)
            got = _outcome(lambda tid=tid, user=user: selectors.transcript_coding_list(user=user, study_id=sid, transcript_id=tid))
            assert got == expected, (name, tid)
            seen += len(got[2]) if isinstance(got, tuple) else 0
    assert seen > 0
    # The blinding is in force: coder sees two of S1's three codings, the lead all three.
    s1 = by_name["S1"].pk
    for name, n in (("coder", 2), ("coder_other_site", 2), ("lead", 3)):
        _fresh(cast.users[name])
        assert len(selectors.transcript_coding_list(user=cast.users[name], study_id=sid, transcript_id=s1)[2]) == n, name


def test_transcript_api_answers_as_its_serializer(cast: Any, settings: Any) -> None:
    from rest_framework.renderers import JSONRenderer

    from analysis.transcripts.api import TranscriptDetailSerializer, transcript_detail_data
    from analysis.transcripts.selectors import transcript_read

    transcripts = _world(cast)
    settings.CHORUS_MAX_TRANSCRIPT_CHARS, settings.CHORUS_MAX_TRANSCRIPT_TURNS = 20, 1  # parts, with a next
    Transcript.objects.filter(pk=transcripts[0].pk).update(edited_at=timezone.now(), interview_date=dt.date(2025, 3, 4))
    lead = cast.users["lead"]
    checked = 0
    for t in transcripts:
        try:
            read = transcript_read(user=lead, study_id=cast.study.pk, transcript_id=t.pk)
        except Http404:
            continue
        for text_offset, turns_offset, can_original in ((0, 0, True), (0, 0, False), (5, 1, True), (10**6, 10**6, False)):
            context = {"can_original": can_original, "text_offset": text_offset, "turns_offset": turns_offset,
                       "base_url": "http://testserver/api/v1/x/"}
            expected = TranscriptDetailSerializer(read, context=context).data
            got = transcript_detail_data(read, context)
            assert got == expected
            assert JSONRenderer().render(got) == JSONRenderer().render(expected)
            checked += 1
    assert checked > 4
