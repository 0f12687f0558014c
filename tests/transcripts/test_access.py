"""Role × scope for every page and endpoint of transcripts: admin, lead, coder, coder_other_site
(South only), ppi, outsider, anonymous. Out of scope is 404; a role without the permission is 403."""

from __future__ import annotations

from typing import Any

import pytest

from accounts.models import AuditEvent
from analysis.transcripts.models import Transcript
from tests.helpers import ppi_expect

ROLES = ["admin", "lead", "coder", "coder_other_site", "ppi", "outsider", "anonymous"]


def _expect(role: str, ok: int, *, allowed: set[str], out_of_scope: bool = False) -> int:
    if role == "anonymous":
        return 302
    if role == "outsider":
        return 404
    if role not in allowed:
        return 403
    if out_of_scope and role == "coder_other_site":
        return 404
    return ok


VIEWERS = {"admin", "lead", "coder", "coder_other_site"}
UPLOADERS = {"admin", "lead"}
EDITORS = {"lead"}


@pytest.mark.parametrize("role", ROLES)
def test_pages(role: str, clients: Any, cast: Any, t_north: Transcript, t_south: Transcript) -> None:
    c, sid = clients[role], cast.study.pk
    n, s = t_north.pk, t_south.pk
    get = {
        f"/studies/{sid}/transcripts/": _expect(role, 200, allowed=VIEWERS),
        f"/studies/{sid}/search/?q=phone": _expect(role, 200, allowed=VIEWERS),
        f"/studies/{sid}/transcripts/{n}/": _expect(role, 200, allowed=VIEWERS, out_of_scope=True),
        f"/studies/{sid}/transcripts/{s}/": _expect(role, 200, allowed=VIEWERS),
        f"/studies/{sid}/transcripts/{n}/history/": _expect(role, 200, allowed=VIEWERS, out_of_scope=True),
        f"/studies/{sid}/transcripts/upload/": _expect(role, 200, allowed=UPLOADERS),
        f"/studies/{sid}/transcripts/{n}/replace-all/": _expect(role, 200, allowed=EDITORS),
        f"/studies/{sid}/transcripts/{n}/original/": _expect(role, 200, allowed={"admin"}),
    }
    for url, expected in get.items():
        r = c.get(url)
        assert r.status_code == ppi_expect(role, expected, url), (url, role, r.status_code)
    if role in {"coder", "coder_other_site", "lead", "admin"}:
        r = c.get(f"/studies/{sid}/transcripts/")
        body = r.content.decode()
        assert ("SU01" in body) == (role != "coder_other_site")
        assert "ST01" in body


@pytest.mark.parametrize("role", ROLES)
def test_edit_pages_post(role: str, clients: Any, cast: Any, t_north: Transcript) -> None:
    c, sid, tid = clients[role], cast.study.pk, t_north.pk
    start = t_north.text.index("John")
    r = c.post(f"/studies/{sid}/transcripts/{tid}/replace/",
               {"start": start, "end": start + 4, "expected": "John", "version": 1, "replacement": "[NAME]"})
    expected = {"lead": 302, "anonymous": 302, "outsider": 404}.get(role, 403)
    assert r.status_code == ppi_expect(role, expected, f"/studies/{sid}/transcripts/{tid}/replace/")
    t_north.refresh_from_db()
    assert ("[NAME]" in t_north.text) == (role == "lead")


@pytest.mark.parametrize("role", ROLES)
def test_api(role: str, api: Any, cast: Any, t_north: Transcript, t_south: Transcript) -> None:
    c, sid, n, s = api[role], cast.study.pk, t_north.pk, t_south.pk
    anon = 401 if role == "anonymous" else None  # no credentials: 401 with a Token challenge

    def exp(ok: int, allowed: set[str], scoped: bool = False) -> int:
        if anon:
            return anon
        return _expect(role, ok, allowed=allowed, out_of_scope=scoped)

    base = f"/api/v1/studies/{sid}"
    checks = [
        ("get", f"{base}/transcripts/", exp(200, VIEWERS)),
        ("get", f"{base}/transcripts/{n}/", exp(200, VIEWERS, True)),
        ("get", f"{base}/transcripts/{s}/", exp(200, VIEWERS)),
        ("get", f"{base}/transcripts/{n}/edits/", exp(200, VIEWERS, True)),
        ("get", f"{base}/search/?q=phone", exp(200, VIEWERS)),
    ]
    for method, url, expected in checks:
        r = getattr(c, method)(url)
        assert r.status_code == ppi_expect(role, expected, url), (url, role, r.status_code, getattr(r, "data", None))
    r = c.post(f"{base}/transcripts/{n}/edits/", {"kind": "replace_all", "find": "John", "replacement": "[NAME]",
                                                  "base_version": 1}, format="json")
    assert r.status_code == ppi_expect(role, anon or {"lead": 201, "outsider": 404}.get(role, 403),
                                       f"{base}/transcripts/{n}/edits/")


