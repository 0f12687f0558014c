"""A memo sent twice (a double click, a retried request) is one memo; a field a write does not take is
a 400 naming it, on the plain-JSON endpoints and the serializer-based ones alike."""

from __future__ import annotations

import datetime as dt

import pytest

from analysis.coding.models import Memo

pytestmark = pytest.mark.django_db


def test_an_identical_memo_posted_twice_is_stored_once(cast, api, t_north):
    url = f"/api/v1/studies/{cast.study.pk}/memos/"
    body = {"title": "Loss of cues", "body": "Compare with carers.", "transcript": t_north.pk}
    first = api["coder"].post(url, body, format="json")
    second = api["coder"].post(url, body, format="json")
    assert first.status_code == second.status_code == 201
    assert first.json()["id"] == second.json()["id"]
    assert Memo.objects.filter(title="Loss of cues").count() == 1
    # someone else writing the same words has their own memo; so does the author, later
    assert api["lead"].post(url, body, format="json").json()["id"] != first.json()["id"]
    Memo.objects.filter(pk=first.json()["id"]).update(created_at=Memo.objects.get(pk=first.json()["id"]).created_at
                                                      - dt.timedelta(minutes=5))
    assert api["coder"].post(url, body, format="json").json()["id"] != first.json()["id"]
    assert Memo.objects.filter(title="Loss of cues").count() == 3


@pytest.mark.parametrize(
    ("method", "path", "body"),
    [
        ("patch", "/memos/{memo}/", {"title": "New", "colour": "red"}),
        ("post", "/memos/", {"title": "New", "tittle": "typo"}),
        ("patch", "/transcripts/{t}/codings/{coding}/", {"version": 1, "coder": 3}),
        ("post", "/transcripts/{t}/codings/", {"code": "{code}", "start": 0, "end": 5, "colour": "red"}),
        ("post", "/transcripts/{t}/codings/delete/", {"ids": [], "all": True}),
        ("patch", "/", {"name": "Renamed", "owner": "me"}),
        ("patch", "/participants/{p}/", {"attributes": {}, "consent_state": "consented"}),
        ("post", "/codes/", {"name": "A code", "id": 5}),
        ("post", "/transcripts/{t}/edits/", {"kind": "replace_all", "find": "the", "replacement": "x",
                                            "base_version": 1, "force": True}),
    ],
)
def test_a_write_with_an_unknown_field_is_a_400_naming_it(cast, api, book, t_north, su01, method, path, body):
    from analysis.coding.services import codings, memos

    lead = cast.users["lead"]
    memo = memos.memo_create(actor=lead, study_id=cast.study.pk, title="Memo", transcript_id=t_north.pk)
    coding = codings.coding_create(actor=lead, study_id=cast.study.pk, transcript_id=t_north.pk,
                                   code_id=book.cues.pk, start=0, end=5)
    ids = {"memo": memo.pk, "t": t_north.pk, "coding": coding.pk, "p": su01.pk, "code": book.cues.pk}
    body = {k: (int(v.format(**ids)) if isinstance(v, str) and v.startswith("{") else v) for k, v in body.items()}
    role = "admin" if "participants" in path or path == "/" else "lead"
    r = getattr(api[role], method)(f"/api/v1/studies/{cast.study.pk}{path.format(**ids)}", body, format="json")
    assert r.status_code == 400, r.content
    known = set(body) - {"colour", "tittle", "coder", "all", "owner", "consent_state", "id", "force"}
    unknown = set(body) - known
    # The one error shape (docs/api.md, "Errors"): a detail sentence, and each refused field by name.
    assert set(r.json()) - {"detail"} == unknown, r.json()
    assert r.json()["detail"]
    assert "Unknown field" in r.content.decode()
