"""Codebook API: every endpoint × every role, and bad input → clear 4xx with nothing written."""

from __future__ import annotations

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from accounts.models import AuditEvent
from analysis.coding.models import Code
from analysis.coding.services import codebook_import as importing
from tests.helpers import ppi_expect

pytestmark = pytest.mark.django_db

READ = {"admin": 200, "lead": 200, "coder": 200, "coder_other_site": 200, "ppi": 403, "outsider": 404,
        "anonymous": (401, 403)}
WRITE = {"admin": 403, "coder": 403, "coder_other_site": 403, "ppi": 403, "outsider": 404, "anonymous": (401, 403)}


def ok(status: int, expected: int | tuple[int, ...]) -> bool:
    return status in expected if isinstance(expected, tuple) else status == expected


def base(cast) -> str:
    return f"/api/v1/studies/{cast.study.pk}/codes/"


def snapshot():
    return list(Code.objects.order_by("pk").values_list("pk", "name", "version", "parent_id", "description"))


@pytest.mark.parametrize("role", list(READ))
def test_reads_by_role(cast, book, api, role):
    c = api[role]
    for path in ("", "tree/", f"{book.cues.pk}/"):
        r = c.get(base(cast) + path)
        assert ok(r.status_code, ppi_expect(role, READ[role], base(cast) + path)), (path, r.status_code)
    if READ[role] == 200:
        flat = c.get(base(cast)).json()
        assert {d["name"] for d in flat} == {"Experiences of remote care", "Convenience and flexibility",
                                             "Telephone versus video", "Therapeutic relationship", "Loss of non-verbal cues"}
        cues = next(d for d in flat if d["name"] == "Loss of non-verbal cues")
        assert cues["parent"] == book.relationship.pk
        assert cues["version"] == 1
        assert cues["label_colour"] == "#ffffff"
        tree = c.get(base(cast) + "tree/").json()
        assert [t["name"] for t in tree] == ["Experiences of remote care", "Therapeutic relationship"]
        assert [k["name"] for k in tree[1]["children"]] == ["Loss of non-verbal cues"]


@pytest.mark.parametrize("role", list(WRITE))
def test_writes_by_anyone_but_the_lead_are_refused_and_write_nothing(cast, book, api, role):
    c = api[role]
    before, events = snapshot(), AuditEvent.objects.count()
    calls = [
        c.post(base(cast), {"name": "Sneaky"}, format="json"),
        c.patch(base(cast) + f"{book.cues.pk}/", {"name": "Sneaky", "version": 1}, format="json"),
        c.post(base(cast) + f"{book.cues.pk}/move/", {"parent": None}, format="json"),
        c.post(base(cast) + f"{book.cues.pk}/merge/", {"target": book.video.pk}, format="json"),
        c.delete(base(cast) + f"{book.cues.pk}/?confirm=true"),
        c.post(base(cast) + "import/", {"file": SimpleUploadedFile("c.csv", b"path\nSneaky\n"), "mode": "commit"}),
        c.get(base(cast) + "export/"),
    ]
    for r in calls:
        path = r.request["PATH_INFO"]
        assert ok(r.status_code, ppi_expect(role, WRITE[role], path)), (path, r.status_code)
    assert snapshot() == before
    assert AuditEvent.objects.count() == events


def test_lead_create_update_move_merge_delete(cast, book, api):
    c = api["lead"]
    r = c.post(base(cast), {"name": "Eye contact", "parent": book.cues.pk, "colour": "#AE2573"}, format="json")
    assert r.status_code == 201
    assert r.json()["colour"] == "#ae2573"
    assert r.json()["version"] == 1
    new = r.json()["id"]
    r = c.patch(base(cast) + f"{new}/", {"description": "Looking at the camera.", "version": 1}, format="json")
    assert r.status_code == 200
    assert r.json()["version"] == 2
    r = c.post(base(cast) + f"{new}/move/", {"parent": book.remote.pk, "position": 0}, format="json")
    assert r.status_code == 200
    assert r.json()["parent"] == book.remote.pk
    assert r.json()["position"] == 0
    r = c.post(base(cast) + f"{new}/merge/", {"target": book.video.pk}, format="json")
    assert r.status_code == 200
    assert r.json()["id"] == book.video.pk
    assert r.json()["merged_codes"] == ["Eye contact"]
    r = c.delete(base(cast) + f"{book.remote.pk}/")
    assert r.status_code == 400
    assert r.json()["impact"]["descendants"] == 2
    assert c.delete(base(cast) + f"{book.remote.pk}/?confirm=true").status_code == 204
    assert not Code.objects.filter(pk__in=[book.remote.pk, book.video.pk]).exists()
    assert {e.action for e in AuditEvent.objects.filter(study=cast.study)} >= {
        "code.create", "code.update", "code.move", "code.merge", "code.delete"}


