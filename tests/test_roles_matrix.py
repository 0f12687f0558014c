"""Every page and API endpoint of accounts/, jobs/, themes and interop (plus the API schema and docs)
× every cast role, and the guard that every URL of every app is in some matrix.

The table below is the access contract. Each row is one URL and one HTTP method with the status
each role must get, in this column order:

    admin  lead  coder  coder_other_site  ppi  outsider  anonymous

* outsider (signed in, member of another study only) gets 404 on anything under the study: the
  study's existence is never confirmed.
* a member whose role lacks the permission gets 403.
* anonymous gets a redirect to the sign-in page on pages (LOGIN) and a 401 JSON answer on the
  API (UNAUTH).
* 405 on a POST-only page is answered to members; a signed-in outsider gets 404 before anything
  else is looked at (accounts.middleware.StudyMembershipMiddleware), the method included.

Every denied request must also write nothing (no row changed, no audit event). One test per row runs
all seven roles against one cast and reports every role that differs from the table, e.g.

    GET /studies/1/:
      outsider          expected 404, got 403: ...

The machinery lives in tests/roles.py; the other apps' rows in tests/<app>/test_roles_matrix.py. The
guard tests at the bottom collect the rows of every matrix module and fail when any URL the project
routes has no row, or when a class-based view implements a method no row covers: new endpoints must be
added to a matrix.
"""

from __future__ import annotations

import importlib
from pathlib import Path
from typing import Any

import pytest
from django.urls import get_resolver
from rest_framework.views import APIView

from jobs.models import Job, JobStatus
from jobs.services import job_attach_file

from .roles import (
    ADMIN_API,
    ADMIN_LEAD_API,
    ADMIN_LEAD_PAGE,
    ADMIN_PAGE,
    ADMIN_WRITE_PAGE,
    ANY_USER_API,
    ANY_USER_PAGE,
    EVERYONE_200,
    LEAD_PAGE,
    LEAD_WRITE_PAGE,
    LOGIN,
    MEMBERS_API,
    MEMBERS_PAGE,
    POST_ONLY_GET,
    UNAUTH,
    Row,
    admin_only,
    check_well_formed,
    lead_only,
    row_ids,
    run_row,
    view_class,
    walk,
)

# Jobs are private to who started them (admin here): other members with job.view get 404, ppi lacks it.
OWN_JOB_PAGE = (200, 404, 404, 404, 403, 404, LOGIN)
OWN_JOB_API = (200, 404, 404, 404, 403, 404, UNAUTH)
# The admin's job has finished: Cancel and Retry tell them so (a message and back to the job page,
# a 400 from the API); nobody else learns it exists.
OWN_JOB_WRITE = (302, 404, 404, 404, 403, 404, LOGIN)
JOB_LIST_PAGE = (200, 200, 200, 200, 403, 404, LOGIN)
OWN_JOB_WRITE_API = (400, 404, 404, 404, 403, 404, UNAUTH)
JOB_LIST_API = (200, 200, 200, 200, 403, 404, UNAUTH)

S = "/studies/{study}"
A = "/api/v1/studies/{study}"

