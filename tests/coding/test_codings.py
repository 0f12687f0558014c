"""Codings: the services, the API (role x scope, bad input), the change feed, and the registries
(codebook merge/delete, redaction re-anchoring, purge)."""

from __future__ import annotations

import pytest
from django.test import override_settings

from analysis.coding.models import Coding, CodingEvent
from analysis.coding.selectors.codings import events_after
from analysis.coding.services import codebook as services
from analysis.coding.services import codings as coding_services
from analysis.transcripts.services.redaction import transcript_replace
from participants.models import ConsentState

from .conftest import span_of

pytestmark = pytest.mark.django_db


def url(cast, t, suffix=""):
    return f"/api/v1/studies/{cast.study.pk}/transcripts/{t.pk}/codings/{suffix}"


def nothing_written():
    return Coding.objects.count() == 0 and CodingEvent.objects.count() == 0


# Create -------------------------------------------------------------------------------------------


def test_coder_codes_after_an_emoji_with_code_point_offsets(cast, api, book, t_north):
    start, end = span_of(t_north, "phoning the café")
    assert "👍" in t_north.text[:start]  # an astral character comes before the span
    r = api["coder"].post(url(cast, t_north), {"code": book.cues.pk, "start": start, "end": end}, format="json")
    assert r.status_code == 201, r.content
    c = Coding.objects.get()
    assert (c.start, c.end, c.code_id, c.coder_id) == (start, end, book.cues.pk, cast.users["coder"].pk)
    assert t_north.text[c.start:c.end] == "phoning the café"
    assert r.json()["code_name"] == "Loss of non-verbal cues"
    e = CodingEvent.objects.get()
    assert (e.kind, e.coding_id, e.transcript_id) == ("created", c.pk, t_north.pk)


def test_bulk_create_all_or_nothing_and_duplicates_not_doubled(cast, api, book, t_north):
    a = span_of(t_north, "phoned me every week")
    b = span_of(t_north, "you cannot see if someone is tearful")
    items = [{"code": book.cues.pk, "start": b[0], "end": b[1]}, {"code": book.video.pk, "start": a[0], "end": a[1]}]
    r = api["coder"].post(url(cast, t_north), items, format="json")
    assert r.status_code == 201
    assert len(r.json()) == 2
    assert Coding.objects.count() == 2
    assert CodingEvent.objects.count() == 2
    again = api["coder"].post(url(cast, t_north), items[:1], format="json")
    assert again.status_code == 201
    assert again.json()[0]["id"] == r.json()[0]["id"]
    assert Coding.objects.count() == 2
    bad = api["coder"].post(url(cast, t_north), [items[0] | {"start": 0, "end": 3}, {"code": book.cues.pk, "start": 5, "end": 2}], format="json")
    assert bad.status_code == 400
    assert "codings[1]" in bad.json()
    assert Coding.objects.count() == 2


@pytest.mark.parametrize(
    ("payload", "field"),
    [
        ({"start": 10, "end": 10_000}, "end"),
        ({"start": 20, "end": 10}, "end"),
        ({"start": -1, "end": 5}, "start"),
        ({"start": "a", "end": 5}, "start"),
        ({"start": 1.5, "end": 5}, "start"),
        ({"start": None, "end": 5}, "start"),
        ({"start": 0, "end": 2**70}, "end"),
        ({"code": "x"}, "code"),
        ({"code": 2**70}, "code"),
        ({"code": 999999}, "code"),
    ],
)
def test_bad_offsets_and_codes_are_400_and_write_nothing(cast, api, book, t_north, payload, field):
    body = {"code": book.cues.pk, "start": 0, "end": 5} | payload
    r = api["coder"].post(url(cast, t_north), body, format="json")
    assert r.status_code == 400, r.content
    assert field in r.json()
    assert nothing_written()


