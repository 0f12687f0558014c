"""The role x scope contract's machinery, shared by every app's matrix module.

A matrix module (``tests/<app>/test_roles_matrix.py``, and ``tests/test_roles_matrix.py`` for accounts,
jobs, themes and interop) defines ``MATRIX``: one :class:`Row` per URL name and HTTP method, with the
status each of the seven roles must get, in this column order:

    admin  lead  coder  coder_other_site  ppi  outsider  anonymous

and runs every row with :func:`run_row`. The global guard in ``tests/test_roles_matrix.py`` collects the
rows of every matrix module and fails for any routed URL name (or API method) that has none.
"""

from __future__ import annotations

from typing import Any, NamedTuple

from django.apps import apps
from django.core.signals import request_finished
from django.db import close_old_connections
from django.test import Client
from django.urls import URLPattern, URLResolver
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

ROLES = ("admin", "lead", "coder", "coder_other_site", "ppi", "outsider", "anonymous")
LOGIN = "LOGIN"  # a 302 to the sign-in page
UNAUTH = "UNAUTH"  # 401 with a Token challenge and a JSON body
Expect = int | str

# Roles run least-privileged first within one test (one cast): every denied write is tried, and
# proven to have written nothing, before the role that may do it changes anything.
RUN_ORDER = ("anonymous", "outsider", "ppi", "coder_other_site", "coder", "lead", "admin")


class Row(NamedTuple):
    name: str  # URL name
    method: str
    url: str  # with {placeholders}, filled from the world of the module
    expect: tuple[Expect, Expect, Expect, Expect, Expect, Expect, Expect]
    data: dict[str, Any] | None = None
    # Files for a multipart request (pages and API): field -> (file name, bytes); {} for one without a file.
    files: dict[str, tuple[str, bytes]] | None = None


def row_ids(rows: list[Row]) -> list[str]:
    return [f"{r.name}-{r.method}" for r in rows]


# Every table a request could write to: the project's apps plus tokens. Sessions, axes' sign-in log and
# Django's own tables are left out (signing the cast in writes sessions before any request is made).
_WATCHED = ("accounts", "jobs", "participants", "transcripts", "coding", "themes", "interop", "matrices",
            "authtoken")


def db_snapshot() -> list[Any]:
    """Every row of every watched table, every column: equal before and after = nothing was written."""
    out: list[Any] = []
    for model in apps.get_models():
        if model._meta.app_label in _WATCHED and not model._meta.proxy:
            out.append(list(model._default_manager.order_by("pk").values_list()))
    return out


def client_for(role: str, cast: Any, *, api: bool) -> Client | APIClient:
    if api:
        c = APIClient()
        if role != "anonymous":
            token, _ = Token.objects.get_or_create(user=cast.users[role])
            c.credentials(HTTP_AUTHORIZATION=f"Token {token.key}")
        return c
    c = Client()
    if role != "anonymous":
        c.force_login(cast.users[role])
    return c


def check(expected: Expect, response: Any, *, is_api: bool, wrote: bool) -> str | None:
    """What is wrong with this response for this expectation, or None."""
    status = response.status_code
    if expected == LOGIN:
        if status != 302 or not response["Location"].startswith("/accounts/login/"):
            return f"expected a redirect to sign in, got {status} {response.get('Location', '')}"
    elif expected == UNAUTH:
        if status != 401 or not response["Content-Type"].startswith("application/json"):
            return f"expected 401 JSON, got {status} {response['Content-Type']}"
        if response.get("WWW-Authenticate") != "Token":
            return "a 401 must say how to authenticate (WWW-Authenticate: Token)"
    elif status != expected:
        body = b"" if getattr(response, "streaming", False) else response.content[:200]
        return f"expected {expected}, got {status}: {body!r}"
    if expected in (LOGIN, UNAUTH, 403, 404, 405) and wrote:
        return f"denied with {status} but wrote to the database"
    if is_api and expected in (UNAUTH, 403, 404) and "detail" not in response.json():
        return "a denied API answer without a JSON detail"
    if not is_api and expected in (403, 404):
        heading = "You cannot do this" if expected == 403 else "Page not found"
        if heading not in response.content.decode():  # our error pages, not Django's bare default
            return f"{expected} without the “{heading}” page"
    return None