MATRIX: list[Row] = [
    # Account pages ---------------------------------------------------------------------------
    #                                                                    admin lead coder c_o_s ppi outs anon
    Row("home", "GET", "/", (302, 302, 302, 302, 302, 302, LOGIN)),
    # Violation reports come from browsers without credentials: open to all, junk refused with 400
    # (valid reports: tests/test_security_headers.py).
    Row("csp-report", "GET", "/csp-report/", (405,) * 7),
    Row("csp-report", "POST", "/csp-report/", (400,) * 7, {"csp-report": "not a report"}),
    Row("login", "GET", "/accounts/login/", (302, 302, 302, 302, 302, 302, 200)),
    Row("login", "POST", "/accounts/login/", (302, 302, 302, 302, 302, 302, 200),
        {"username": "nobody@example.org", "password": "wrong"}),
    Row("logout", "GET", "/accounts/logout/", (405, 405, 405, 405, 405, 405, 405)),
    Row("logout", "POST", "/accounts/logout/", (302, 302, 302, 302, 302, 302, 302)),
    Row("account", "GET", "/accounts/", ANY_USER_PAGE),
    Row("account", "POST", "/accounts/", ANY_USER_PAGE, {"action": "create"}),
    Row("password_change", "GET", "/accounts/password/", ANY_USER_PAGE),
    Row("password_change", "POST", "/accounts/password/", ANY_USER_PAGE, {"old_password": "x"}),
    Row("password_change_done", "GET", "/accounts/password/done/", ANY_USER_PAGE),
    Row("password_reset", "GET", "/accounts/reset/", EVERYONE_200),
    Row("password_reset", "POST", "/accounts/reset/", (302,) * 7, {"email": "nobody@example.org"}),
    Row("password_reset_done", "GET", "/accounts/reset/sent/", EVERYONE_200),
    Row("password_reset_confirm", "GET", "/accounts/reset/{uid}/bad-token/", EVERYONE_200),
    Row("password_reset_confirm", "POST", "/accounts/reset/{uid}/bad-token/", EVERYONE_200,
        {"new_password1": "x", "new_password2": "x"}),
    Row("password_reset_complete", "GET", "/accounts/reset/done/", EVERYONE_200),
    # Studies ---------------------------------------------------------------------------------
    Row("study-list", "GET", "/studies/", ANY_USER_PAGE),
    Row("study-create", "GET", "/studies/new/", ANY_USER_PAGE),
    Row("study-create", "POST", "/studies/new/", (302, 302, 302, 302, 302, 302, LOGIN), {"name": "A new study"}),
    Row("study-detail", "GET", S + "/", MEMBERS_PAGE),
    Row("study-settings", "GET", S + "/settings/", ADMIN_PAGE),
    Row("study-settings", "POST", S + "/settings/", ADMIN_WRITE_PAGE, {"name": "Renamed"}),
    # Sites -----------------------------------------------------------------------------------
    Row("site-create", "GET", S + "/sites/new/", POST_ONLY_GET),
    Row("site-create", "POST", S + "/sites/new/", ADMIN_WRITE_PAGE, {"name": "East Trust"}),
    Row("site-update", "GET", S + "/sites/{north}/edit/", POST_ONLY_GET),
    Row("site-update", "POST", S + "/sites/{north}/edit/", ADMIN_WRITE_PAGE, {"name": "North Renamed"}),
    Row("site-delete", "GET", S + "/sites/{north}/delete/", POST_ONLY_GET),
    Row("site-delete", "POST", S + "/sites/{north}/delete/", ADMIN_WRITE_PAGE),
    # Members ---------------------------------------------------------------------------------
    Row("member-list", "GET", S + "/members/", ADMIN_LEAD_PAGE),
    Row("member-list", "POST", S + "/members/", ADMIN_WRITE_PAGE, {"email": "new@example.org", "role": "coder"}),
    Row("member-edit", "GET", S + "/members/{coder_membership}/", ADMIN_PAGE),
    Row("member-edit", "POST", S + "/members/{coder_membership}/", ADMIN_WRITE_PAGE, {"role": "lead"}),
    Row("member-remove", "GET", S + "/members/{coder_membership}/remove/", POST_ONLY_GET),
    Row("member-remove", "POST", S + "/members/{coder_membership}/remove/", ADMIN_WRITE_PAGE),
    # Audit and jobs --------------------------------------------------------------------------
    Row("audit-log", "GET", S + "/audit/", ADMIN_PAGE),
    Row("audit-export", "GET", S + "/audit/export/", POST_ONLY_GET),
    Row("audit-export", "POST", S + "/audit/export/", ADMIN_WRITE_PAGE),
    Row("job-detail", "GET", S + "/jobs/{job}/", OWN_JOB_PAGE),
    Row("job-download", "GET", S + "/jobs/{job}/download/", OWN_JOB_PAGE),
    # The lead's own agreement report as CSV/XLSX: roles without agreement.view 403, other readers 404.
    Row("agreement-report-download", "GET", S + "/double-coding/reports/{agreement_job}/agreement.csv",
        (404, 200, 403, 403, 403, 404, LOGIN)),
    # REFI-QDA projects (interop): a lead's; the import is private to the lead who uploaded it ---
    Row("project-import", "GET", S + "/project/import/", LEAD_PAGE),
    Row("project-import", "POST", S + "/project/import/", LEAD_PAGE),
    Row("project-import-detail", "GET", S + "/project/import/{import}/", LEAD_PAGE),
    Row("project-import-detail", "POST", S + "/project/import/{import}/", LEAD_WRITE_PAGE),
    Row("project-import-start", "GET", S + "/project/import/{import}/start/", POST_ONLY_GET),
    Row("project-import-start", "POST", S + "/project/import/{import}/start/", LEAD_WRITE_PAGE),
    Row("project-import-cancel", "GET", S + "/project/import/{import}/cancel/", POST_ONLY_GET),
    Row("project-import-cancel", "POST", S + "/project/import/{import}/cancel/", LEAD_WRITE_PAGE),
    Row("project-export", "GET", S + "/project/export/", LEAD_PAGE),
    Row("project-export", "POST", S + "/project/export/", LEAD_WRITE_PAGE),
    Row("api-project-import-list", "POST", A + "/project-imports/", lead_only(400)),
    # Into a new study (anyone signed in may make a study): without a file, a 400 naming it, no study made.
    Row("api-project-import-new-study", "POST", "/api/v1/project-imports/", (400,) * 6 + (UNAUTH,), {}, files={}),
    Row("api-project-import-detail", "GET", A + "/project-imports/{import}/", lead_only(200)),
    Row("api-project-import-detail", "PATCH", A + "/project-imports/{import}/", lead_only(200), {}),
    Row("api-project-import-start", "POST", A + "/project-imports/{import}/start/", lead_only(202)),
    Row("api-project-import-cancel", "POST", A + "/project-imports/{import}/cancel/", lead_only(204)),
    Row("api-project-export-preview", "POST", A + "/project-exports/preview/", lead_only(200), {}),
    Row("api-project-export", "POST", A + "/project-exports/", lead_only(202), {}),
    Row("job-list", "GET", S + "/jobs/", JOB_LIST_PAGE),
    Row("job-cancel", "GET", S + "/jobs/{job}/cancel/", POST_ONLY_GET),
    Row("job-cancel", "POST", S + "/jobs/{job}/cancel/", OWN_JOB_WRITE),
    Row("job-retry", "GET", S + "/jobs/{job}/retry/", POST_ONLY_GET),
    Row("job-retry", "POST", S + "/jobs/{job}/retry/", OWN_JOB_WRITE),
    # API -------------------------------------------------------------------------------------
    Row("api-me", "GET", "/api/v1/me/", ANY_USER_API),
    Row("api-study-list", "GET", "/api/v1/studies/", ANY_USER_API),
    Row("api-study-list", "POST", "/api/v1/studies/", (201, 201, 201, 201, 201, 201, UNAUTH), {"name": "API study"}),
    Row("api-study-detail", "GET", A + "/", MEMBERS_API),
    Row("api-study-detail", "PATCH", A + "/", ADMIN_API, {"name": "Renamed"}),
    Row("api-site-list", "GET", A + "/sites/", MEMBERS_API),
    Row("api-site-list", "POST", A + "/sites/", admin_only(201), {"name": "East Trust"}),
    # Sites are study structure, not participant data: a site-scoped coder still sees every site.
    Row("api-site-detail", "GET", A + "/sites/{north}/", MEMBERS_API),
    Row("api-site-detail", "PATCH", A + "/sites/{north}/", ADMIN_API, {"name": "North Renamed"}),
    Row("api-site-detail", "DELETE", A + "/sites/{north}/", admin_only(204)),
    Row("api-group-list", "GET", A + "/groups/", MEMBERS_API),
    Row("api-member-list", "GET", A + "/members/", ADMIN_LEAD_API),
    Row("api-member-list", "POST", A + "/members/", admin_only(201), {"email": "new@example.org", "role": "coder"}),
    Row("api-member-detail", "GET", A + "/members/{coder_membership}/", ADMIN_LEAD_API),
    Row("api-member-detail", "PATCH", A + "/members/{coder_membership}/", ADMIN_API, {"role": "lead"}),
    Row("api-member-detail", "DELETE", A + "/members/{coder_membership}/", admin_only(204)),
    Row("api-audit-list", "GET", A + "/audit-events/", ADMIN_API),
    Row("api-audit-export", "POST", A + "/audit-events/export/", admin_only(202), {"action": "auth"}),
    Row("api-job-detail", "GET", A + "/jobs/{job}/", OWN_JOB_API),
    Row("api-job-download", "GET", A + "/jobs/{job}/download/", OWN_JOB_API),
    Row("api-agreement-report-download", "GET", A + "/agreement/report/{agreement_job}/agreement.xlsx",
        (404, 200, 403, 403, 403, 404, UNAUTH)),
    # New code from the coding page. The same name each time: after the first role that may (the
    # scoped coder, run first) the name is taken, so the later ones get a clear 400, writing nothing.
    Row("api-code-propose", "POST", A + "/codes/propose/", (403, 400, 400, 201, 403, 404, UNAUTH),
        {"name": "Waiting for a call back"}),
    # Retrieval and export of coded material (analysis.coding) ------------------------------
    # (transcript-list, codebook, code-segments and their API: in tests/transcripts and tests/coding)
    Row("coding-export", "GET", S + "/exports/codings/", (200, 200, 200, 200, 403, 404, LOGIN)),
    Row("coding-export", "POST", S + "/exports/codings/", (302, 302, 302, 302, 403, 404, LOGIN), {"format": "csv"}),
    Row("api-coding-export", "POST", A + "/exports/codings/", (202, 202, 202, 202, 403, 404, UNAUTH),
        {"format": "xlsx"}),
    Row("api-job-list", "GET", A + "/jobs/", JOB_LIST_API),
    Row("api-job-cancel", "POST", A + "/jobs/{job}/cancel/", OWN_JOB_WRITE_API),
    Row("api-job-retry", "POST", A + "/jobs/{job}/retry/", OWN_JOB_WRITE_API),
    # Schema and docs are public: they describe the API, not any study's data.
    Row("api-schema", "GET", "/api/v1/schema/", EVERYONE_200),
    Row("api-docs", "GET", "/api/v1/docs/", EVERYONE_200),
    # Redoc cannot run under the Content-Security-Policy: its address leads to Swagger UI.
    Row("api-redoc", "GET", "/api/v1/redoc/", (302,) * 7),
]

