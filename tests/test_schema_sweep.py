"""Every operation of the OpenAPI schema, with its path ids filled from a study that has one of
everything, probed with hostile input:

* a non-member gets 404 before anything in the body is looked at (an empty body, a malformed one);
* a NUL character in any string field of the request body, and in any query parameter, is a 400
  saying "Null characters are not allowed", never a 500;
* ``1e400`` and a 30-digit integer in any integer field or query parameter are a 400.

The schema is the list of endpoints, so an endpoint added later is swept without touching this file."""

from __future__ import annotations

import datetime as dt
import re
from typing import Any

import pytest
from drf_spectacular.generators import SchemaGenerator

from analysis.coding.services import assignments
from analysis.coding.services import codebook as code_services
from analysis.coding.services import codings as coding_services
from analysis.coding.services import memos as memo_services
from analysis.themes.services import comments as comment_services
from analysis.themes.services import quotes as quote_services
from analysis.themes.services import themes as theme_services
from analysis.transcripts.importers import parse_transcript
from analysis.transcripts.models import Transcript
from analysis.transcripts.services import imports, redaction
from analysis.transcripts.services.transcripts import transcript_create
from jobs.models import Job
from participants.models import ConsentEvent

from .factories import consent, make_form, make_participant

pytestmark = pytest.mark.django_db
NUL = "Null characters are not allowed"
METHODS = ("get", "post", "put", "patch", "delete")


@pytest.fixture(scope="module")
def schema() -> dict[str, Any]:
    return SchemaGenerator().get_schema(request=None, public=True)


def _operations(schema: dict[str, Any]) -> list[tuple[str, str, dict[str, Any]]]:
    return [(path, method, op) for path, ops in schema["paths"].items() for method, op in ops.items()
            if method in METHODS]


@pytest.fixture
def ids(cast: Any) -> dict[str, Any]:
    """One of everything in the cast's study, for the schema's path parameters."""
    lead, admin, sid = cast.users["lead"], cast.users["admin"], cast.study.pk
    form = make_form(cast)
    p = make_participant(cast, "SU01")
    consent(cast, p, form, date=dt.date(2020, 6, 1))
    text = "Interviewer: How was it?\nSU01: The phone kept dropping and I felt unheard.\n"
    parsed = parse_transcript(text.encode(), filename="SU01.txt", pseudonym="SU01")
    t = transcript_create(actor=lead, study_id=sid, participant_id=p.pk, parsed=parsed, original=text.encode(),
                          original_name="SU01.txt")
    code = code_services.code_create(actor=lead, study_id=sid, name="Feeling unheard")
    coding = coding_services.coding_create(actor=lead, study_id=sid, transcript_id=t.pk, code_id=code.pk,
                                           start=30, end=37)
    memo = memo_services.memo_create(actor=lead, study_id=sid, title="A memo", transcript_id=t.pk)
    assignments.assignment_create(actor=lead, study_id=sid, transcript_id=t.pk, coder_a_id=lead.pk,
                                  coder_b_id=cast.users["coder"].pk)
    t = Transcript.objects.get(pk=t.pk)
    start = t.text.index("dropping")
    edit = redaction.transcript_replace(actor=lead, study_id=sid, transcript_id=t.pk, start=start, end=start + 8,
                                        expected="dropping", replacement="failing", base_version=t.version).edit
    batch = imports.import_preview(actor=lead, study_id=sid, uploads=[imports.Upload("SU01.txt", text.encode())])
    job = Job.objects.create(study=cast.study, kind="agreement_report", created_by=admin, required_perm="agreement.view")
    theme = theme_services.theme_create(actor=lead, study_id=sid, name="Feeling unheard", code_ids=[code.pk])
    quote = quote_services.quote_create(actor=lead, study_id=sid, theme_id=theme.pk, coding_id=coding.pk)
    # A comment on the code: the same id answers under /comments/{comment_id}/ and under the code's URLs.
    comment = comment_services.comment_create(actor=lead, study_id=sid, code_id=code.pk, body="A comment")
    from analysis.matrices import engine as matrix_engine
    from analysis.matrices import selectors as matrix_selectors
    from analysis.matrices.models import Matrix

    spec = matrix_selectors.spec_parse({})
    matrix = Matrix.objects.create(
        study=cast.study, created_by=lead, spec=spec.as_dict(), key=spec.key, data_version="sweep",
        result=matrix_selectors.result_json(matrix_engine.matrix_compute(user=lead, study_id=sid, spec=spec)))
    from analysis.matrices.framework.services import framework_chart_create
    from participants.services import attribute_create

    chart = framework_chart_create(actor=lead, study_id=sid, name="Sweep chart")
    attribute = attribute_create(actor=admin, study_id=sid, label="Interview mode", key="interview_mode", kind="text")
    from analysis.transcripts.sets.services import transcript_set_create

    tset = transcript_set_create(actor=lead, study_id=sid, name="Sweep set", transcript_ids=[t.pk])
    return {
        "set_id": tset.pk,
        "chart_id": chart.pk, "attribute_id": attribute.pk, "study_id": sid, "transcript_id": t.pk, "code_id": code.pk, "coding_id": coding.pk, "memo_id": memo.pk,
        "membership_id": cast.memberships["coder"].pk, "site_id": cast.north.pk, "participant_id": p.pk,
        "form_id": form.pk, "event_id": ConsentEvent.objects.filter(participant=p).first().pk, "job_id": job.pk,
        "batch_id": batch.pk, "edit_id": edit.pk, "key": f"{code.pk}-30-37", "theme_id": theme.pk,
        "quote_id": quote.pk, "comment_id": comment.pk, "matrix_id": matrix.pk, "fmt": "csv",
    }