def test_stale_version_answers_409_with_the_current_code(cast, book, api):
    c = api["lead"]
    assert c.patch(base(cast) + f"{book.cues.pk}/", {"name": "Missing cues", "version": 1}, format="json").status_code == 200
    r = c.patch(base(cast) + f"{book.cues.pk}/", {"name": "Lost cues", "version": 1}, format="json")
    assert r.status_code == 409
    body = r.json()
    assert body["current"]["version"] == 2
    assert body["current"]["name"] == "Missing cues"
    assert "changed this code at" in body["detail"]
    assert Code.objects.get(pk=book.cues.pk).name == "Missing cues"


@pytest.mark.parametrize(("method", "path", "payload", "status"), [
    ("post", "", '{"name": "broken', 400),  # malformed JSON
    ("post", "", {"name": ""}, 400),
    ("post", "", {"name": "A::B"}, 400),
    ("post", "", {"name": "X", "parent": "other_study"}, 400),
    ("post", "", {"name": "X", "parent": 2**70}, 400),
    ("post", "", {"name": "X", "colour": "url(javascript:x)"}, 400),
    ("post", "", {"name": "Therapeutic RELATIONSHIP"}, 400),
    ("post", "", ["not", "an", "object"], 400),
    ("patch", "cues/", {"name": "No version"}, 400),
    ("patch", "cues/", {"name": "x", "version": "one"}, 400),
    ("patch", "cues/", {"name": "x", "version": 1, "parent": None}, 400),
    ("patch", "cues/", {"version": 1, "is_codable": "perhaps"}, 400),
    ("post", "remote/move/", {"parent": "convenience"}, 400),  # a cycle
    ("post", "remote/move/", {"parent": "remote"}, 400),
    ("post", "cues/move/", {"parent": "other_study"}, 400),
    ("post", "cues/move/", {}, 400),
    ("post", "cues/move/", {"parent": None, "version": 9}, 409),
    ("post", "cues/merge/", {"target": "cues"}, 400),
    ("post", "remote/merge/", {"target": "video"}, 400),
    ("post", "cues/merge/", {"target": "other_study"}, 400),
    ("post", "cues/merge/", {"target": "nonsense"}, 400),
    ("get", "999999/", None, 404),
    ("get", "other_study/", None, 404),
    ("patch", "other_study/", {"name": "x", "version": 1}, 404),
    ("delete", "other_study/?confirm=true", None, 404),
])
def test_bad_input_is_a_clear_4xx_and_writes_nothing(cast, book, api, method, path, payload, status):
    ids = {"cues": book.cues.pk, "remote": book.remote.pk, "convenience": book.convenience.pk,
           "video": book.video.pk, "other_study": book.other_study_code.pk}

    def sub(value):
        if isinstance(value, dict):
            return {k: sub(v) for k, v in value.items()}
        return ids.get(value, value) if isinstance(value, str) else value

    for name, pk in ids.items():
        path = path.replace(f"{name}/", f"{pk}/")
    before, events = snapshot(), AuditEvent.objects.count()
    c = api["lead"]
    if isinstance(payload, str):
        r = c.generic(method.upper(), base(cast) + path, payload, content_type="application/json")
    elif payload is None:
        r = getattr(c, method)(base(cast) + path)
    else:
        r = getattr(c, method)(base(cast) + path, sub(payload), format="json")
    assert r.status_code == status, r.content
    assert r["Content-Type"].startswith("application/json")
    assert snapshot() == before
    assert AuditEvent.objects.count() == events