def _fill(value: Any, values: dict[str, Any]) -> Any:
    """Placeholders in request data: a bare "{name}" becomes the value itself (an id stays a number in JSON)."""
    if isinstance(value, list):
        return [_fill(v, values) for v in value]
    if isinstance(value, str) and value.startswith("{") and value.endswith("}") and value[1:-1] in values:
        return values[value[1:-1]]
    return value.format(**values) if isinstance(value, str) and "{" in value else value


def run_row(row: Row, cast: Any, values: dict[str, Any]) -> None:
    """Run one row for all seven roles and fail listing every role that differs from the table."""
    is_api = row.url.startswith("/api/")
    url = row.url.format(**values)
    data = {k: _fill(v, values) for k, v in row.data.items()} if row.data is not None else None
    problems = []
    for role in RUN_ORDER:
        expected = row.expect[ROLES.index(role)]
        method = getattr(client_for(role, cast, api=is_api), row.method.lower())
        before = db_snapshot()
        if row.files is not None:  # multipart, even with no file in it
            from django.core.files.uploadedfile import SimpleUploadedFile

            payload = dict(data or {})
            for field, (name, content) in row.files.items():
                payload[field] = SimpleUploadedFile(name, content)
            response = method(url, payload, format="multipart") if is_api else method(url, payload)
        elif is_api:
            response = method(url, data, format="json") if data is not None else method(url)
        else:
            response = method(url, data or {})
        if getattr(response, "streaming", False):
            # An event stream or a file: the status and headers are the contract, not the body. Closed as
            # Django's test client closes one, without request_finished closing the test's database
            # connection (on PostgreSQL the next query would find it closed).
            request_finished.disconnect(close_old_connections)
            try:
                response.close()
            finally:
                request_finished.connect(close_old_connections)
        problem = check(expected, response, is_api=is_api, wrote=db_snapshot() != before)
        if problem:
            problems.append(f"  {role:<17} {problem}")
    assert not problems, f"{row.method} {url}:\n" + "\n".join(problems)


def check_well_formed(rows: list[Row]) -> None:
    seen = set()
    for row in rows:
        assert len(row.expect) == len(ROLES), row
        assert (row.name, row.method) not in seen, f"duplicate row {row.name} {row.method}"
        seen.add((row.name, row.method))
        # Outsiders never learn that a study exists.
        if "{study}" in row.url and row.expect[ROLES.index("outsider")] != 405:
            assert row.expect[ROLES.index("outsider")] == 404, row


# Walking the URL configuration ----------------------------------------------------------------------


def walk(patterns: list[Any]) -> list[URLPattern]:
    out: list[URLPattern] = []
    for p in patterns:
        if isinstance(p, URLResolver):
            out.extend(walk(p.url_patterns))
        else:
            out.append(p)
    return out


def view_class(pattern: URLPattern) -> type | None:
    return getattr(pattern.callback, "view_class", None) or getattr(pattern.callback, "cls", None)


def view_module(pattern: URLPattern) -> str:
    return (view_class(pattern) or pattern.callback).__module__


# Reusable expectations ------------------------------------------------------------------------------
#                    admin lead coder c_o_s ppi  outsider anonymous
ANY_USER_PAGE = (200, 200, 200, 200, 200, 200, LOGIN)
EVERYONE_200 = (200, 200, 200, 200, 200, 200, 200)
MEMBERS_PAGE = (200, 200, 200, 200, 200, 404, LOGIN)
ADMIN_PAGE = (200, 403, 403, 403, 403, 404, LOGIN)
ADMIN_WRITE_PAGE = (302, 403, 403, 403, 403, 404, LOGIN)
POST_ONLY_GET = (405, 405, 405, 405, 405, 404, LOGIN)
ADMIN_LEAD_PAGE = (200, 200, 403, 403, 403, 404, LOGIN)
LEAD_PAGE = (403, 200, 403, 403, 403, 404, LOGIN)
LEAD_WRITE_PAGE = (403, 302, 403, 403, 403, 404, LOGIN)

ANY_USER_API = (200, 200, 200, 200, 200, 200, UNAUTH)
MEMBERS_API = (200, 200, 200, 200, 200, 404, UNAUTH)
ADMIN_LEAD_API = (200, 200, 403, 403, 403, 404, UNAUTH)
ADMIN_API = (200, 403, 403, 403, 403, 404, UNAUTH)