# Themes and the PPI board ------------------------------------------------------------------------
# The theme is on the board; its segment and quote come from SU01 (North Trust), so coder_other_site
# (South only) sees the theme but not that quote. PPI members read the board and comment; asking for
# a theme's team page by id they get 404 (policy.denial_hides_object). {comment} is the PPI member's.
#                      admin lead coder c_o_s ppi  outsider anonymous
TEAM_PAGE = (200, 200, 200, 200, 403, 404, LOGIN)
TEAM_OBJECT_PAGE = (200, 200, 200, 200, 404, 404, LOGIN)
LEAD_OBJECT_PAGE = (403, 200, 403, 403, 404, 404, LOGIN)
LEAD_OBJECT_WRITE = (403, 302, 403, 403, 404, 404, LOGIN)
EVERY_MEMBER_PAGE = (200, 200, 200, 200, 200, 404, LOGIN)
EVERY_MEMBER_WRITE = (302, 302, 302, 302, 302, 404, LOGIN)
TEAM_OBJECT_API = (200, 200, 200, 200, 404, 404, UNAUTH)
LEAD_OBJECT_API = (403, 200, 403, 403, 404, 404, UNAUTH)
EVERY_MEMBER_API = (200, 200, 200, 200, 200, 404, UNAUTH)
T = S + "/themes/{theme}"
B = S + "/board"
AT = A + "/themes/{theme}"