def test_api_list_scope_and_detail_content(api: Any, cast: Any, t_north: Transcript, t_south: Transcript) -> None:
    base = f"/api/v1/studies/{cast.study.pk}"
    r = api["coder_other_site"].get(f"{base}/transcripts/")
    assert [x["pseudonym"] for x in r.data["results"]] == ["ST01"]
    r = api["coder"].get(f"{base}/transcripts/{t_north.pk}/")
    assert r.data["text"] == t_north.text
    assert r.data["length"] == len(t_north.text)
    assert r.data["original_sha256"] is None
    turn = r.data["turns"][2]
    assert r.data["text"][turn["start"]:turn["end"]].startswith("My care coordinator")
    assert AuditEvent.objects.filter(action="transcript.read", actor=cast.users["coder"],
                                     details__via="api").exists()
    assert api["admin"].get(f"{base}/transcripts/{t_north.pk}/").data["original_sha256"] == t_north.original_sha256


def test_api_search_scope_filters_and_audit(api: Any, cast: Any, t_north: Transcript, t_south: Transcript) -> None:
    base = f"/api/v1/studies/{cast.study.pk}/search/"
    r = api["coder"].get(base, {"q": "phone"})
    assert {h["pseudonym"] for h in r.data["results"]} == {"SU01", "ST01"}
    r = api["coder_other_site"].get(base, {"q": "phone"})
    assert {h["pseudonym"] for h in r.data["results"]} == {"ST01"}
    r = api["coder"].get(base, {"q": "phone", "group": cast.group("staff").pk})
    assert {h["pseudonym"] for h in r.data["results"]} == {"ST01"}
    r = api["coder"].get(base, {"q": "appointments", "role": "participant"})
    assert r.data["total"] == 0
    r = api["coder"].get(base, {"q": "appointments", "role": "interviewer"})
    assert r.data["total"] == 1
    hit = r.data["results"][0]
    assert t_north.text[hit["start"]:hit["end"]] == hit["match"] == "appointments"
    assert api["coder"].get(base, {"q": "x", "role": "boss"}).status_code == 400
    assert api["coder"].get(base, {"q": "x", "group": "abc"}).status_code == 400
    ev = AuditEvent.objects.filter(action="transcript.search", actor=cast.users["coder"]).first()
    assert ev is not None
    assert ev.details["query_words"] == 1
    assert "appointments" not in str(ev.details)  # the words searched for never reach the audit trail


def test_search_hit_offsets_with_emoji(api: Any, cast: Any, t_north: Transcript) -> None:
    r = api["lead"].get(f"/api/v1/studies/{cast.study.pk}/search/", {"q": "café"})
    hit = r.data["results"][0]
    assert t_north.text[hit["start"]:hit["end"]].lower() == "café"