# Path ids this sweep does not create an object for (a project import needs a .qdpx upload first): those
# endpoints are swept for non-members only, with an id that does not exist.
NOT_CREATED = {"import_id"}


def _url(path: str, ids: dict[str, Any]) -> str:
    missing = set(re.findall(r"{(\w+)}", path)) - set(ids)
    assert missing <= NOT_CREATED, f"give the sweep an object for {missing}"
    return re.sub(r"{(\w+)}", lambda m: str(ids.get(m.group(1), 999_999)), path)


def _swept_as_member(path: str) -> bool:
    return not (set(re.findall(r"{(\w+)}", path)) & NOT_CREATED)


def _ref(schema: dict[str, Any], node: dict[str, Any]) -> dict[str, Any]:
    while "$ref" in node:
        node = schema["components"]["schemas"][node["$ref"].rsplit("/", 1)[-1]]
    return node


def _body_fields(schema: dict[str, Any], op: dict[str, Any]) -> list[tuple[str, str, str]]:
    """(content type, field, type) for each top-level string or integer field of the request body."""
    out = []
    for content_type, media in op.get("requestBody", {}).get("content", {}).items():
        body = _ref(schema, media.get("schema", {}))
        for name, prop in body.get("properties", {}).items():
            prop = _ref(schema, prop)
            kind = prop.get("type")
            if kind == "array":
                kind = "array-" + str(_ref(schema, prop.get("items", {})).get("type"))
            if kind in ("string", "integer", "array-string", "array-integer") and prop.get("format") != "binary" \
                    and not prop.get("readOnly"):
                out.append((content_type, name, kind))
    return out


def _send(client: Any, method: str, url: str, content_type: str, field: str, value: Any, raw: str | None = None) -> Any:
    call = getattr(client, method)
    if raw is not None:
        return client.generic(method.upper(), url, raw.encode(), content_type="application/json")
    if content_type.startswith("multipart"):
        return call(url, {field: value}, format="multipart")
    if content_type.startswith("application/x-www-form-urlencoded"):
        return client.generic(method.upper(), url, f"{field}={value}".replace("\x00", "%00").encode(),
                              content_type=content_type)
    return call(url, {field: value}, format="json")


def _member_allowed(api: Any, method: str, url: str) -> Any:
    """The lead, or the admin where the lead's role may not (an empty body: only the role is tested)."""
    for role in ("lead", "admin"):
        r = getattr(api[role], method)(url, {}, format="json") if method != "get" else api[role].get(url)
        if r.status_code != 403:
            return api[role]
    return None


