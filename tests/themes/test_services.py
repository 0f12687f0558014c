"""Themes, quotes and comments through their services: rules, conflicts, consent, anchoring, purge."""

from __future__ import annotations

import datetime as dt

import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import Http404

from accounts.models import AuditEvent
from analysis.themes.models import Comment, CommentRevision, Decision, Quote, Theme
from analysis.themes.selectors import board as board_selectors
from analysis.themes.selectors import quotes as quote_selectors
from analysis.themes.selectors import themes as theme_selectors
from analysis.themes.services import comments as comment_services
from analysis.themes.services import quotes as quote_services
from analysis.themes.services import themes as theme_services
from analysis.transcripts.services.redaction import transcript_replace
from participants.models import ConsentState

from .conftest import SU01_WORDS


def test_coder_proposes_a_candidate_off_the_board(cast, world):
    t = theme_services.theme_create(actor=cast.users["coder"], study_id=cast.study.pk, name="Proposed",
                              status="final", on_board=True)
    assert (t.status, t.on_board) == ("candidate", False)
    with pytest.raises(PermissionDenied):
        theme_services.theme_update(actor=cast.users["coder"], study_id=cast.study.pk, theme_id=t.pk, version=1,
                              changes={"name": "x"})
    with pytest.raises(PermissionDenied):
        theme_services.theme_create(actor=cast.users["ppi"], study_id=cast.study.pk, name="PPI theme")
    with pytest.raises(Http404):
        theme_services.theme_create(actor=cast.users["outsider"], study_id=cast.study.pk, name="Nope")


def test_update_conflict_carries_the_other_version_and_history_records_changes(cast, world):
    lead, sid, t = cast.users["lead"], cast.study.pk, world.theme
    theme_services.theme_update(actor=lead, study_id=sid, theme_id=t.pk, version=1,
                          changes={"name": "Seeing faces", "status": "final", "codes": [world.cues.pk]})
    with pytest.raises(theme_services.ConflictError) as info:
        theme_services.theme_update(actor=cast.users["lead"], study_id=sid, theme_id=t.pk, version=1,
                              changes={"name": "Stale"})
    assert info.value.current.version == 2
    assert info.value.current.name == "Seeing faces"
    edit = t.edits.order_by("-version").first()
    assert edit.changes["name"] == ["Seeing each other", "Seeing faces"]
    assert edit.changes["codes"] == [["Loss of non-verbal cues", "Training"], ["Loss of non-verbal cues"]]
    assert AuditEvent.objects.filter(action="theme.status", details__to="final").exists()


@pytest.mark.parametrize("changes", [
    {"name": ""}, {"name": "x" * 201}, {"name": "nul\x00"}, {"status": "done"}, {"position": 2**40},
    {"codes": [2**70]}, {"codes": "1"}, {"description": "d" * 20_001}, {"on_board": "yes"}, {"colour": "red"},
])
def test_bad_theme_changes_are_refused_and_nothing_changes(cast, world, changes):
    with pytest.raises(ValidationError):
        theme_services.theme_update(actor=cast.users["lead"], study_id=cast.study.pk, theme_id=world.theme.pk,
                              version=1, changes=changes)
    world.theme.refresh_from_db()
    assert world.theme.version == 1
    assert world.theme.name == "Seeing each other"


def test_a_theme_cannot_sit_inside_its_own_sub_theme(cast, world):
    lead, sid = cast.users["lead"], cast.study.pk
    child = theme_services.theme_create(actor=lead, study_id=sid, name="Child", parent_id=world.theme.pk)
    with pytest.raises(ValidationError):
        theme_services.theme_update(actor=lead, study_id=sid, theme_id=world.theme.pk, version=1,
                              changes={"parent": child.pk})


def test_counts_follow_the_readers_scope(cast, world):
    lead_counts = theme_selectors.theme_group_counts(user=cast.users["lead"], study_id=cast.study.pk, theme=world.theme)
    assert [(g.label, g.participants, g.segments) for g in lead_counts] == [("Service user", 1, 1), ("Staff", 1, 1)]
    south = theme_selectors.theme_group_counts(user=cast.users["coder_other_site"], study_id=cast.study.pk,
                                         theme=world.theme)
    assert [(g.label, g.participants) for g in south] == [("Staff", 1)]
    with pytest.raises(PermissionDenied):
        theme_selectors.theme_group_counts(user=cast.users["ppi"], study_id=cast.study.pk, theme=world.theme)