def test_api_create_upload_and_import(api: Any, cast: Any, su01: Any, st01: Any, run_jobs: Any) -> None:
    base = f"/api/v1/studies/{cast.study.pk}"
    r = api["lead"].post(f"{base}/transcripts/", {"participant": su01.pk, "text": "Interviewer: Hi\nSU01: Hello 👍"},
                         format="json")
    assert r.status_code == 201, r.data
    assert r.data["turns"][1]["role"] == "participant"
    r = api["coder"].post(f"{base}/transcripts/", {"participant": su01.pk, "text": "x"}, format="json")
    assert r.status_code == 403
    from django.core.files.uploadedfile import SimpleUploadedFile

    files = [SimpleUploadedFile("ST01.txt", b"Interviewer: a\nST01: b"), SimpleUploadedFile("ZZ.txt", b"x")]
    r = api["lead"].post(f"{base}/transcripts/upload/", {"files": files}, format="multipart")
    assert r.status_code == 201, r.data
    assert [i["status"] for i in r.data["items"]] == ["ready", "refused"]
    bid = r.data["id"]
    assert api["admin"].get(f"{base}/transcript-imports/{bid}/").status_code == 404  # private to its creator
    r = api["lead"].post(f"{base}/transcript-imports/{bid}/confirm/")
    assert r.status_code == 202
    job = run_jobs(r.data["job"])
    assert job.status == "done"
    assert api["lead"].get(f"/api/v1/studies/{cast.study.pk}/jobs/{job.pk}/").data["result"]["imported"] == 1
    assert api["lead"].post(f"{base}/transcript-imports/{bid}/confirm/").status_code == 400


def test_api_edit_conflict_and_history_visibility(api: Any, cast: Any, t_north: Transcript) -> None:
    url = f"/api/v1/studies/{cast.study.pk}/transcripts/{t_north.pk}/edits/"
    start = t_north.text.index("John Smith")
    body = {"kind": "replace", "start": start, "end": start + 10, "expected": "John Smith", "replacement": "[NAME]",
            "base_version": 1}
    assert api["lead"].post(url, body, format="json").status_code == 201
    assert api["lead"].post(url, body, format="json").status_code == 409
    coder_view = api["coder"].get(url).data
    assert "old" not in coder_view[0]["ops"][0]  # the redacted words are not shown to coders
    assert api["lead"].get(url).data[0]["ops"][0]["old"] == "John Smith"
    edit_id = coder_view[0]["id"]
    r = api["lead"].post(f"{url}{edit_id}/revert/", {"base_version": 2}, format="json")
    assert r.status_code == 201
    t_north.refresh_from_db()
    assert "John Smith" in t_north.text
    assert t_north.version == 3


def test_consent_hides_transcripts(clients: Any, cast: Any, t_north: Transcript, su01: Any) -> None:
    su01.consent_state = "withdrawn_delete"
    su01.save()
    assert clients["lead"].get(f"/studies/{cast.study.pk}/transcripts/{t_north.pk}/").status_code == 404


def test_upload_page_preview_and_confirm(clients: Any, cast: Any, su01: Any, run_jobs: Any) -> None:
    from django.core.files.uploadedfile import SimpleUploadedFile

    c = clients["lead"]
    r = c.post(f"/studies/{cast.study.pk}/transcripts/upload/",
               {"transcript_files": [SimpleUploadedFile("SU01.txt", b"Interviewer: a\nSU01: b"),
                                     SimpleUploadedFile("nobody.txt", b"x")]})
    assert r.status_code == 302
    page = c.get(r["Location"])
    body = page.content.decode()
    assert "1 file ready to import" in body
    assert "No participant in this study matches" in body
    r = c.post(r["Location"] + "confirm/")
    assert r.status_code == 302
    from analysis.transcripts.models import TranscriptImport

    job = run_jobs(TranscriptImport.objects.get().job_id)
    assert job.status == "done"
    assert "1 transcript imported" in c.get(r["Location"]).content.decode()


def test_upload_too_large_refused_early(clients: Any, cast: Any, settings: Any) -> None:
    settings.CHORUS_MAX_UPLOAD_BYTES = 10
    r = clients["lead"].post(f"/studies/{cast.study.pk}/transcripts/upload/", {"x": "y" * 100})
    assert r.status_code == 302
    assert "too large" in clients["lead"].get(r["Location"]).content.decode()