def test_the_sweep_covers_the_whole_api(schema: dict[str, Any]) -> None:
    ops = _operations(schema)
    assert len(ops) > 80
    assert any(f for path, method, op in ops for f in _body_fields(schema, op))


def test_non_members_get_404_before_any_input_is_looked_at(schema: dict[str, Any], ids: Any, api: Any) -> None:
    wrong = []
    for path, method, _op in _operations(schema):
        if "{study_id}" not in path:
            continue
        url = _url(path, ids)
        for body in ({}, None):
            c = api["outsider"]
            r = (c.generic(method.upper(), url, b"{broken", content_type="application/json") if body is None
                 else getattr(c, method)(url, body, format="json"))
            if r.status_code != 404:
                wrong.append(f"{method.upper()} {path}: {r.status_code} {r.content[:120]!r}")
    assert not wrong, "\n".join(wrong)


def test_nul_and_huge_numbers_in_every_body_field(schema: dict[str, Any], ids: Any, api: Any) -> None:
    wrong, checked = [], 0
    for path, method, op in _operations(schema):
        fields = _body_fields(schema, op)
        if not fields or not _swept_as_member(path):
            continue
        url = _url(path, ids)
        client = _member_allowed(api, method, url)
        if client is None:
            continue
        for content_type, field, kind in fields:
            if kind.endswith("string"):
                value: Any = ["a\x00b"] if kind.startswith("array") else "a\x00b"
                probes = [(value, None, NUL)]
            else:
                probes = [(None, f'{{"{field}": 1e400}}', "too large"),
                          (None, f'{{"{field}": {"9" * 30}}}', "too large"),
                          (None, f'{{"{field}": [{"9" * 30}]}}', "too large")]
                if content_type.startswith("multipart"):
                    probes = [(str(10**30), None, "")]
            for value, raw, says in probes:
                r = _send(client, method, url, content_type, field, value, raw)
                checked += 1
                if r.status_code >= 500 or r.status_code != 400 or says not in r.content.decode():
                    wrong.append(f"{method.upper()} {path} {field}={value or raw!r}: {r.status_code} {r.content[:160]!r}")
    assert checked > 50
    assert not wrong, "\n".join(wrong)


def test_nul_and_huge_numbers_in_every_query_parameter(schema: dict[str, Any], ids: Any, api: Any) -> None:
    wrong, checked = [], 0
    for path, method, op in _operations(schema):
        params = [p for p in op.get("parameters", []) if p.get("in") == "query"]
        if not params or not _swept_as_member(path):
            continue
        url = _url(path, ids)
        client = _member_allowed(api, method, url) or api["admin"]
        for p in params:
            kind = _ref(schema, p.get("schema", {})).get("type")
            probes = [("a\x00b", NUL)]
            if kind == "integer":
                probes.append(("9" * 30, "too large"))
            for value, says in probes:
                r = client.generic(method.upper(), url + "?" + f"{p['name']}={value}".replace("\x00", "%00"))
                checked += 1
                if r.status_code != 400 or says not in r.content.decode():
                    wrong.append(f"{method.upper()} {path}?{p['name']}={value!r}: {r.status_code} {r.content[:160]!r}")
    assert checked > 20
    assert not wrong, "\n".join(wrong)


def test_a_field_no_write_takes_is_refused_everywhere(schema: dict[str, Any], ids: Any, api: Any) -> None:
    wrong, checked = [], 0
    for path, method, op in _operations(schema):
        if method not in ("post", "put", "patch") or "application/json" not in op.get("requestBody", {}).get("content", {}):
            continue
        if not _swept_as_member(path):
            continue
        url = _url(path, ids)
        client = _member_allowed(api, method, url)
        if client is None:
            continue
        r = getattr(client, method)(url, {"zz_not_a_field": 1}, format="json")
        checked += 1
        if r.status_code != 400 or "zz_not_a_field" not in r.content.decode():
            wrong.append(f"{method.upper()} {path}: {r.status_code} {r.content[:160]!r}")
    assert checked > 25
    assert not wrong, "\n".join(wrong)
