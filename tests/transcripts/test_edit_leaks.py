"""Removed words never reach a role that may not see them: the edit history (page and API) shows a
coder counts and positions only, for a replaced selection, a find-and-replace and a chain where a
later edit removes what an earlier one wrote. Leads and admins see the words."""

from __future__ import annotations

from typing import Any

import pytest

from accounts.models import AuditEvent
from analysis.transcripts.models import Transcript
from analysis.transcripts.services import redaction

# Words of ST01's transcript (South site, so the South-scoped coder reads it too).
REMOVED_BY_REPLACE = "training"
REMOVED_BY_REPLACE_ALL = "dropping"
WRITTEN_THEN_REMOVED = "Zanzibar"
SECRETS = (REMOVED_BY_REPLACE, REMOVED_BY_REPLACE_ALL, WRITTEN_THEN_REMOVED)
SEES_WORDS = {"admin", "lead"}
READS_HISTORY = {"admin", "lead", "coder", "coder_other_site"}


def _edit(cast: Any, t: Transcript, kind: str) -> None:
    lead = cast.users["lead"]
    t.refresh_from_db()
    if kind == "replace":
        start = t.text.index(REMOVED_BY_REPLACE)
        redaction.transcript_replace(actor=lead, study_id=cast.study.pk, transcript_id=t.pk, start=start,
                                     end=start + len(REMOVED_BY_REPLACE), expected=REMOVED_BY_REPLACE,
                                     replacement="[NAME]", base_version=t.version)
    elif kind == "replace_all":
        redaction.transcript_replace_all(actor=lead, study_id=cast.study.pk, transcript_id=t.pk,
                                         find=REMOVED_BY_REPLACE_ALL, replacement="[REDACTED]", base_version=t.version)
    else:  # a correction writes a word, then a redaction removes it
        redaction.transcript_replace_all(actor=lead, study_id=cast.study.pk, transcript_id=t.pk, find="video",
                                         replacement=WRITTEN_THEN_REMOVED, base_version=t.version)
        t.refresh_from_db()
        redaction.transcript_replace_all(actor=lead, study_id=cast.study.pk, transcript_id=t.pk,
                                         find=WRITTEN_THEN_REMOVED, replacement="[PLACE]", base_version=t.version)


@pytest.mark.django_db
@pytest.mark.parametrize("kind", ["replace", "replace_all", "chain"])
@pytest.mark.parametrize("role", ["admin", "lead", "coder", "coder_other_site", "ppi", "outsider"])
def test_history_hides_removed_words(role: str, kind: str, cast: Any, clients: Any, api: Any,
                                     t_south: Transcript) -> None:
    _edit(cast, t_south, kind)
    secret = {"replace": REMOVED_BY_REPLACE, "replace_all": REMOVED_BY_REPLACE_ALL, "chain": WRITTEN_THEN_REMOVED}[kind]
    page = clients[role].get(f"/studies/{cast.study.pk}/transcripts/{t_south.pk}/history/")
    listing = api[role].get(f"/api/v1/studies/{cast.study.pk}/transcripts/{t_south.pk}/edits/")
    if role not in READS_HISTORY:
        # PPI may not read transcripts at all, so a transcript is not confirmed to them (policy.denial_hides_object).
        assert (page.status_code, listing.status_code) == (404, 404)
        return
    assert page.status_code == listing.status_code == 200
    html, body = page.content.decode(), listing.content.decode()
    if role in SEES_WORDS:
        assert secret in html
        assert secret in body
        return
    for secret_word in SECRETS:
        assert secret_word not in html, f"{role} sees {secret_word!r} on the history page"
        assert secret_word not in body, f"{role} gets {secret_word!r} from the edits API"
    edits = listing.json()
    assert edits
    assert all("old" not in op and "new" not in op for e in edits for op in e["ops"])
    assert "Replaced" in edits[0]["summary"]
    assert "Replaced" in html


@pytest.mark.django_db
def test_audit_of_an_edit_keeps_counts_not_words(cast: Any, t_south: Transcript) -> None:
    _edit(cast, t_south, "replace")
    event = AuditEvent.objects.get(action="transcript.replace")
    assert REMOVED_BY_REPLACE not in str(event.details)
    assert event.details["changes"] == 1


@pytest.mark.django_db
def test_a_frozen_transcript_refuses_corrections(cast: Any, api: Any, clients: Any, t_south: Transcript) -> None:
    """Withdrawn with data retained: read-only like its coding, 409 in the API, a message on the page."""
    from participants.models import Participant

    Participant.objects.filter(pk=t_south.participant_id).update(consent_state="withdrawn_retain")
    url = f"/api/v1/studies/{cast.study.pk}/transcripts/{t_south.pk}/edits/"
    r = api["lead"].post(url, {"kind": "replace_all", "find": "training", "replacement": "[X]", "base_version": 1},
                         format="json")
    assert r.status_code == 409, r.content
    assert "read-only" in r.json()["detail"]
    start = t_south.text.index("training")
    page = clients["lead"].post(f"/studies/{cast.study.pk}/transcripts/{t_south.pk}/replace/", {
        "start": start, "end": start + 8, "expected": "training", "replacement": "[X]", "version": 1}, follow=True)
    assert "read-only" in page.content.decode()
    detail = clients["lead"].get(f"/studies/{cast.study.pk}/transcripts/{t_south.pk}/").content.decode()
    assert "/replace-all/" not in detail
    assert "This transcript is read-only" in detail
    t_south.refresh_from_db()
    assert t_south.version == 1
    assert "training" in t_south.text


@pytest.mark.django_db
@pytest.mark.parametrize("page", ["replace/", "replace-all/", "history/1/revert/"])
def test_a_non_member_posting_bad_input_to_a_page_gets_404(cast: Any, clients: Any, t_south: Transcript,
                                                          page: str) -> None:
    r = clients["outsider"].post(f"/studies/{cast.study.pk}/transcripts/{t_south.pk}/{page}", {"start": "x"})
    assert r.status_code == 404
    assert "Page not found" in r.content.decode()