def test_reading_view_pages_jump_and_audit(clients: Any, cast: Any, su01: Any) -> None:
    from analysis.transcripts import selectors
    from tests.factories import add_transcript

    lines = ["Interview SU01"] + [f"Interviewer: Question {i}?\nSU01: Answer {i} about the phone 👍." for i in range(400)]
    t = add_transcript(cast, su01, "\n".join(lines))
    assert selectors.page_bounds(t).__len__() > 5
    at = t.text.index("Answer 350")
    r = clients["coder"].get(f"/studies/{cast.study.pk}/transcripts/{t.pk}/?at={at}&len=10&from=search")
    body = r.content.decode()
    assert '<mark id="hit" tabindex="-1">Answer 350</mark>' in body
    # Issue 11: the whole interview on one page, so the browser's find reaches every answer.
    assert "Part " not in body
    assert "Answer 0 about" in body
    assert "Answer 399 about" in body
    ev = AuditEvent.objects.filter(action="transcript.read", actor=cast.users["coder"]).first()
    assert ev is not None
    assert ev.details["via"] == "search"
    assert ev.details["at"] == at
    # Line numbers count lines of the normalised text.
    line = t.text.count("\n", 0, at) + 1
    assert f'<span class="ln" aria-hidden="true">{line}</span><span class="words" data-start="{at}">' in body


def test_replace_all_page_preview_then_confirm(clients: Any, cast: Any, t_north: Transcript) -> None:
    url = f"/studies/{cast.study.pk}/transcripts/{t_north.pk}/replace-all/"
    c = clients["lead"]
    r = c.post(url, {"find": "John", "replacement": "[NAME]", "whole_word": "on", "version": 1})
    assert "1 place</strong> will change" in r.content.decode()
    t_north.refresh_from_db()
    assert t_north.version == 1
    r = c.post(url, {"find": "John", "replacement": "[NAME]", "whole_word": "on", "version": 1, "confirm": "1"})
    assert r.status_code == 302
    t_north.refresh_from_db()
    assert "[NAME] Smith" in t_north.text
    hist = c.get(f"/studies/{cast.study.pk}/transcripts/{t_north.pk}/history/").content.decode()
    assert "Revert" in hist
    assert "<del>John</del>" in hist
    coder_hist = clients["coder"].get(f"/studies/{cast.study.pk}/transcripts/{t_north.pk}/history/").content.decode()
    assert "<del>John</del>" not in coder_hist
    assert "Revert" not in coder_hist


def test_original_download_is_audited(clients: Any, cast: Any, t_north: Transcript) -> None:
    r = clients["admin"].get(f"/studies/{cast.study.pk}/transcripts/{t_north.pk}/original/")
    assert r.status_code == 200
    assert b"".join(r.streaming_content).decode().startswith("Interview SU01")
    assert AuditEvent.objects.filter(action="transcript.read", details__via="original_download").exists()


def test_nav_links(clients: Any, cast: Any) -> None:
    body = clients["coder"].get(f"/studies/{cast.study.pk}/").content.decode()
    assert f"/studies/{cast.study.pk}/transcripts/" in body
    assert f"/studies/{cast.study.pk}/search/" in body
    assert f"/studies/{cast.study.pk}/search/" not in clients["ppi"].get(f"/studies/{cast.study.pk}/").content.decode()


def test_history_shows_line_numbers_of_the_text_each_edit_changed(clients: Any, cast: Any, t_north: Transcript) -> None:
    """The history names the line a change was made on, in the text as it was then: a later edit that
    adds lines above it does not move an older change's line. Never an offset."""
    from analysis.transcripts.services import redaction

    lead = cast.users["lead"]
    text = t_north.text
    at = text.index("John")
    line_then = text.count("\n", 0, at) + 1
    redaction.transcript_replace(actor=lead, study_id=cast.study.pk, transcript_id=t_north.pk, start=at,
                                 end=at + 4, expected="John", replacement="[NAME]", base_version=1)
    t_north.refresh_from_db()
    first = t_north.text.index("\n")  # the newer edit puts two lines above the older one
    redaction.transcript_replace(actor=lead, study_id=cast.study.pk, transcript_id=t_north.pk, start=first,
                                 end=first + 1, expected="\n", replacement="\nA\nB\n", base_version=2)
    hist = clients["lead"].get(f"/studies/{cast.study.pk}/transcripts/{t_north.pk}/history/").content.decode()
    assert f"Line {line_then}: <del>John</del>" in hist
    assert "Line 1: <del>" in hist
    assert f"at {at}" not in hist
