"""A project that is not consistent or not safe is refused with a message naming the problem and the
element, and nothing is stored (no import record, no participant, code or transcript)."""

from __future__ import annotations

import io
import struct
import zipfile
from typing import Any

import pytest
from django.core.exceptions import ValidationError

from analysis.coding.models import Code
from analysis.transcripts.models import Transcript
from interop.models import ProjectImport
from interop.services import imports
from participants.models import Participant

from .conftest import qdpx

pytestmark = pytest.mark.django_db
NS = 'xmlns="urn:QDA-XML:project:1.0"'
U = "00000000-0000-4000-8000-0000000000"  # + two hex digits


def project(sources: str = "", codes: str = "", extra: str = "") -> str:
    return (f'<?xml version="1.0" encoding="utf-8"?><Project {NS} name="t" origin="test">'
            f'<Users><User guid="{U}01" name="Ann"/></Users>'
            f'<CodeBook><Codes><Code guid="{U}10" name="Cues" isCodable="true"/>{codes}</Codes></CodeBook>'
            f"<Sources>{sources}</Sources>{extra}</Project>")


def source(selections: str, path: str = f"internal://{U}20.txt", guid: str = f"{U}20") -> str:
    return f'<TextSource guid="{guid}" name="SU01" plainTextPath="{path}">{selections}</TextSource>'


def selection(start: int | str, end: int | str, code: str = f"{U}10", guid: str = f"{U}30") -> str:
    return (f'<PlainTextSelection guid="{guid}" startPosition="{start}" endPosition="{end}" creatingUser="{U}01">'
            f'<Coding guid="{U}40" creatingUser="{U}01"><CodeRef targetGUID="{code}"/></Coding></PlainTextSelection>')


TEXT = {f"sources/{U}20.txt": b"Interviewer: Hello?\nSU01: I missed seeing faces.\n"}


def refused(cast: Any, data: bytes) -> str:
    before = (ProjectImport.objects.count(), Participant.objects.count(), Code.objects.count(),
              Transcript.objects.count())
    with pytest.raises(ValidationError) as exc:
        imports.project_import_preview(actor=cast.users["lead"], study_id=cast.study.pk, filename="p.qdpx", data=data)
    after = (ProjectImport.objects.count(), Participant.objects.count(), Code.objects.count(),
             Transcript.objects.count())
    assert after == before, "a refused project stored something"
    return " ".join(exc.value.messages)


def test_selection_beyond_the_text(cast: Any) -> None:
    msg = refused(cast, qdpx(project(source(selection(10, 9999))), TEXT))
    assert "beyond the end of its text" in msg
    assert "PlainTextSelection" in msg
    assert "line 1" in msg


def test_end_before_start(cast: Any) -> None:
    msg = refused(cast, qdpx(project(source(selection(20, 10))), TEXT))
    assert "ends (10) before it starts (20)" in msg


def test_huge_and_non_numeric_positions(cast: Any) -> None:
    assert "not a position" in refused(cast, qdpx(project(source(selection(0, 10**30))), TEXT))
    assert "not a whole number" in refused(cast, qdpx(project(source(selection("x", 3))), TEXT))


def test_unknown_code_guid(cast: Any) -> None:
    msg = refused(cast, qdpx(project(source(selection(0, 5, code=f"{U}99"))), TEXT))
    assert "CodeRef" in msg
    assert f"{U}99" in msg
    assert "does not contain" in msg


def test_duplicate_guid(cast: Any) -> None:
    msg = refused(cast, qdpx(project(source(selection(0, 5)), codes=f'<Code guid="{U}10" name="Twin" isCodable="true"/>'),
                             TEXT))
    assert "duplicate GUID" in msg
    assert "“Twin”" in msg
    assert "“Cues”" in msg


def test_missing_source_file(cast: Any) -> None:
    msg = refused(cast, qdpx(project(source(selection(0, 5))), {}))
    assert "TextSource “SU01”" in msg
    assert "missing from the project" in msg


@pytest.mark.parametrize("path", ["internal://../../etc/passwd", "/etc/passwd", "C:\\Users\\ann\\SU01.txt",
                                  "file:///home/ann/SU01.txt"])