def test_quote_trimmed_within_its_segment(cast, world):
    q = quote_services.quote_create(actor=cast.users["lead"], study_id=cast.study.pk, theme_id=world.theme.pk,
                              coding_id=world.c_north.pk, text="you cannot see if someone is tearful")
    assert world.t_north.text[q.start:q.end] == "you cannot see if someone is tearful"
    for bad in ({"text": "you see tearful"}, {"start": 0, "end": 5}, {"start": q.end, "end": q.start}):
        with pytest.raises(ValidationError):
            quote_services.quote_create(actor=cast.users["lead"], study_id=cast.study.pk, theme_id=world.theme.pk,
                                  coding_id=world.c_north.pk, **bad)
    with pytest.raises(PermissionDenied):
        quote_services.quote_create(actor=cast.users["coder"], study_id=cast.study.pk, theme_id=world.theme.pk,
                              coding_id=world.c_north.pk)


def test_quote_needs_consent_to_quotation(cast, world):
    world.su01.consent_answers = {"take_part": True, "transcription": True, "anonymised_quotes": False}
    world.su01.save()
    with pytest.raises(ValidationError, match="not agreed to anonymised quotes"):
        quote_services.quote_create(actor=cast.users["lead"], study_id=cast.study.pk, theme_id=world.theme.pk,
                              coding_id=world.c_north.pk)
    assert not Quote.objects.exists()


def test_consent_change_hides_the_quote_everywhere_and_the_lead_sees_why(cast, world, quote):
    sid = cast.study.pk
    board = quote_selectors.board_quotes(user=cast.users["ppi"], study_id=sid, theme_ids=[world.theme.pk])
    assert [q.text for q in board[world.theme.pk]] == [SU01_WORDS]
    assert [q.group for q in board[world.theme.pk]] == ["Service user"]
    world.su01.consent_state = ConsentState.WITHDRAWN_RETAIN
    world.su01.withdrawn_on = dt.date(2021, 1, 1)
    world.su01.save()
    assert quote_selectors.board_quotes(user=cast.users["ppi"], study_id=sid, theme_ids=[world.theme.pk]) == {}
    assert not quote_selectors.quotes_shown(user=cast.users["lead"], study_id=sid, theme=world.theme).exists()
    [view] = quote_selectors.theme_quotes_for_team(user=cast.users["lead"], study_id=sid, theme=world.theme)
    assert not view.shown_to_team
    assert "withdrew" in view.hidden_reason


def test_no_sharing_with_ppi_hides_from_the_board_only(cast, world, quote):
    world.su01.consent_answers = {**world.su01.consent_answers, "share_team_ppi": False}
    world.su01.save()
    sid = cast.study.pk
    assert quote_selectors.board_quotes(user=cast.users["ppi"], study_id=sid, theme_ids=[world.theme.pk]) == {}
    assert quote_selectors.quotes_shown(user=cast.users["lead"], study_id=sid, theme=world.theme).count() == 1
    [view] = quote_selectors.theme_quotes_for_team(user=cast.users["lead"], study_id=sid, theme=world.theme)
    assert view.shown_to_team
    assert not view.on_board
    assert "PPI" in view.board_reason


def test_redaction_moves_the_quote(cast, world, quote):
    t = world.t_north
    s = t.text.index("John Smith")
    transcript_replace(actor=cast.users["lead"], study_id=cast.study.pk, transcript_id=t.pk, start=s,
                       end=s + len("John Smith"), expected="John Smith", replacement="[name]", base_version=t.version)
    quote.refresh_from_db()
    t.refresh_from_db()
    assert t.text[quote.start:quote.end] == SU01_WORDS


def test_purge_removes_quotes_and_comments_quoting_the_participant(cast, world, quote):
    sid, ppi = cast.study.pk, cast.users["ppi"]
    on_quote = comment_services.comment_create(actor=ppi, study_id=sid, theme_id=world.theme.pk, body="Strong", quote_id=quote.pk)
    quoting = comment_services.comment_create(actor=ppi, study_id=sid, theme_id=world.theme.pk,
                                      body=f"I liked “{SU01_WORDS}” a lot")
    other = comment_services.comment_create(actor=ppi, study_id=sid, theme_id=world.theme.pk, body="Good theme")
    removed = quote_services.quotes_purge(participant=world.su01)
    assert removed == {"quote_comments": 1, "comments_quoting": 1, "quotes": 1}
    assert not Comment.objects.filter(pk=on_quote.pk).exists()
    quoting.refresh_from_db()
    assert quoting.body == ""
    assert quoting.deleted_at is not None
    assert Comment.objects.get(pk=other.pk).body == "Good theme"
    assert not Quote.objects.exists()