def test_code_of_another_study_deleted_or_grouping_code_refused(cast, api, book, t_north):
    for code_id in (book.other_study_code.pk, book.remote.pk):
        r = api["coder"].post(url(cast, t_north), {"code": code_id, "start": 0, "end": 5}, format="json")
        assert r.status_code == 400
        assert "code" in r.json()
    deleted = book.video.pk
    services.code_delete(actor=cast.users["lead"], study_id=cast.study.pk, code_id=deleted, confirm=True)
    r = api["coder"].post(url(cast, t_north), {"code": deleted, "start": 0, "end": 5}, format="json")
    assert r.status_code == 400
    assert "deleted" in r.json()["code"][0]
    assert nothing_written()


def test_stale_transcript_version_is_409(cast, api, book, t_north):
    r = api["coder"].post(url(cast, t_north), {"code": book.cues.pk, "start": 0, "end": 5,
                                               "transcript_version": t_north.version + 1}, format="json")
    assert r.status_code == 409
    assert "version" in r.json()["detail"]
    assert nothing_written()


def test_frozen_transcript_is_read_only(cast, api, book, t_north, su01):
    su01.consent_state = ConsentState.WITHDRAWN_RETAIN
    su01.save()
    r = api["coder"].post(url(cast, t_north), {"code": book.cues.pk, "start": 0, "end": 5}, format="json")
    assert r.status_code == 409
    assert "read-only" in r.json()["detail"]
    assert nothing_written()
    assert api["coder"].get(url(cast, t_north)).status_code == 200  # still readable


def test_empty_and_malformed_bodies(cast, api, book, t_north):
    for body in ([], ["x"], "text", {"code": book.cues.pk}):
        r = api["coder"].post(url(cast, t_north), body, format="json")
        assert r.status_code == 400, (body, r.content)
    r = api["coder"].post(url(cast, t_north), [{"code": book.cues.pk, "start": 0, "end": 1}] * 501, format="json")
    assert r.status_code == 400
    assert nothing_written()


@override_settings(CHORUS_CODING_RATE="5/minute")
def test_a_flood_of_writes_is_429(cast, api, book, t_north):
    codes = []
    for i in range(8):
        r = api["coder"].post(url(cast, t_north), {"code": book.cues.pk, "start": i, "end": i + 1}, format="json")
        codes.append(r.status_code)
    assert codes[:5] == [201] * 5
    assert codes[5:] == [429] * 3
    assert Coding.objects.count() == 5
    assert api["coder"].get(url(cast, t_north)).status_code == 200  # reads are not limited by it
    assert api["lead"].post(url(cast, t_north), {"code": book.cues.pk, "start": 0, "end": 2}, format="json").status_code == 201


# Roles x scope ------------------------------------------------------------------------------------

# ppi reads the theme board only: a transcript named by id is not confirmed to exist (404, not 403).
READ = {"admin": 200, "lead": 200, "coder": 200, "coder_other_site": 404, "ppi": 404, "outsider": 404}
WRITE = {"admin": 403, "lead": 201, "coder": 201, "coder_other_site": 404, "ppi": 404, "outsider": 404}


@pytest.mark.parametrize("role", [*READ, "anonymous"])
def test_coding_list_and_create_by_role(cast, api, book, t_north, t_south, role):
    r = api[role].get(url(cast, t_north))
    assert r.status_code == READ.get(role, 401 if role == "anonymous" else 0) or (role == "anonymous" and r.status_code in (401, 403))
    r = api[role].post(url(cast, t_north), {"code": book.cues.pk, "start": 0, "end": 4}, format="json")
    expected = WRITE.get(role)
    if role == "anonymous":
        assert r.status_code in (401, 403)
    else:
        assert r.status_code == expected, (role, r.content)
    # the South transcript is in coder_other_site's scope
    r = api[role].post(url(cast, t_south), {"code": book.cues.pk, "start": 0, "end": 4}, format="json")
    if role == "coder_other_site":
        assert r.status_code == 201


