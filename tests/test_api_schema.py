"""The OpenAPI schema documents the whole API: it generates without warnings, validates against
the OpenAPI specification, and names every endpoint of every app."""

import yaml
from django.core.management import call_command


def test_schema_generates_without_warnings_and_validates(tmp_path, db):
    out = tmp_path / "schema.yaml"
    call_command("spectacular", "--validate", "--fail-on-warn", "--file", str(out))
    schema = yaml.safe_load(out.read_text())
    paths = set(schema["paths"])
    for expected in (
        "/api/v1/studies/",
        "/api/v1/studies/{study_id}/members/",
        "/api/v1/studies/{study_id}/audit-events/",
        "/api/v1/studies/{study_id}/participants/",
        "/api/v1/studies/{study_id}/transcripts/",
        "/api/v1/studies/{study_id}/codes/",
    ):
        assert expected in paths, f"{expected} missing from the schema"
    assert schema["components"]["securitySchemes"].keys() >= {"cookieAuth", "tokenAuth"}
