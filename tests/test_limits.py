"""Limits say what the limit is and what to do, in JSON for the API and on a page for the browser:
transcript size and turns, CSV columns and cells, files per upload, body size, and the import
messages a person has to act on (encodings, malformed files, a project sent to the transcript upload)."""

from __future__ import annotations

import io
import json
import zipfile
from typing import Any

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from analysis.transcripts.importers import ImportRefused, parse_transcript
from config.input_guard import format_bytes

from .factories import make_participant

pytestmark = pytest.mark.django_db


def test_sizes_read_as_the_limit_was_given() -> None:
    assert format_bytes(50 * 1024 * 1024) == "50 MiB"
    assert format_bytes(10 * 1024 * 1024) == "10 MiB"
    assert format_bytes(1536) == "1.5 KiB"


def test_transcript_caps_refuse_with_what_to_do(settings: Any) -> None:
    settings.CHORUS_MAX_TRANSCRIPT_CHARS = 1_000
    with pytest.raises(ImportRefused, match=r"too long \(1,199 characters; the limit is 1,000.*one file per interview"):
        parse_transcript(("word " * 240).encode(), filename="SU01.txt")
    settings.CHORUS_MAX_TRANSCRIPT_CHARS = 2_000_000
    settings.CHORUS_MAX_TRANSCRIPT_TURNS = 50
    turns = "".join(f"Speaker{i % 2}: line {i}\n" for i in range(60))
    with pytest.raises(ImportRefused, match=r"too many speaker turns \(60; the limit is 50\)"):
        parse_transcript(turns.encode(), filename="SU01.txt")


def test_transcript_api_create_over_the_cap_is_a_400_naming_the_limit(cast: Any, api: Any, settings: Any) -> None:
    settings.CHORUS_MAX_TRANSCRIPT_CHARS = 100
    p = make_participant(cast, "SU07")
    from participants.models import Participant

    Participant.objects.filter(pk=p.pk).update(consent_state="consented",
                                               consent_answers={"take_part": True, "transcription": True})
    r = api["lead"].post(f"/api/v1/studies/{cast.study.pk}/transcripts/", {"participant": p.pk, "text": "x " * 200},
                         format="json")
    assert r.status_code == 400
    assert "the limit is 100" in json.dumps(r.json())


def test_a_malformed_srt_is_refused_not_imported_with_its_timestamps() -> None:
    broken = "1\n00:00:01 --> 00:00:04\nInterviewer: hello\n\n2\n00:00:05,000 -> 00:00:07,000\nSU01: hi\n"
    with pytest.raises(ImportRefused, match="not in the SubRip format"):
        parse_transcript(broken.encode(), filename="SU01.srt")


def _qdpx() -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        zf.writestr("project.qde", "<Project/>")
        zf.writestr("sources/a.txt", "text")
    return buf.getvalue()


def test_a_qdpx_sent_to_the_transcript_upload_says_projects_go_elsewhere(cast: Any, api: Any) -> None:
    r = api["lead"].post(f"/api/v1/studies/{cast.study.pk}/transcripts/upload/",
                         {"files": [SimpleUploadedFile("study.qdpx", _qdpx())]}, format="multipart")
    assert r.status_code == 400, r.content
    assert "Import project page" in json.dumps(r.json())
    assert "No participant" not in json.dumps(r.json())
    with pytest.raises(ImportRefused, match="Import project page"):
        parse_transcript(_qdpx(), filename="renamed.zip")


