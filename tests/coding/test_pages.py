"""Codebook pages: every page × every role, the edit-conflict flow, imports and exports."""

from __future__ import annotations

import re

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from accounts.models import AuditEvent
from analysis.coding.models import Code
from analysis.coding.services import codebook as services
from analysis.coding.services import codebook_import as importing
from tests.helpers import ppi_expect

pytestmark = pytest.mark.django_db

VIEWERS = {"admin": 200, "lead": 200, "coder": 200, "coder_other_site": 200, "ppi": 403, "outsider": 404}
EDITORS = {"admin": 403, "lead": 200, "coder": 403, "coder_other_site": 403, "ppi": 403, "outsider": 404}


def url(cast, book, name):
    s, c = cast.study.pk, book.cues.pk
    return {
        "codebook": f"/studies/{s}/codebook/", "detail": f"/studies/{s}/codebook/{c}/",
        "create": f"/studies/{s}/codebook/new/", "edit": f"/studies/{s}/codebook/{c}/edit/",
        "move": f"/studies/{s}/codebook/{c}/move/", "merge": f"/studies/{s}/codebook/{c}/merge/",
        "delete": f"/studies/{s}/codebook/{c}/delete/", "import": f"/studies/{s}/codebook/import/",
        "export_qdc": f"/studies/{s}/codebook/export.qdc", "export_csv": f"/studies/{s}/codebook/export.csv",
    }[name]


@pytest.mark.parametrize("page", ["codebook", "detail"])
@pytest.mark.parametrize("role", [*VIEWERS, "anonymous"])
def test_read_pages_by_role(cast, book, clients, page, role):
    r = clients[role].get(url(cast, book, page))
    if role == "anonymous":
        assert r.status_code == 302
        assert "/accounts/login/" in r["Location"]
        return
    assert r.status_code == ppi_expect(role, VIEWERS[role], url(cast, book, page))
    if r.status_code == 200:
        body = r.content.decode()
        assert "Loss of non-verbal cues" in body
        assert "Elsewhere" not in body  # another study's code
        assert ("Add a code" in body or "Change" in body) == (role == "lead")


@pytest.mark.parametrize("page", ["create", "edit", "move", "merge", "delete", "import"])
@pytest.mark.parametrize("role", [*EDITORS, "anonymous"])
def test_edit_pages_by_role(cast, book, clients, page, role):
    r = clients[role].get(url(cast, book, page))
    if role == "anonymous":
        assert r.status_code == 302
        return
    assert r.status_code == ppi_expect(role, EDITORS[role], url(cast, book, page))


@pytest.mark.parametrize("page", ["export_qdc", "export_csv"])
@pytest.mark.parametrize("role", [*EDITORS, "anonymous"])
def test_exports_by_role(cast, book, clients, page, role):
    r = clients[role].get(url(cast, book, page))
    if role == "anonymous":
        assert r.status_code == 302
        return
    assert r.status_code == EDITORS[role]  # exporting is a lead's permission (Perm.EXPORT)
    if r.status_code == 200:
        assert "attachment" in r["Content-Disposition"]
        assert b"Loss of non-verbal cues" in r.content
        assert AuditEvent.objects.filter(action="codebook.export").count() == 1


def test_nav_shows_the_codebook_to_viewers_only(cast, clients):
    assert f"/studies/{cast.study.pk}/codebook/" in clients["coder"].get(f"/studies/{cast.study.pk}/").content.decode()
    assert f"/studies/{cast.study.pk}/codebook/" not in clients["ppi"].get(f"/studies/{cast.study.pk}/").content.decode()