def test_source_path_outside_the_project(cast: Any, path: str) -> None:
    msg = refused(cast, qdpx(project(source(selection(0, 5), path=path)), TEXT))
    assert "points outside the project" in msg
    assert "TextSource “SU01”" in msg


@pytest.mark.parametrize("name", ["../evil.txt", "/abs.txt"])
def test_archive_member_with_an_unsafe_path(cast: Any, name: str) -> None:
    msg = refused(cast, qdpx(project(source(selection(0, 5))), {**TEXT, name: b"x"}))
    assert "unsafe path" in msg


def test_zip_bomb(cast: Any) -> None:
    msg = refused(cast, qdpx(project(source(selection(0, 5))), {**TEXT, "sources/bomb.txt": b"\0" * 30_000_000}))
    assert "zip bomb" in msg


def test_header_claiming_2_gb(cast: Any) -> None:
    data = bytearray(qdpx(project(source(selection(0, 5))), TEXT))
    # Rewrite the uncompressed size of the first central-directory entry to 2 GB.
    at = data.find(b"PK\x01\x02")
    data[at + 24:at + 28] = struct.pack("<I", 2 * 1024**3)
    msg = refused(cast, bytes(data))
    assert "too large" in msg


def test_doctype_and_entities(cast: Any) -> None:
    bomb = ('<?xml version="1.0"?><!DOCTYPE Project [<!ENTITY a "aaaaaaaaaa"><!ENTITY b "&a;&a;&a;&a;">]>'
            f'<Project {NS} name="&b;"/>')
    msg = refused(cast, qdpx(bomb))
    assert "DTD" in msg


def test_not_a_refi_project(cast: Any) -> None:
    msg = refused(cast, qdpx('<?xml version="1.0"?><html xmlns="http://www.w3.org/1999/xhtml"><body/></html>'))
    assert "not a REFI-QDA project" in msg
    assert "<html>" in msg


def test_not_xml_and_not_zip(cast: Any) -> None:
    assert "not well-formed XML" in refused(cast, qdpx("<Project"))
    assert "zip file" in refused(cast, b"plain text, not a project")


def test_nul_in_source_text(cast: Any) -> None:
    msg = refused(cast, qdpx(project(source(selection(0, 5))), {f"sources/{U}20.txt": b"Hello\x00there"}))
    assert "NUL" in msg


def test_nested_archive(cast: Any) -> None:
    inner = qdpx(project())
    msg = refused(cast, qdpx(project(source(selection(0, 5))), {**TEXT, "sources/old.qdpx": inner}))
    assert "another archive" in msg


def test_deep_nesting(cast: Any) -> None:
    deep = "".join(f'<Code guid="{U[:-2]}{i:04x}" name="c{i}" isCodable="true">' for i in range(30)) + "</Code>" * 30
    msg = refused(cast, qdpx(project(codes=deep)))
    assert "nest" in msg


def test_a_qdpx_sent_to_the_transcript_upload_points_to_the_project_import(cast: Any, clients: Any) -> None:
    from django.core.files.uploadedfile import SimpleUploadedFile

    data = qdpx(project(source(selection(0, 5))), TEXT)
    r = clients["lead"].post(f"/studies/{cast.study.pk}/transcripts/upload/",
                             {"transcript_files": SimpleUploadedFile("study.qdpx", data)})
    html = r.content.decode()
    assert r.status_code == 200
    assert "This is a project, not a transcript" in html
    assert f'href="/studies/{cast.study.pk}/project/import/"' in html
    # Renamed to .zip it is still recognised by the project document at its root.
    r = clients["lead"].post(f"/studies/{cast.study.pk}/transcripts/upload/",
                             {"transcript_files": SimpleUploadedFile("study.zip", data)})
    assert "This is a project, not a transcript" in r.content.decode()
    assert not Transcript.objects.exists()


def test_zip_members_listing_is_not_trusted(cast: Any) -> None:
    """A zip whose listing is damaged is refused as damaged, not a 500."""
    data = qdpx(project(source(selection(0, 5))), TEXT)
    broken = data[: len(data) // 2]
    msg = refused(cast, broken)
    assert "damaged" in msg or "not really a zip" in msg
    assert zipfile.is_zipfile(io.BytesIO(data))