def test_too_many_files_in_one_upload_says_the_limit_and_to_zip(cast: Any, api: Any, clients: Any,
                                                                 settings: Any) -> None:
    settings.DATA_UPLOAD_MAX_NUMBER_FILES = 3
    files = [SimpleUploadedFile(f"SU{i:02}.txt", b"Interviewer: hi\n") for i in range(5)]
    r = api["lead"].post(f"/api/v1/studies/{cast.study.pk}/transcripts/upload/", {"files": files}, format="multipart")
    assert r.status_code == 400
    assert r["Content-Type"].startswith("application/json")
    assert "at most 3" in r.json()["detail"]
    assert ".zip" in r.json()["detail"]
    files = [SimpleUploadedFile(f"SU{i:02}.txt", b"Interviewer: hi\n") for i in range(5)]
    page = clients["lead"].post(f"/studies/{cast.study.pk}/transcripts/upload/", {"transcript_files": files})
    assert page.status_code == 400
    html = page.content.decode()
    assert "at most 3" in html
    assert ".zip" in html


def test_an_oversized_json_body_says_the_limit(cast: Any, api: Any, settings: Any) -> None:
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 1024 * 1024
    raw = json.dumps({"title": "x" * (2 * 1024 * 1024)}).encode()
    r = api["lead"].generic("POST", f"/api/v1/studies/{cast.study.pk}/memos/", raw, content_type="application/json")
    assert r.status_code == 413
    assert "1 MiB" in r.json()["detail"]


def test_a_very_long_file_name_is_a_clear_answer(cast: Any, api: Any) -> None:
    name = "S" * 1000 + ".txt"
    r = api["lead"].post(f"/api/v1/studies/{cast.study.pk}/transcripts/upload/",
                         {"files": [SimpleUploadedFile(name, b"Interviewer: hi\n")]}, format="multipart")
    assert r.status_code in (201, 400), r.content
    assert r["Content-Type"].startswith("application/json")
    body = json.dumps(r.json())
    assert "Bad Request" not in body
    if r.status_code == 400:
        assert "name" in body


# CSV imports -------------------------------------------------------------------------------------


def _import(api: Any, cast: Any, content: bytes, **extra: Any) -> Any:
    return api["admin"].post(f"/api/v1/studies/{cast.study.pk}/imports/participants/",
                             {"file": SimpleUploadedFile("people.csv", content), **extra}, format="multipart")


def test_csv_with_too_many_columns_is_refused_with_the_limit(cast: Any, api: Any, settings: Any) -> None:
    header = "participant_id,group," + ",".join(f"extra{i}" for i in range(120))
    r = _import(api, cast, f"{header}\nSU01,service_user{',x' * 120}\n".encode())
    assert r.status_code == 400
    assert "at most 100" in json.dumps(r.json())
    settings.CHORUS_IMPORT_MAX_CELLS = 30
    rows = "".join(f"SU{i:02},service_user,a\n" for i in range(20))
    r = _import(api, cast, f"participant_id,group,age_band\n{rows}".encode())
    assert r.status_code == 400
    assert "30 cells" in json.dumps(r.json())


def test_csv_with_a_utf8_marker_and_a_latin1_body_finds_its_header(cast: Any, api: Any) -> None:
    content = b"\xef\xbb\xbfparticipant_id,group,town\nSU01,service_user,Z\xfcrich\n"
    r = _import(api, cast, content)
    assert r.status_code == 200, r.content
    body = r.json()
    assert body["create"] == 1
    assert "participant_id" not in json.dumps(body.get("errors", []))


def test_csv_field_larger_than_the_limit_says_what_to_check(cast: Any, api: Any) -> None:
    content = b'participant_id,group,notes\nSU01,service_user,"' + b"x" * 200_000 + b"\n"
    r = _import(api, cast, content)
    assert r.status_code == 400
    text = json.dumps(r.json())
    assert "field limit" not in text
    assert "quote mark" in text


def test_nothing_to_import_says_when_rows_have_errors(cast: Any, api: Any) -> None:
    make_participant(cast, "SU01")
    content = b"participant_id,group\nSU01,service_user\nSU02,no_such_group\n"
    r = _import(api, cast, content, commit="true", import_valid_rows="true")
    assert r.status_code == 400
    blocked = r.json()["blocked"]
    assert "1 row(s) have errors" in blocked


