"""schemathesis against the OpenAPI schema, as each role of the test cast (issue 15).

The schema is loaded from the WSGI application (``/api/v1/schema/?format=json``), and every operation is
called with requests generated from it, as admin, lead, coder, coder of another site, PPI member and
outsider, each with their token and a fresh study (the test's own cast and world, rolled back after):
0 server errors (``not_a_server_error``) and 0 responses that break the schema
(``response_schema_conformance``). Path ids are the world's real objects, so the requests reach the
code behind the 404 check; operations that delete run last, so they do not starve the others.

Bounded for CI (``make test`` on PostgreSQL and Redis): ``CHORUS_FUZZ_EXAMPLES`` generated cases per
operation and role (default 3), no deadline per case, no example database. A failure names the operation,
the role and a curl command that reproduces it.
"""

from __future__ import annotations

import logging
import os
from typing import Any

import pytest
import schemathesis
from django.conf import settings
from django.core.signals import request_finished, request_started
from django.db import close_old_connections
from django.test import override_settings
from hypothesis import HealthCheck, Phase, given
from hypothesis import settings as hypothesis_settings
from rest_framework.authtoken.models import Token
from schemathesis.checks import not_a_server_error, response_schema_conformance

from tests.roles import analysis_world

pytestmark = pytest.mark.django_db


ROLES = ("admin", "lead", "coder", "coder_other_site", "ppi", "outsider")
EXAMPLES = int(os.environ.get("CHORUS_FUZZ_EXAMPLES", "3"))


def _path_ids(cast: Any) -> dict[str, Any]:
    """The schema's path parameters, filled from the world of the role matrices (tests/roles.py)."""
    from analysis.matrices import engine as matrix_engine
    from analysis.matrices import selectors as matrix_selectors
    from analysis.matrices.models import Matrix
    from analysis.themes.services.comments import comment_create
    from analysis.themes.services.quotes import quote_create
    from analysis.themes.services.themes import theme_create
    from jobs.models import Job

    w = analysis_world(cast)
    lead, sid = cast.users["lead"], cast.study.pk
    theme = theme_create(actor=lead, study_id=sid, name="Feeling unheard", code_ids=[w["code"]])
    quote = quote_create(actor=lead, study_id=sid, theme_id=theme.pk, coding_id=w["coding"])
    comment = comment_create(actor=lead, study_id=sid, theme_id=theme.pk, body="A comment")
    spec = matrix_selectors.spec_parse({})
    matrix = Matrix.objects.create(
        study=cast.study, created_by=lead, spec=spec.as_dict(), key=spec.key, data_version="fuzz",
        result=matrix_selectors.result_json(matrix_engine.matrix_compute(user=lead, study_id=sid, spec=spec)))
    job = Job.objects.create(study=cast.study, kind="agreement_report", created_by=lead, required_perm="agreement.view")
    return {
        "study_id": sid, "transcript_id": w["t_north"], "code_id": w["code"], "coding_id": w["coding"],
        "memo_id": w["memo"], "membership_id": cast.memberships["coder"].pk, "site_id": w["north"],
        "participant_id": w["su01"], "form_id": w["form"], "event_id": w["event"], "job_id": job.pk,
        "batch_id": w["batch"], "edit_id": w["edit"], "key": w["key"], "theme_id": theme.pk, "quote_id": quote.pk,
        "comment_id": comment.pk, "matrix_id": matrix.pk, "attribute_id": w["attribute"], "fmt": "csv",
        "import_id": 999_999,
    }


def _operations(schema: Any) -> list[Any]:
    ops = [result.ok() for result in schema.get_all_operations()]
    # Deletes last: the other operations still find the objects they name.
    return sorted(ops, key=lambda op: (op.method.upper() == "DELETE", op.path, op.method))


def _describe(exc: BaseException) -> str:
    """Each failure with the response, the schema it broke and the curl command schemathesis gives."""
    parts = [str(exc)]
    for sub in getattr(exc, "exceptions", ()):
        parts.append(str(sub))
    return "\n".join(parts)[:3000]


def _fuzz(op: Any, *, params: dict[str, Any], headers: dict[str, str], label: str, failures: list[str],
          statuses: list[int]) -> None:
    """Up to EXAMPLES generated cases of one operation; the first failure is recorded with its case."""

    @hypothesis_settings(max_examples=EXAMPLES, deadline=None, database=None, phases=[Phase.explicit, Phase.generate],
                         suppress_health_check=list(HealthCheck))
    @given(case=op.as_strategy(path_parameters=params))
    def run(case: Any) -> None:
        response = case.call(headers=headers)
        statuses.append(response.status_code)
        try:
            case.validate_response(response, checks=[not_a_server_error, response_schema_conformance],
                                   headers=headers)
        except BaseException as exc:  # schemathesis raises a group of failures
            failures.append(f"{label}: {_describe(exc)}")
            raise

    try:
        run()
    except (Exception, BaseExceptionGroup) as exc:
        if not failures or not failures[-1].startswith(label + ":"):
            # Not a check that failed on a response: generating or sending the case did.
            failures.append(f"{label}: {type(exc).__name__}: {str(exc)[:1500]}")


@pytest.mark.parametrize("role", ROLES)
def test_the_api_keeps_its_schema_and_never_fails_as(role: str, cast: Any) -> None:
    from config.wsgi import application

    ids = _path_ids(cast)
    token, _ = Token.objects.get_or_create(user=cast.users[role])
    headers = {"Authorization": f"Token {token.key}"}
    failures: list[str] = []
    statuses: list[int] = []
    unlimited = {**settings.REST_FRAMEWORK, "DEFAULT_THROTTLE_RATES": {"user": "1000000/minute"}}
    # The WSGI handler closes "old" connections when a request starts and finishes, which inside the
    # test's transaction would close the test's own connection (Django's test client does the same).
    request_started.disconnect(close_old_connections)
    request_finished.disconnect(close_old_connections)
    quiet = logging.getLogger("django.request")
    level = quiet.level
    quiet.setLevel(logging.ERROR)  # thousands of expected 4xx warnings; 5xx are still logged
    try:
        schema = schemathesis.openapi.from_wsgi("/api/v1/schema/?format=json", application)
        with override_settings(REST_FRAMEWORK=unlimited, CHORUS_CODING_RATE="1000000/minute"):
            for op in _operations(schema):
                params = {name: ids[name] for name in ids if "{" + name + "}" in op.path}
                _fuzz(op, params=params, headers=headers, label=f"{role} {op.method.upper()} {op.path}",
                      failures=failures, statuses=statuses)
    finally:
        request_started.connect(close_old_connections)
        request_finished.connect(close_old_connections)
        quiet.setLevel(level)
    assert not failures, f"{len(failures)} operation(s) failed as {role}:\n\n" + "\n\n".join(failures)
    # The run reached the code: every operation was called.
    assert len(statuses) >= len(_operations(schema)), statuses
    print(role, len(statuses), "requests:", {s: statuses.count(s) for s in sorted(set(statuses))})