MATRIX += [
    Row("theme-list", "GET", S + "/themes/", TEAM_PAGE),
    Row("theme-create", "GET", S + "/themes/new/", (403, 200, 200, 200, 403, 404, LOGIN)),
    # The first role allowed creates it (302); the next ones are told the name is taken (200, the form).
    Row("theme-create", "POST", S + "/themes/new/", (403, 200, 200, 302, 403, 404, LOGIN), {"name": "Waiting"}),
    Row("theme-report", "GET", S + "/themes/report/", POST_ONLY_GET),
    Row("theme-report", "POST", S + "/themes/report/", (403, 302, 403, 403, 403, 404, LOGIN),
        {"format": "md", "audience": "team"}),
    Row("theme-detail", "GET", T + "/", TEAM_OBJECT_PAGE),
    Row("theme-edit", "GET", T + "/edit/", LEAD_OBJECT_PAGE),
    Row("theme-edit", "POST", T + "/edit/", LEAD_OBJECT_WRITE, {"name": "Renamed", "status": "final", "version": 1}),
    Row("theme-delete", "GET", T + "/delete/", LEAD_OBJECT_PAGE),
    Row("theme-delete", "POST", T + "/delete/", LEAD_OBJECT_WRITE),
    Row("theme-quote-create", "GET", T + "/quotes/new/?coding={coding}", LEAD_OBJECT_PAGE),
    Row("theme-quote-create", "POST", T + "/quotes/new/?coding={coding}", LEAD_OBJECT_WRITE,
        {"text": "you cannot see if someone is tearful"}),
    Row("theme-quote-edit", "GET", T + "/quotes/{quote}/edit/", LEAD_OBJECT_PAGE),
    Row("theme-quote-edit", "POST", T + "/quotes/{quote}/edit/", LEAD_OBJECT_WRITE,
        {"text": "you cannot see if someone is tearful", "content_note": "upsetting"}),
    Row("theme-quote-remove", "GET", T + "/quotes/{quote}/remove/", POST_ONLY_GET),
    Row("theme-quote-remove", "POST", T + "/quotes/{quote}/remove/", LEAD_OBJECT_WRITE),
    Row("board", "GET", B + "/", EVERY_MEMBER_PAGE),
    Row("board-settings", "GET", B + "/settings/", ADMIN_LEAD_PAGE),
    Row("board-settings", "POST", B + "/settings/", (302, 302, 403, 403, 403, 404, LOGIN), {"support_line": "Call us"}),
    Row("board-digest", "GET", B + "/digest/", EVERY_MEMBER_PAGE),
    Row("board-digest", "POST", B + "/digest/", EVERY_MEMBER_WRITE, {"every": "daily"}),
    Row("board-theme", "GET", B + "/{theme}/", EVERY_MEMBER_PAGE),
    Row("board-react", "GET", B + "/{theme}/react/", POST_ONLY_GET),
    Row("board-react", "POST", B + "/{theme}/react/", EVERY_MEMBER_WRITE, {"value": "rings_true"}),
    Row("board-comment-create", "GET", B + "/{theme}/comments/", POST_ONLY_GET),
    Row("board-comment-create", "POST", B + "/{theme}/comments/", EVERY_MEMBER_WRITE, {"body": "Rings true"}),
    Row("board-comment-edit", "GET", B + "/comments/{comment}/edit/", (403, 403, 403, 403, 200, 404, LOGIN)),
    Row("board-comment-edit", "POST", B + "/comments/{comment}/edit/", (403, 403, 403, 403, 302, 404, LOGIN),
        {"body": "Changed my mind"}),
    Row("board-comment-delete", "GET", B + "/comments/{comment}/delete/", POST_ONLY_GET),
    # Its author (ppi, first) deletes it; a lead may too (already deleted: nothing more happens).
    Row("board-comment-delete", "POST", B + "/comments/{comment}/delete/", (403, 302, 403, 403, 302, 404, LOGIN)),
    Row("board-comment-resolve", "GET", B + "/comments/{comment}/resolve/", POST_ONLY_GET),
    Row("board-comment-resolve", "POST", B + "/comments/{comment}/resolve/", (403, 302, 403, 403, 403, 404, LOGIN),
        {"resolved": "yes"}),
    Row("board-suggestion-decide", "GET", B + "/comments/{suggestion}/decide/", (403, 200, 403, 403, 403, 404, LOGIN)),
    Row("board-suggestion-decide", "POST", B + "/comments/{suggestion}/decide/",
        (403, 302, 403, 403, 403, 404, LOGIN), {"decision": "decline", "reason": "Too few people said it"}),
    # API
    Row("api-theme-list", "GET", A + "/themes/", (200, 200, 200, 200, 403, 404, UNAUTH)),
    Row("api-theme-list", "POST", A + "/themes/", (403, 400, 400, 201, 403, 404, UNAUTH), {"name": "Waiting"}),
    Row("api-theme-report", "POST", A + "/themes/report/", (403, 202, 403, 403, 403, 404, UNAUTH),
        {"format": "docx", "audience": "ppi"}),
    Row("api-theme-detail", "GET", AT + "/", TEAM_OBJECT_API),
    Row("api-theme-detail", "PATCH", AT + "/", LEAD_OBJECT_API, {"name": "Renamed", "version": 1}),
    Row("api-theme-detail", "DELETE", AT + "/", (403, 204, 403, 403, 404, 404, UNAUTH)),
    Row("api-theme-segments", "GET", AT + "/segments/?group={group}", TEAM_OBJECT_API),
    Row("api-theme-history", "GET", AT + "/history/", TEAM_OBJECT_API),
    Row("api-quote-list", "GET", AT + "/quotes/", TEAM_OBJECT_API),
    Row("api-quote-list", "POST", AT + "/quotes/", (403, 201, 403, 403, 404, 404, UNAUTH), {"coding": "{coding}"}),
    Row("api-quote-detail", "PATCH", AT + "/quotes/{quote}/", LEAD_OBJECT_API, {"content_note": "upsetting"}),
    Row("api-quote-detail", "DELETE", AT + "/quotes/{quote}/", (403, 204, 403, 403, 404, 404, UNAUTH)),
    Row("api-comment-list", "GET", AT + "/comments/", EVERY_MEMBER_API),
    Row("api-comment-list", "POST", AT + "/comments/", (201, 201, 201, 201, 201, 404, UNAUTH), {"body": "Rings true"}),
    Row("api-theme-reaction", "PUT", AT + "/reaction/", EVERY_MEMBER_API, {"value": "not_sure"}),
    Row("api-board", "GET", A + "/board/", EVERY_MEMBER_API),
    Row("api-board-settings", "GET", A + "/board/settings/", EVERY_MEMBER_API),
    Row("api-board-settings", "PUT", A + "/board/settings/", ADMIN_LEAD_API, {"support_line": "Call us"}),
    Row("api-comment-detail", "PATCH", A + "/comments/{comment}/", (403, 403, 403, 403, 200, 404, UNAUTH),
        {"body": "Changed my mind"}),
    Row("api-comment-detail", "DELETE", A + "/comments/{comment}/", (403, 204, 403, 403, 204, 404, UNAUTH)),
    Row("api-comment-resolve", "POST", A + "/comments/{comment}/resolve/", (403, 200, 403, 403, 403, 404, UNAUTH),
        {"resolved": True}),
    Row("api-suggestion-decision", "POST", A + "/comments/{suggestion}/decision/",
        (403, 200, 403, 403, 403, 404, UNAUTH), {"accept": False, "reason": "Too few people said it"}),
]