@pytest.mark.parametrize(
    ("xml", "says"),
    [
        (b'<?xml version="1.0"?><CodeBook xmlns="urn:QDA-XML:codebook:1.0">' + b"<a>" * 300 + b"</a>" * 300
         + b"</CodeBook>", "more than 256 levels deep"),
        (b'<?xml version="1.0"?><CodeBook xmlns="urn:QDA-XML:codebook:1.0"><Codes>&#0;</Codes></CodeBook>',
         "character that XML does not allow"),
        (b'<?xml version="1.0"?><CodeBook><Codes></CodeBook>', "not well-formed XML: the problem is at line 1"),
    ],
)
def test_codebook_xml_problems_are_told_in_plain_words(xml: bytes, says: str) -> None:
    from interop.qdc import ImportFileError, qdc_parse

    with pytest.raises(ImportFileError) as caught:
        qdc_parse(xml)
    assert says in str(caught.value)
    for jargon in ("XML_PARSE_HUGE", "xmlParseCharRef", "xmlChar"):
        assert jargon not in str(caught.value)


def test_a_huge_number_in_a_csv_attribute_is_a_row_error_not_a_python_message(cast: Any, api: Any) -> None:
    content = f"participant_id,group,household_size\nSU01,service_user,{'9' * 5000}\n".encode()
    r = _import(api, cast, content)
    assert r.status_code == 200
    assert "set_int_max_str_digits" not in json.dumps(r.json())
    from participants.values import ValueProblem, parse_number

    with pytest.raises(ValueProblem, match="too large a number"):
        parse_number("9" * 5000)
    assert parse_number("9223372036854775807") == 2**63 - 1


def test_a_broken_multipart_upload_is_explained(cast: Any, api: Any, clients: Any) -> None:
    body = b"--xyz\r\nContent-Disposition: form-data; name=\"files\"; filename=\"SU01.txt\"\r\n\r\nhello"  # no boundary
    r = api["lead"].generic("POST", f"/api/v1/studies/{cast.study.pk}/transcripts/upload/", body,
                            content_type="multipart/form-data; boundary=")
    assert r.status_code == 400
    assert "could not be read" in r.json()["detail"]
    assert "Multipart form parse error" not in r.content.decode()
    page = clients["lead"].generic("POST", f"/studies/{cast.study.pk}/transcripts/upload/", body,
                                   content_type="multipart/form-data; boundary=")
    assert page.status_code == 400
    assert "could not be read" in page.content.decode()


def test_a_transcript_larger_than_the_caps_comes_from_the_api_in_parts(cast: Any, api: Any, settings: Any) -> None:
    """A transcript imported before the caps existed is not sent whole: each part holds at most the caps."""
    from tests.factories import add_transcript, participant_row

    p = participant_row(cast, "SU08", "service_user", cast.north)
    text = "".join(f"{'Interviewer' if i % 2 else 'SU08'}: answer number {i} 👍\n" for i in range(30))
    t = add_transcript(cast, p, text)
    whole = api["coder"].get(f"/api/v1/studies/{cast.study.pk}/transcripts/{t.pk}/").json()
    assert whole["next"] is None
    assert whole["turns_total"] == len(whole["turns"]) == 30
    settings.CHORUS_MAX_TRANSCRIPT_TURNS = 7
    settings.CHORUS_MAX_TRANSCRIPT_CHARS = 200
    url, text_parts, turns = f"/api/v1/studies/{cast.study.pk}/transcripts/{t.pk}/", [], []
    while url:
        part = api["coder"].get(url).json()
        assert len(part["text"]) <= 200
        assert len(part["turns"]) <= 7
        assert part["turns_total"] == 30  # the whole transcript's, in every part
        assert part["text_start"] == sum(len(x) for x in text_parts)
        text_parts.append(part["text"])
        turns.extend(part["turns"])
        url = part["next"]
    assert "".join(text_parts) == whole["text"]
    assert turns == whole["turns"]