@pytest.mark.parametrize("role", ["admin", "lead", "coder", "coder_other_site", "ppi", "outsider", "anonymous"])
def test_update_and_delete_by_role(cast, api, book, t_north, role):
    c = coding_services.coding_create(actor=cast.users["coder"], study_id=cast.study.pk, transcript_id=t_north.pk,
                                      code_id=book.cues.pk, start=0, end=5)
    expected = {"admin": 403, "lead": 200, "coder": 200, "coder_other_site": 404, "ppi": 404, "outsider": 404}
    r = api[role].patch(url(cast, t_north, f"{c.pk}/"), {"version": 1, "memo": "Hmm"}, format="json")
    if role == "anonymous":
        assert r.status_code in (401, 403)
    else:
        assert r.status_code == expected[role], (role, r.content)
    r = api[role].delete(url(cast, t_north, f"{c.pk}/"))
    if role == "anonymous":
        assert r.status_code in (401, 403)
    elif expected[role] == 200:
        assert r.status_code == 204
        assert not Coding.objects.exists()
    else:
        assert r.status_code == expected[role]
        assert Coding.objects.filter(pk=c.pk).exists()


def test_another_coders_coding_cannot_be_changed_by_a_coder(cast, api, book, t_south):
    c = coding_services.coding_create(actor=cast.users["coder"], study_id=cast.study.pk, transcript_id=t_south.pk,
                                      code_id=book.cues.pk, start=0, end=5)
    r = api["coder_other_site"].patch(url(cast, t_south, f"{c.pk}/"), {"version": 1, "start": 1}, format="json")
    assert r.status_code == 403
    assert api["coder_other_site"].delete(url(cast, t_south, f"{c.pk}/")).status_code == 403


# Update -------------------------------------------------------------------------------------------


def test_recode_adjust_and_stale_version(cast, api, book, t_north):
    c = coding_services.coding_create(actor=cast.users["coder"], study_id=cast.study.pk, transcript_id=t_north.pk,
                                      code_id=book.cues.pk, start=0, end=5)
    r = api["coder"].patch(url(cast, t_north, f"{c.pk}/"), {"version": 1, "code": book.video.pk, "start": 2, "end": 9}, format="json")
    assert r.status_code == 200
    assert r.json()["version"] == 2
    c.refresh_from_db()
    assert (c.code_id, c.start, c.end) == (book.video.pk, 2, 9)
    stale = api["lead"].patch(url(cast, t_north, f"{c.pk}/"), {"version": 1, "memo": "late"}, format="json")
    assert stale.status_code == 409
    assert stale.json()["current"]["version"] == 2
    for body in ({"memo": "no version"}, {"version": 2, "end": 1}, {"version": 2, "end": 10**6},
                 {"version": 2, "code": book.other_study_code.pk}, {"version": 2, "coder": 1}):
        r = api["coder"].patch(url(cast, t_north, f"{c.pk}/"), body, format="json")
        assert r.status_code == 400, (body, r.content)
    c.refresh_from_db()
    assert (c.version, c.memo, c.start, c.end) == (2, "", 2, 9)
    assert api["coder"].patch(url(cast, t_north, "99999/"), {"version": 1}, format="json").status_code == 404
    assert [e.kind for e in CodingEvent.objects.all()] == ["created", "updated"]


def test_bulk_delete_is_audited(cast, api, book, t_north):
    from accounts.models import AuditEvent

    ids = [coding_services.coding_create(actor=cast.users["coder"], study_id=cast.study.pk, transcript_id=t_north.pk,
                                         code_id=book.cues.pk, start=i, end=i + 3).pk for i in range(3)]
    r = api["coder"].post(url(cast, t_north, "delete/"), {"ids": ids[:2]}, format="json")
    assert r.status_code == 200
    assert r.json() == {"deleted": 2}
    assert list(Coding.objects.values_list("pk", flat=True)) == [ids[2]]
    assert AuditEvent.objects.filter(action="coding.bulk_delete").count() == 1
    assert api["coder"].post(url(cast, t_north, "delete/"), {"ids": [ids[2], 987654]}, format="json").status_code == 404
    assert Coding.objects.filter(pk=ids[2]).exists()


# Change feed --------------------------------------------------------------------------------------