BOARD_KEYS = ("theme", "quote", "coding", "comment", "suggestion", "group")
THEME_NAMES = {p.name for p in walk(get_resolver().url_patterns)
               if (view_class(p) or p.callback).__module__.startswith("analysis.themes.")}


@pytest.fixture
def board(cast: Any) -> dict[str, int]:
    """A theme on the board with a quote of SU01 (North), a comment by the PPI member and a suggestion."""
    from analysis.coding.services.codebook import code_create
    from analysis.coding.services.codings import coding_create
    from analysis.themes.services import comments as comment_services
    from analysis.themes.services import quotes as quote_services
    from analysis.themes.services import themes as theme_services
    from tests.factories import SU01_TEXT, add_transcript
    from tests.factories import participant_row as make_participant

    lead, ppi, sid = cast.users["lead"], cast.users["ppi"], cast.study.pk
    su01 = make_participant(cast, "SU01", "service_user", cast.north, answers={
        "take_part": True, "transcription": True, "anonymised_quotes": True, "share_team_ppi": True})
    t = add_transcript(cast, su01, SU01_TEXT)
    code = code_create(actor=lead, study_id=sid, name="Loss of non-verbal cues")
    words = "On the phone you cannot see if someone is tearful."
    start = t.text.index(words)
    coding = coding_create(actor=lead, study_id=sid, transcript_id=t.pk, code_id=code.pk, start=start,
                           end=start + len(words))
    theme = theme_services.theme_create(actor=lead, study_id=sid, name="Seeing each other", on_board=True,
                                  code_ids=[code.pk])
    quote = quote_services.quote_create(actor=lead, study_id=sid, theme_id=theme.pk, coding_id=coding.pk)
    comment = comment_services.comment_create(actor=ppi, study_id=sid, theme_id=theme.pk, body="Rings true for me")
    suggestion = comment_services.comment_create(actor=ppi, study_id=sid, theme_id=theme.pk, body="Plainer, please",
                                         kind="rename", suggested_name="Missing faces")
    return {"theme": theme.pk, "quote": quote.pk, "coding": coding.pk, "comment": comment.pk,
            "suggestion": suggestion.pk, "group": su01.group_id}