def test_comments_edit_history_delete_and_reply_rules(cast, world):
    sid, ppi, t = cast.study.pk, cast.users["ppi"], world.theme
    c = comment_services.comment_create(actor=ppi, study_id=sid, theme_id=t.pk, body="First thoughts")
    comment_services.comment_update(actor=ppi, study_id=sid, comment_id=c.pk, body="Second thoughts")
    assert list(CommentRevision.objects.filter(comment=c).values_list("body", flat=True)) == ["First thoughts"]
    with pytest.raises(PermissionDenied):
        comment_services.comment_update(actor=cast.users["lead"], study_id=sid, comment_id=c.pk, body="Rewritten")
    with pytest.raises(ValidationError):
        comment_services.comment_create(actor=ppi, study_id=sid, theme_id=t.pk, body="x" * 100_000)
    with pytest.raises(ValidationError):
        comment_services.comment_create(actor=ppi, study_id=sid, theme_id=t.pk, body="nul \x00")
    comment_services.comment_delete(actor=ppi, study_id=sid, comment_id=c.pk)
    with pytest.raises(ValidationError, match="deleted"):
        comment_services.comment_create(actor=cast.users["lead"], study_id=sid, theme_id=t.pk, body="Reply", parent_id=c.pk)
    with pytest.raises(PermissionDenied):
        comment_services.comment_resolve(actor=ppi, study_id=sid, comment_id=c.pk, resolved=True)


def test_ppi_cannot_comment_on_a_theme_off_the_board_or_in_another_study(cast, world):
    sid = cast.study.pk
    hidden = theme_services.theme_create(actor=cast.users["lead"], study_id=sid, name="Not yet shared")
    with pytest.raises(Http404):
        comment_services.comment_create(actor=cast.users["ppi"], study_id=sid, theme_id=hidden.pk, body="hi")
    other = Theme.objects.create(study=cast.other_study, name="Elsewhere", created_by=cast.users["outsider"],
                                 updated_by=cast.users["outsider"])
    with pytest.raises(Http404):
        comment_services.comment_create(actor=cast.users["lead"], study_id=sid, theme_id=other.pk, body="hi")


def test_accepting_a_rename_renames_and_tells_the_board(cast, world):
    sid, ppi, lead, t = cast.study.pk, cast.users["ppi"], cast.users["lead"], world.theme
    s = comment_services.comment_create(actor=ppi, study_id=sid, theme_id=t.pk, body="Say it plainly", kind="rename",
                                suggested_name="Missing the face-to-face")
    with pytest.raises(ValidationError):
        comment_services.suggestion_decide(actor=lead, study_id=sid, comment_id=s.pk, accept=False, reason="")
    comment_services.suggestion_decide(actor=lead, study_id=sid, comment_id=s.pk, accept=True, reason="Clearer")
    t.refresh_from_db()
    s.refresh_from_db()
    assert t.name == "Missing the face-to-face"
    assert t.version == 2
    assert s.decision == Decision.ACCEPTED
    assert "renamed this theme" in s.outcome
    assert s.resolved_at
    assert AuditEvent.objects.filter(action="suggestion.decide", details__decision="accepted").exists()
    with pytest.raises(ValidationError, match="already"):
        comment_services.suggestion_decide(actor=lead, study_id=sid, comment_id=s.pk, accept=False, reason="No")


def test_declined_new_theme_keeps_the_reason(cast, world):
    sid, ppi, lead = cast.study.pk, cast.users["ppi"], cast.users["lead"]
    s = comment_services.comment_create(actor=ppi, study_id=sid, theme_id=world.theme.pk, body="Cost of calls",
                                kind="new_theme", suggested_name="Money worries")
    comment_services.suggestion_decide(actor=lead, study_id=sid, comment_id=s.pk, accept=False, reason="Too few mentions")
    s.refresh_from_db()
    assert (s.decision, s.decision_reason) == ("declined", "Too few mentions")
    assert not Theme.objects.filter(name="Money worries").exists()


def test_reactions_one_per_person(cast, world):
    sid, ppi, t = cast.study.pk, cast.users["ppi"], world.theme
    comment_services.reaction_set(actor=ppi, study_id=sid, theme_id=t.pk, value="rings_true")
    comment_services.reaction_set(actor=ppi, study_id=sid, theme_id=t.pk, value="not_sure")
    assert board_selectors.reaction_counts(theme_ids=[t.pk])[t.pk] == {"rings_true": 0, "not_sure": 1, "not_true": 0}
    with pytest.raises(ValidationError):
        comment_services.reaction_set(actor=ppi, study_id=sid, theme_id=t.pk, value="love")