def test_feed_catch_up_after_n_has_no_loss_and_no_duplicates(cast, api, book, t_north, t_south):
    coder = cast.users["coder"]
    made = [coding_services.coding_create(actor=coder, study_id=cast.study.pk, transcript_id=t_north.pk,
                                          code_id=book.cues.pk, start=i, end=i + 2) for i in range(3)]
    coding_services.coding_create(actor=coder, study_id=cast.study.pk, transcript_id=t_south.pk,
                                  code_id=book.cues.pk, start=0, end=2)  # another transcript's feed
    coding_services.coding_delete(actor=coder, study_id=cast.study.pk, transcript_id=t_north.pk, coding_id=made[1].pk)
    events, last = events_after(user=coder, transcript_id=t_north.pk, after=0)
    assert [(e.kind, e.coding_id) for e in events] == [
        ("created", made[0].pk), ("created", made[1].pk), ("created", made[2].pk), ("deleted", made[1].pk)]
    ids = [e.id for e in events]
    assert ids == sorted(set(ids))
    assert last == ids[-1]
    # A client that saw the first two reconnects with Last-Event-ID = ids[1]: it gets exactly the rest.
    rest, last2 = events_after(user=coder, transcript_id=t_north.pk, after=ids[1])
    assert [e.id for e in rest] == ids[2:]
    assert last2 == last
    assert events_after(user=coder, transcript_id=t_north.pk, after=last) == ([], last)
    r = api["coder"].get(url(cast, t_north, f"events/?after={ids[1]}"))
    assert r.status_code == 200
    assert [e["id"] for e in r.json()["events"]] == ids[2:]
    assert api["coder"].get(url(cast, t_north, "events/?after=x")).status_code == 400
    assert api["coder_other_site"].get(url(cast, t_north, "events/")).status_code == 404
    assert api["ppi"].get(url(cast, t_north, "events/")).status_code == 404


@override_settings(CHORUS_CODING_STREAM_SECONDS=0)
def test_sse_stream_resumes_from_last_event_id(cast, clients, book, t_north):
    coder = cast.users["coder"]
    made = [coding_services.coding_create(actor=coder, study_id=cast.study.pk, transcript_id=t_north.pk,
                                          code_id=book.cues.pk, start=i, end=i + 2) for i in range(3)]
    first_id = CodingEvent.objects.get(coding_id=made[0].pk).id
    stream = f"/studies/{cast.study.pk}/transcripts/{t_north.pk}/code/stream/"
    r = clients["lead"].get(stream, HTTP_LAST_EVENT_ID=str(first_id))
    assert r.status_code == 200
    assert r["Content-Type"] == "text/event-stream"
    body = b"".join(r.streaming_content).decode()
    ids = [int(line[4:]) for line in body.splitlines() if line.startswith("id: ")]
    assert ids == [first_id + 1, first_id + 2] or ids == list(
        CodingEvent.objects.filter(id__gt=first_id).values_list("id", flat=True))
    assert "event: presence" in body
    assert f'event: version\ndata: {{"version":{t_north.version}}}' in body
    assert cast.users["lead"].display_name in body
    expected = {"admin": 200, "coder": 200, "coder_other_site": 404, "ppi": 404, "outsider": 404}
    for role, code in expected.items():
        resp = clients[role].get(stream)
        assert resp.status_code == code, role
        if code == 200:
            b"".join(resp.streaming_content)
    assert clients["anonymous"].get(stream).status_code == 302


# Registries ---------------------------------------------------------------------------------------