@pytest.fixture
def admin_job(cast: Any) -> Job:
    job = Job.objects.create(
        study=cast.study, kind="audit_export", created_by=cast.users["admin"], status=JobStatus.DONE,
        required_perm="audit.view",
    )
    job_attach_file(job=job, name="matrix.csv", content=b"time,user\r\n")
    return job


@pytest.fixture
def lead_import(cast: Any) -> Any:
    """A project import the lead uploaded and has not started (a small valid project)."""
    import io
    import zipfile

    from interop.services.imports import project_import_preview

    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as z:
        z.writestr("project.qde", '<Project xmlns="urn:QDA-XML:project:1.0" name="p"><CodeBook><Codes>'
                                  '<Code guid="00000000-0000-4000-8000-000000000001" name="Cues" isCodable="true"/>'
                                  "</Codes></CodeBook></Project>")
    return project_import_preview(actor=cast.users["lead"], study_id=cast.study.pk, filename="p.qdpx",
                                  data=buf.getvalue())


@pytest.fixture
def agreement_job(cast: Any) -> Job:
    return Job.objects.create(
        study=cast.study, kind="agreement_report", created_by=cast.users["lead"], status=JobStatus.DONE,
        required_perm="agreement.view", result={"transcripts": [], "codes": [], "per_transcript_code": [],
                                                "overall": {"characters": 0, "percent_agreement": 100.0, "kappa": 1.0,
                                                            "alpha": 1.0, "no_variation": True}},
    )