def test_deleted_code_is_404_everywhere(cast, book, api):
    c = api["lead"]
    assert c.delete(base(cast) + f"{book.cues.pk}/?confirm=true").status_code == 204
    assert c.get(base(cast) + f"{book.cues.pk}/").status_code == 404
    assert c.patch(base(cast) + f"{book.cues.pk}/", {"name": "x", "version": 1}, format="json").status_code == 404
    assert c.post(base(cast) + f"{book.cues.pk}/move/", {"parent": None}, format="json").status_code == 404
    assert c.post(base(cast) + f"{book.video.pk}/merge/", {"target": book.cues.pk}, format="json").status_code == 400


QDC = b"""<?xml version="1.0"?><CodeBook xmlns="urn:QDA-XML:codebook:1:0"><Codes>
<Code guid="11111111-1111-4111-8111-111111111111" name="Feelings::Anxious" isCodable="true"/></Codes></CodeBook>"""


def test_import_preview_then_commit_then_idempotent(cast, book, api):
    c = api["lead"]
    r = c.post(base(cast) + "import/", {"file": SimpleUploadedFile("b.qdc", QDC)})
    assert r.status_code == 200
    assert r.json()["summary"]["create"] == 2
    assert not r.json()["committed"]
    assert not Code.objects.filter(name="Anxious").exists()
    r = c.post(base(cast) + "import/", {"file": SimpleUploadedFile("b.qdc", QDC), "mode": "commit"})
    assert r.status_code == 200
    assert r.json()["committed"]
    assert Code.objects.get(name="Anxious").parent.name == "Feelings"
    r = c.post(base(cast) + "import/", {"file": SimpleUploadedFile("b.qdc", QDC), "mode": "commit"})
    assert r.json()["summary"] == {"create": 0, "update": 0, "unchanged": 2, "error": 0}


@pytest.mark.parametrize(("name", "data"), [
    ("xxe.qdc", b'<?xml version="1.0"?><!DOCTYPE x [<!ENTITY e SYSTEM "file:///etc/passwd">]><CodeBook>&e;</CodeBook>'),
    ("huge.qdc", b" " * (importing.MAX_IMPORT_BYTES + 1)),
    ("rows.csv", b"path,colour\nGood,#005eb8\nBad,notacolour\n"),
    ("what.txt", b"hello"),
])
def test_import_refuses_bad_files_and_writes_nothing(cast, book, api, name, data):
    before = snapshot()
    r = api["lead"].post(base(cast) + "import/", {"file": SimpleUploadedFile(name, data), "mode": "commit"})
    assert r.status_code == 400, r.content
    assert snapshot() == before
    if name == "rows.csv":
        assert r.json()["summary"]["error"] == 1
        assert not r.json()["committed"]


def test_import_without_a_file_is_400(cast, api):
    assert api["lead"].post(base(cast) + "import/", {"mode": "commit"}).status_code == 400


def test_export_as_qdc_and_csv(cast, book, api):
    c = api["lead"]
    r = c.get(base(cast) + "export/")
    assert r.status_code == 200
    assert r["Content-Type"].startswith("application/xml")
    assert b"Loss of non-verbal cues" in r.content
    r = c.get(base(cast) + "export/?as=csv")
    assert r.status_code == 200
    assert r.content.startswith(b"\xef\xbb\xbfpath,")
    assert c.get(base(cast) + "export/?as=pdf").status_code == 400
    assert AuditEvent.objects.filter(action="codebook.export").count() == 2


def test_export_of_an_empty_codebook_is_400(cast, api):
    assert api["lead"].get(base(cast) + "export/").status_code == 400


def test_schema_documents_the_endpoints(cast, api):
    r = api["lead"].get("/api/v1/schema/")
    assert r.status_code == 200
    assert b"/api/v1/studies/{study_id}/codes/{code_id}/merge/" in r.content
