"""The one consent check other code asks, for every state and item; and its SQL form agreeing."""

from __future__ import annotations

import datetime as dt

import pytest
from django.core.exceptions import ValidationError

from participants import services
from participants.consent_rules import DataUse, data_use_allowed, data_uses_allowed, participants_usable_q
from participants.models import ConsentState, Participant
from tests.factories import ALL_YES, consent, make_form, make_participant, refreshed

pytestmark = pytest.mark.django_db

U = DataUse


def uses(p: Participant) -> set[DataUse]:
    return {u for u, ok in data_uses_allowed(participant=refreshed(p)).items() if ok}


def test_no_consent_allows_nothing(cast):
    p = make_participant(cast)
    assert p.consent_state == ConsentState.NONE
    assert uses(p) == set()


def test_full_consent_allows_everything(cast):
    form = make_form(cast)
    p = make_participant(cast)
    consent(cast, p, form)
    assert refreshed(p).consent_state == ConsentState.CONSENTED
    assert uses(p) == set(DataUse)


def test_partial_consent_no_quotes(cast):
    form = make_form(cast)
    p = make_participant(cast)
    consent(cast, p, form, {**ALL_YES, "anonymised_quotes": "no"})
    assert refreshed(p).consent_state == ConsentState.PARTIAL
    assert uses(p) == {U.ANALYSIS, U.TRANSCRIPT_ADD, U.CODING, U.ARCHIVING, U.FUTURE_CONTACT}


def test_partial_consent_no_archiving_and_unanswered_ppi(cast):
    form = make_form(cast)
    p = make_participant(cast)
    answers = {**ALL_YES, "data_archiving": "no"}
    answers.pop("share_team_ppi")  # not answered
    consent(cast, p, form, answers)
    p = refreshed(p)
    assert p.consent_state == ConsentState.PARTIAL
    assert p.consent_answers["share_team_ppi"] is None
    assert uses(p) == {U.ANALYSIS, U.TRANSCRIPT_ADD, U.CODING, U.QUOTING, U.FUTURE_CONTACT}


def test_items_not_on_the_form(cast):
    """A form that does not ask transcription separately covers it by taking part; a form that does
    not ask about quotes allows no quoting."""
    form = make_form(cast, items=[{"key": "take_part", "label": "Take part", "mandatory": True},
                                  {"key": "audio_recording", "label": "Audio"}])
    p = make_participant(cast)
    consent(cast, p, form, {"audio_recording": "yes"})
    assert refreshed(p).consent_state == ConsentState.CONSENTED
    assert uses(p) == {U.ANALYSIS, U.TRANSCRIPT_ADD, U.CODING}


def test_withdrawn_retain_freezes(cast):
    form = make_form(cast)
    p = make_participant(cast)
    consent(cast, p, form)
    _event, job = services.participant_withdraw(
        actor=cast.users["admin"], study_id=cast.study.pk, participant_id=p.pk, scope="retain_data",
        date=dt.date(2020, 7, 1),
    )
    assert job is None
    assert refreshed(p).consent_state == ConsentState.WITHDRAWN_RETAIN
    assert uses(p) == {U.ANALYSIS}  # counts stay; no new coding, quotes, archive, contact


def test_withdrawn_delete_allows_nothing(cast, django_capture_on_commit_callbacks):
    form = make_form(cast)
    p = make_participant(cast)
    consent(cast, p, form)
    with django_capture_on_commit_callbacks(execute=False):
        _, job = services.participant_withdraw(
            actor=cast.users["admin"], study_id=cast.study.pk, participant_id=p.pk, scope="delete_data",
            date=dt.date(2020, 7, 1),
        )
    assert job is not None
    assert refreshed(p).consent_state == ConsentState.WITHDRAWN_DELETE
    assert uses(p) == set()


def test_reconsent_after_retain_restores(cast):
    form = make_form(cast)
    p = make_participant(cast)
    consent(cast, p, form)
    services.participant_withdraw(actor=cast.users["admin"], study_id=cast.study.pk, participant_id=p.pk,
                                  scope="retain_data", date=dt.date(2020, 7, 1))
    consent(cast, p, form, kind="reconsent", date=dt.date(2020, 8, 1))
    assert refreshed(p).consent_state == ConsentState.CONSENTED
    assert U.CODING in uses(p)


def test_delete_is_final(cast, django_capture_on_commit_callbacks):
    form = make_form(cast)
    p = make_participant(cast)
    consent(cast, p, form)
    with django_capture_on_commit_callbacks(execute=False):
        services.participant_withdraw(actor=cast.users["admin"], study_id=cast.study.pk, participant_id=p.pk,
                                      scope="delete_data", date=dt.date(2020, 7, 1))
    with pytest.raises(ValidationError, match="final"):
        consent(cast, p, form, kind="reconsent", date=dt.date(2020, 8, 1))
    first = p.consent_events.first()
    with pytest.raises(ValidationError, match="final"):
        services.consent_event_correct(actor=cast.users["admin"], study_id=cast.study.pk, participant_id=p.pk,
                                       event_id=first.pk, note="oops", voids=True)