def admin_only(status: int) -> tuple[Expect, ...]:
    return (status, 403, 403, 403, 403, 404, UNAUTH)


def lead_only(status: int) -> tuple[Expect, ...]:
    return (403, status, 403, 403, 403, 404, UNAUTH)


# The world the app matrices need ---------------------------------------------------------------------


def analysis_world(cast: Any) -> dict[str, Any]:
    """Everything the URLs of participants, transcripts and coding name, built through the services.

    North objects (SU01, its transcript, the lead's coding and memo, the double-coded pair) are out of
    coder_other_site's scope (South only), so their object URLs must answer that coder 404."""
    from analysis.coding.services import assignments, memos
    from analysis.coding.services import codebook as codebook_services
    from analysis.coding.services import codings as coding_services
    from analysis.transcripts.services import imports, redaction
    from participants.services import participants as participant_services
    from tests import factories

    u, sid = cast.users, cast.study.pk
    form = factories.make_form(cast)
    su01 = factories.participant_row(cast, "SU01", "service_user", cast.north, answers={
        "take_part": True, "transcription": True, "anonymised_quotes": True, "share_team_ppi": True})
    st01 = factories.participant_row(cast, "ST01", "staff", cast.south)
    factories.participant_row(cast, "ST02", "staff", cast.south)  # consented, no transcript yet: importable
    event = factories.consent(cast, su01, form)
    t_north = factories.add_transcript(cast, su01, factories.SU01_TEXT)
    t_south = factories.add_transcript(cast, st01, factories.ST01_TEXT)
    # A redaction first (so it has an edit to revert), before any coding is anchored.
    name = t_north.text.index("John Smith")
    redaction.transcript_replace(actor=u["lead"], study_id=sid, transcript_id=t_north.pk, start=name,
                                 end=name + len("John Smith"), expected="John Smith", replacement="[NAME]",
                                 base_version=t_north.version)
    t_north.refresh_from_db()
    cues = codebook_services.code_create(actor=u["lead"], study_id=sid, name="Loss of non-verbal cues")
    other = codebook_services.code_create(actor=u["lead"], study_id=sid, name="Convenience")
    words = "On the phone you cannot see if someone is tearful."
    start = t_north.text.index(words)
    coding = coding_services.coding_create(actor=u["lead"], study_id=sid, transcript_id=t_north.pk,
                                           code_id=cues.pk, start=start, end=start + len(words))
    memo = memos.memo_create(actor=u["lead"], study_id=sid, title="Tears on the phone", transcript_id=t_north.pk)
    # The coding and the memo are the lead's, so the coder (tried first) is refused changing another
    # member's work before the lead changes them. Double coding of SU01's transcript by the coder and the
    # lead: only the lead coded the sentence, so it is one disagreement.
    assignments.assignment_create(actor=u["lead"], study_id=sid, transcript_id=t_north.pk,
                                  coder_a_id=u["coder"].pk, coder_b_id=u["lead"].pk)
    for who in ("coder", "lead"):
        assignments.assignment_mark_done(actor=u[who], study_id=sid, transcript_id=t_north.pk)
    batch = imports.import_preview(actor=u["lead"], study_id=sid, uploads=[
        imports.Upload(name="ST02.txt", data=b"Interviewer: Hello?\nST02: Hello.\n")])
    attribute = participant_services.attribute_create(actor=u["admin"], study_id=sid, label="Interview mode",
                                                     key="interview_mode", kind="text")
    return {
        "study": sid, "su01": su01.pk, "st01": st01.pk, "t_north": t_north.pk, "t_south": t_south.pk,
        "code": cues.pk, "other_code": other.pk, "coding": coding.pk, "memo": memo.pk,
        "key": f"{cues.pk}-{start}-{start + len(words)}", "edit": _last_edit(t_north.pk),
        "batch": batch.pk, "form": form.pk, "event": event.pk, "attribute": attribute.pk,
        "coder": u["coder"].pk, "lead": u["lead"].pk, "group": su01.group_id, "north": cast.north.pk,
        "start": start, "end": start + len(words),
    }


def _last_edit(transcript_id: int) -> int:
    from analysis.transcripts.models import TranscriptEdit

    return TranscriptEdit.objects.filter(transcript_id=transcript_id).latest("pk").pk