@pytest.mark.parametrize("role", ["admin", "coder", "coder_other_site", "ppi", "outsider", "anonymous"])
def test_writes_by_anyone_but_the_lead_change_nothing(cast, book, clients, role):
    c = clients[role]
    before = list(Code.objects.order_by("pk").values_list("pk", "name", "version", "parent_id"))
    responses = [
        c.post(url(cast, book, "create"), {"name": "Sneaky", "colour": "#005eb8"}),
        c.post(url(cast, book, "edit"), {"name": "Sneaky", "colour": "#005eb8", "version": 1}),
        c.post(url(cast, book, "move"), {"parent": ""}),
        c.post(url(cast, book, "merge"), {"target": book.video.pk, "confirm": "on"}),
        c.post(url(cast, book, "delete"), {"confirm": "on"}),
        c.post(url(cast, book, "import"), {"file": SimpleUploadedFile("c.csv", b"path\nSneaky\n")}),
    ]
    assert {r.status_code for r in responses} <= {302, 403, 404}
    assert list(Code.objects.order_by("pk").values_list("pk", "name", "version", "parent_id")) == before


def test_lead_creates_a_sub_code(cast, book, clients):
    r = clients["lead"].post(url(cast, book, "create"), {
        "name": "Eye contact", "parent": book.cues.pk, "colour": "#330072", "is_codable": "on",
        "description": "Looking at the camera.",
    })
    assert r.status_code == 302
    code = Code.objects.get(name="Eye contact")
    assert code.parent == book.cues
    assert code.colour == "#330072"
    assert code.is_codable
    assert r["Location"].endswith(f"#code-{code.pk}")


def test_create_with_a_duplicate_name_or_a_foreign_parent_shows_errors(cast, book, clients):
    lead = clients["lead"]
    r = lead.post(url(cast, book, "create"), {"name": "telephone VERSUS video", "parent": book.remote.pk, "colour": "#005eb8"})
    assert r.status_code == 200
    assert "already a code" in r.content.decode()
    r = lead.post(url(cast, book, "create"), {"name": "X", "parent": book.other_study_code.pk, "colour": "#005eb8"})
    assert r.status_code == 200
    assert "Select a valid choice" in r.content.decode()
    assert not Code.objects.filter(name="X").exists()


def test_edit_conflict_shows_their_version_and_lets_the_user_reapply(cast, book, clients):
    lead = clients["lead"]
    form = lead.get(url(cast, book, "edit")).content.decode()
    assert re.search(r'name="version" value="1"', form)
    # Meanwhile someone else saves.
    services.code_update(actor=cast.users["lead"], study_id=cast.study.pk, code_id=book.cues.pk, version=1,
                         changes={"description": "Their definition."})
    mine = {"name": "Loss of cues", "description": "My definition.", "colour": book.cues.colour, "version": 1}
    r = lead.post(url(cast, book, "edit"), mine)
    body = r.content.decode()
    assert r.status_code == 409
    assert "changed this code at" in body
    assert "here is their version" in body
    assert "Their definition." in body
    assert "My definition." in body
    assert re.search(r'name="version" value="2"', body)
    assert Code.objects.get(pk=book.cues.pk).description == "Their definition."
    r = lead.post(url(cast, book, "edit"), {**mine, "version": 2})  # "Save my version"
    assert r.status_code == 302
    code = Code.objects.get(pk=book.cues.pk)
    assert (code.name, code.description, code.version) == ("Loss of cues", "My definition.", 3)


def test_move_page_offers_no_cycles_and_moves(cast, book, clients):
    r = clients["lead"].get(f"/studies/{cast.study.pk}/codebook/{book.remote.pk}/move/")
    options = re.findall(r'<option value="(\d*)"', r.content.decode())
    assert str(book.convenience.pk) not in options
    assert str(book.remote.pk) not in options
    assert str(book.relationship.pk) in options
    r = clients["lead"].post(f"/studies/{cast.study.pk}/codebook/{book.remote.pk}/move/", {"parent": book.convenience.pk})
    assert r.status_code == 200
    assert "Select a valid choice" in r.content.decode()
    r = clients["lead"].post(url(cast, book, "move"), {"parent": ""})
    assert r.status_code == 302
    assert Code.objects.get(pk=book.cues.pk).parent is None