def test_correction_changes_derived_state_and_keeps_original(cast):
    form = make_form(cast)
    p = make_participant(cast)
    original = consent(cast, p, form)
    assert U.QUOTING in uses(p)
    services.consent_event_correct(
        actor=cast.users["admin"], study_id=cast.study.pk, participant_id=p.pk, event_id=original.pk,
        note="Quotes box was unticked on the paper form", answers={**ALL_YES, "anonymised_quotes": "no"},
    )
    assert U.QUOTING not in uses(p)
    assert refreshed(p).consent_state == ConsentState.PARTIAL
    assert p.consent_events.count() == 2
    # voiding the (corrected) consent: back to no consent
    services.consent_event_correct(actor=cast.users["admin"], study_id=cast.study.pk, participant_id=p.pk,
                                   event_id=original.pk, note="Recorded against the wrong participant", voids=True)
    assert refreshed(p).consent_state == ConsentState.NONE
    assert uses(p) == set()


def test_bad_sequences_refused_and_nothing_written(cast):
    form = make_form(cast)
    p = make_participant(cast)
    with pytest.raises(ValidationError, match="no consent to withdraw"):
        services.participant_withdraw(actor=cast.users["admin"], study_id=cast.study.pk, participant_id=p.pk,
                                      scope="retain_data", date=dt.date(2020, 7, 1))
    assert p.consent_events.count() == 0
    with pytest.raises(ValidationError, match="no earlier consent"):
        consent(cast, p, form, kind="reconsent")
    consent(cast, p, form)
    with pytest.raises(ValidationError, match="re-consent"):
        consent(cast, p, form, date=dt.date(2020, 6, 5))
    with pytest.raises(ValidationError, match="condition of taking part"):
        consent(cast, make_participant(cast, "SU02"), form, {**ALL_YES, "transcription": "no"})
    with pytest.raises(ValidationError, match="no item"):
        consent(cast, make_participant(cast, "SU03"), form, {**ALL_YES, "made_up": "yes"})
    with pytest.raises(ValidationError, match="came into use"):
        consent(cast, make_participant(cast, "SU04"), form, date=dt.date(2019, 1, 1))
    with pytest.raises(ValidationError, match="future"):
        consent(cast, make_participant(cast, "SU05"), form, date=dt.date.today() + dt.timedelta(days=2))
    assert p.consent_events.count() == 1


def test_sql_filter_agrees_with_function_for_every_state(cast, django_capture_on_commit_callbacks):
    form = make_form(cast)
    make_participant(cast, "NONE1")
    full = make_participant(cast, "FULL1")
    consent(cast, full, form)
    part = make_participant(cast, "PART1")
    consent(cast, part, form, {**ALL_YES, "anonymised_quotes": "no", "data_archiving": "no"})
    unans = make_participant(cast, "UNANS1")
    consent(cast, unans, form, {"audio_recording": "yes"})
    ret = make_participant(cast, "RET1")
    consent(cast, ret, form)
    services.participant_withdraw(actor=cast.users["admin"], study_id=cast.study.pk, participant_id=ret.pk,
                                  scope="retain_data", date=dt.date(2020, 7, 1))
    gone = make_participant(cast, "DEL1")
    consent(cast, gone, form)
    with django_capture_on_commit_callbacks(execute=False):
        services.participant_withdraw(actor=cast.users["admin"], study_id=cast.study.pk, participant_id=gone.pk,
                                      scope="delete_data", date=dt.date(2020, 7, 1))
    everyone = list(Participant.objects.filter(study=cast.study))
    assert len(everyone) == 6
    for use in DataUse:
        by_sql = set(Participant.objects.filter(study=cast.study).filter(participants_usable_q(use))
                     .values_list("pseudonym", flat=True))
        by_fn = {p.pseudonym for p in everyone if data_use_allowed(participant=p, use=use)}
        assert by_sql == by_fn, use
    coding = set(Participant.objects.filter(participants_usable_q(U.CODING)).values_list("pseudonym", flat=True))
    assert coding == {"FULL1", "PART1", "UNANS1"}
    quoting = set(Participant.objects.filter(participants_usable_q(U.QUOTING)).values_list("pseudonym", flat=True))
    assert quoting == {"FULL1"}


def test_prefix_form_through_a_foreign_key(cast):
    from participants.models import ConsentEvent

    form = make_form(cast)
    p = make_participant(cast)
    consent(cast, p, form)
    assert ConsentEvent.objects.filter(participants_usable_q(U.CODING, prefix="participant__")).count() == 1
    assert ConsentEvent.objects.filter(participants_usable_q(U.QUOTING, prefix="participant__")).count() == 1