@pytest.fixture
def matrix_code(cast: Any) -> Any:
    from analysis.coding.models import Code

    lead = cast.users["lead"]
    return Code.objects.create(study=cast.study, name="Loss of non-verbal cues", created_by=lead, updated_by=lead)



@pytest.mark.parametrize("row", MATRIX, ids=row_ids(MATRIX))
def test_role_matrix(row: Row, cast: Any, admin_job: Job, request: pytest.FixtureRequest) -> None:
    from django.utils.encoding import force_bytes
    from django.utils.http import urlsafe_base64_encode

    needs_board = any(f"{{{k}}}" in row.url + str(row.data) for k in BOARD_KEYS) or row.name in THEME_NAMES
    board = request.getfixturevalue("board") if needs_board else {}
    lead_import = request.getfixturevalue("lead_import") if "{import}" in row.url else None
    agreement_job = request.getfixturevalue("agreement_job") if "{agreement_job}" in row.url else None
    code = request.getfixturevalue("matrix_code") if "{code}" in row.url else None
    values = {
        "study": cast.study.pk, "north": cast.north.pk, "coder_membership": cast.memberships["coder"].pk,
        "job": admin_job.pk, "import": lead_import.pk if lead_import else 0,
        "agreement_job": agreement_job.pk if agreement_job else 0, "code": code.pk if code is not None else 0,
        "uid": urlsafe_base64_encode(force_bytes(cast.users["coder"].pk)), **board,
    }
    run_row(row, cast, values)