def test_code_merge_moves_codings_and_collapses_duplicates(cast, book, t_north):
    coder, lead, sid = cast.users["coder"], cast.users["lead"], cast.study.pk
    for code in (book.cues, book.video):
        coding_services.coding_create(actor=coder, study_id=sid, transcript_id=t_north.pk, code_id=code.pk, start=0, end=5)
    coding_services.coding_create(actor=lead, study_id=sid, transcript_id=t_north.pk, code_id=book.video.pk, start=0, end=5)
    coding_services.coding_create(actor=coder, study_id=sid, transcript_id=t_north.pk, code_id=book.video.pk, start=6, end=9)
    impact = services.code_delete_impact(study=cast.study, code=book.video)
    assert impact.codings == 3
    result = services.code_merge(actor=lead, study_id=sid, source_id=book.video.pk, target_id=book.cues.pk)
    assert result.moved["codings"] == 2  # the coder's duplicate on [0, 5) collapsed
    rows = sorted(Coding.objects.values_list("code_id", "coder_id", "start", "end"))
    assert rows == sorted([(book.cues.pk, coder.pk, 0, 5), (book.cues.pk, lead.pk, 0, 5), (book.cues.pk, coder.pk, 6, 9)])
    kinds = list(CodingEvent.objects.values_list("kind", flat=True))
    assert kinds.count("deleted") == 1
    assert kinds.count("updated") == 2


def test_code_delete_removes_codings_with_feed_events(cast, book, t_north):
    c = coding_services.coding_create(actor=cast.users["coder"], study_id=cast.study.pk, transcript_id=t_north.pk,
                                      code_id=book.cues.pk, start=0, end=5)
    services.code_delete(actor=cast.users["lead"], study_id=cast.study.pk, code_id=book.relationship.pk, confirm=True)
    assert not Coding.objects.exists()
    assert CodingEvent.objects.filter(kind="deleted", coding_id=c.pk).exists()


def test_redaction_reanchors_codings_in_its_transaction(cast, book, t_north):
    coder, sid = cast.users["coder"], cast.study.pk
    s, e = span_of(t_north, "phoning the café")
    after = coding_services.coding_create(actor=coder, study_id=sid, transcript_id=t_north.pk, code_id=book.cues.pk, start=s, end=e)
    ns, ne = span_of(t_north, "Zoë")
    name = coding_services.coding_create(actor=coder, study_id=sid, transcript_id=t_north.pk, code_id=book.video.pk, start=ns, end=ne)
    js, je = span_of(t_north, "John Smith")
    transcript_replace(actor=cast.users["lead"], study_id=sid, transcript_id=t_north.pk, start=js, end=je,
                       expected="John Smith", replacement="[NAME]", base_version=t_north.version)
    t_north.refresh_from_db()
    after.refresh_from_db()
    assert t_north.text[after.start:after.end] == "phoning the café"
    # Deleting all of a coding's text marks it lost instead of breaking the span constraint.
    name.refresh_from_db()
    ns, ne = name.start, name.end
    assert t_north.text[ns:ne] == "Zoë"
    transcript_replace(actor=cast.users["lead"], study_id=sid, transcript_id=t_north.pk, start=ns - 1, end=ne,
                       expected=" Zoë", replacement="", base_version=t_north.version)
    name.refresh_from_db()
    assert name.lost
    assert name.start == name.end
    # A coding made on the old version is refused.
    with pytest.raises(coding_services.CodingConflict):
        coding_services.coding_create(actor=coder, study_id=sid, transcript_id=t_north.pk, code_id=book.cues.pk,
                                      start=0, end=3, transcript_version=1)


def test_purge_removes_codings_and_memos(cast, book, t_north, t_south, su01):
    from analysis.coding.services.memos import memo_create
    from participants.purgers import purgers

    c = coding_services.coding_create(actor=cast.users["coder"], study_id=cast.study.pk, transcript_id=t_north.pk,
                                      code_id=book.cues.pk, start=0, end=5)
    memo_create(actor=cast.users["coder"], study_id=cast.study.pk, title="About it", coding_id=c.pk)
    memo_create(actor=cast.users["coder"], study_id=cast.study.pk, title="Study-wide")
    coding_services.coding_create(actor=cast.users["coder"], study_id=cast.study.pk, transcript_id=t_south.pk,
                                  code_id=book.cues.pk, start=0, end=5)
    results = [p(participant=su01) for p in purgers()]
    assert results[0] == {"codings": 1, "memos": 1}
    assert Coding.objects.count() == 1
    assert not CodingEvent.objects.filter(transcript_id=t_north.pk).exists()
    from analysis.coding.models import Memo

    assert list(Memo.objects.values_list("title", flat=True)) == ["Study-wide"]