def test_merge_and_delete_need_confirmation(cast, book, clients, fake_codings):
    fake_codings.rows = [(book.cues.pk, "a")]
    lead = clients["lead"]
    page = lead.get(url(cast, book, "delete")).content.decode()
    assert "<strong>1</strong> coding" in page
    assert "<strong>0</strong> sub-codes" in page
    r = lead.post(url(cast, book, "delete"), {})
    assert r.status_code == 200
    assert Code.objects.filter(pk=book.cues.pk).exists()
    r = lead.post(url(cast, book, "merge"), {"target": book.video.pk})
    assert r.status_code == 200
    assert Code.objects.filter(pk=book.cues.pk).exists()
    r = lead.post(url(cast, book, "merge"), {"target": book.video.pk, "confirm": "on"})
    assert r.status_code == 302
    assert not Code.objects.filter(pk=book.cues.pk).exists()
    assert fake_codings.rows == [(book.video.pk, "a")]
    r = lead.post(f"/studies/{cast.study.pk}/codebook/{book.video.pk}/delete/", {"confirm": "on"})
    assert r.status_code == 302
    assert not Code.objects.filter(pk=book.video.pk).exists()
    assert lead.get(f"/studies/{cast.study.pk}/codebook/{book.video.pk}/").status_code == 404


QDC = b"""<?xml version="1.0" encoding="utf-8"?>
<CodeBook xmlns="urn:QDA-XML:codebook:1.0"><Codes>
  <Code guid="11111111-1111-4111-8111-111111111111" name="Feelings" isCodable="false">
    <Code guid="22222222-2222-4222-8222-222222222222" name="Anxious" isCodable="true"/>
  </Code>
</Codes></CodeBook>"""


def test_import_previews_then_commits(cast, book, clients):
    lead = clients["lead"]
    r = lead.post(url(cast, book, "import"), {"file": SimpleUploadedFile("book.qdc", QDC)})
    body = r.content.decode()
    assert r.status_code == 200
    assert "Check before importing" in body
    assert not Code.objects.filter(name="Feelings").exists()
    token = re.search(r'name="token" value="([^"]+)"', body).group(1)
    r = lead.post(url(cast, book, "import"), {"token": token})
    assert r.status_code == 302
    assert Code.objects.get(name="Anxious").parent.name == "Feelings"
    # Replaying the same preview is harmless: everything is unchanged.
    assert lead.post(url(cast, book, "import"), {"token": token}).status_code == 302
    assert Code.objects.filter(name="Anxious").count() == 1


@pytest.mark.parametrize(("name", "data", "message"), [
    ("evil.qdc", b'<?xml version="1.0"?><!DOCTYPE x [<!ENTITY e SYSTEM "file:///etc/passwd">]><CodeBook/>', "DTD"),
    ("big.qdc", b" " * (importing.MAX_IMPORT_BYTES + 10), "larger than"),
    ("book.docx", b"PK\x03\x04", "Choose a .qdc"),
    ("book.csv", b"\xff\xfe\x00\x00", "not UTF-8"),
])
def test_import_refuses_bad_files_clearly(cast, book, clients, name, data, message):
    count = Code.objects.count()
    r = clients["lead"].post(url(cast, book, "import"), {"file": SimpleUploadedFile(name, data)})
    assert r.status_code == 400
    assert message in r.content.decode()
    assert Code.objects.count() == count


def test_import_refuses_a_tampered_or_foreign_token(cast, book, clients):
    r = clients["lead"].post(url(cast, book, "import"), {"token": "abc:def"})
    assert r.status_code == 400
    assert "expired or was altered" in r.content.decode()


def test_export_format_must_be_known(cast, book, clients):
    assert clients["lead"].get(f"/studies/{cast.study.pk}/codebook/export.pdf").status_code == 404


def test_empty_codebook_has_a_helpful_page(cast, clients):
    body = clients["lead"].get(f"/studies/{cast.study.pk}/codebook/").content.decode()
    assert "no codes yet" in body
    assert "import a codebook" in body
    r = clients["lead"].get(f"/studies/{cast.study.pk}/codebook/export.qdc")
    assert r.status_code == 302