# Cross-study: an admin of one study is an outsider to every other ------------------------------


@pytest.mark.parametrize(
    "url",
    [
        "/studies/{other}/", "/studies/{other}/settings/", "/studies/{other}/members/",
        "/studies/{other}/audit/", "/api/v1/studies/{other}/", "/api/v1/studies/{other}/sites/",
        "/api/v1/studies/{other}/members/", "/api/v1/studies/{other}/audit-events/",
        "/api/v1/studies/{other}/groups/",
    ],
)
def test_admin_of_one_study_gets_404_on_another(url: str, cast: Any, clients: Any, api: Any) -> None:
    url = url.format(other=cast.other_study.pk)
    client = api["admin"] if url.startswith("/api/") else clients["admin"]
    assert client.get(url).status_code == 404


# Guards: every URL the project routes has a row, in this module or an app's matrix module ----------
# The app modules are found by name (tests/*/test_roles_matrix.py), so an app that adds one is covered
# without touching this file; a URL that no module covers fails here.

# Django's admin is for staff accounts only (no study member is staff) and is not part of the product.
NOT_IN_CONTRACT_PREFIXES = ("django.contrib.admin.", "django.contrib.contenttypes.")
TESTS = Path(__file__).resolve().parent


def all_rows() -> dict[str, list[Row]]:
    """Every matrix module's rows, by module."""
    out = {__name__: MATRIX}
    for path in sorted(TESTS.glob("*/test_roles_matrix.py")):
        module = importlib.import_module(f"tests.{path.parent.name}.test_roles_matrix")
        out[module.__name__] = module.MATRIX
    return out


def _contract_patterns() -> list[Any]:
    patterns = []
    top = [p for p in get_resolver().url_patterns if getattr(p, "namespace", None) != "admin"]
    for p in walk(top):
        module = (view_class(p) or p.callback).__module__
        if module.startswith(NOT_IN_CONTRACT_PREFIXES):
            continue
        patterns.append(p)
    return patterns


def test_every_routed_url_has_a_row() -> None:
    rows = [row for module_rows in all_rows().values() for row in module_rows]
    covered = {row.name for row in rows}
    patterns = _contract_patterns()
    unnamed = [str(p.pattern) for p in patterns if p.name is None]
    assert not unnamed, f"URLs routed without a name cannot be in the contract: {unnamed}"
    routed = {p.name for p in patterns}
    missing = routed - covered
    assert not missing, f"add rows for these URL names to a tests/<app>/test_roles_matrix.py: {sorted(missing)}"
    stale = covered - routed
    assert not stale, f"rows for URL names that no longer exist: {sorted(stale)}"


def test_every_method_of_class_based_views_has_a_row() -> None:
    rows = [row for module_rows in all_rows().values() for row in module_rows]
    for pattern in _contract_patterns():
        cls = view_class(pattern)
        if cls is None:
            continue  # function views: their methods are listed in the matrix by hand
        candidates = ("get", "post", "put", "patch", "delete") if issubclass(cls, APIView) else ("get", "post")
        implemented = {m.upper() for m in candidates if m in cls.http_method_names and hasattr(cls, m)}
        tested = {row.method for row in rows if row.name == pattern.name}
        assert implemented <= tested, f"{pattern.name}: methods {sorted(implemented - tested)} have no row"


def test_matrix_rows_are_well_formed() -> None:
    for module_rows in all_rows().values():
        check_well_formed(module_rows)
    # One row per URL name and method across modules, too.
    check_well_formed([row for module_rows in all_rows().values() for row in module_rows])
