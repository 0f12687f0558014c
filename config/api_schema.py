"""Completes the OpenAPI schema (a drf-spectacular post-processing hook, issue 15).

* A summary for every operation whose view has no docstring or ``extend_schema(summary=...)``: the table
  below, keyed by operation id, so the schema reads as documentation without editing every app's views.
  A new operation needs a summary here or on its view (tests/test_api_docs_schema.py fails otherwise).
* An example for every request body and every 2xx response that has none written by hand: composed from
  the schema itself (field names give realistic values: a pseudonym looks like ``SU01``, offsets are code
  points ``120``/``180``), so it can never disagree with the schema it illustrates. Hand-written examples
  (``OpenApiExample``) win where a view gives them.
* The one error shape (docs/api.md, "Errors") as the ``Error`` component.
"""

from __future__ import annotations

from typing import Any

SUMMARIES: dict[str, str] = {
    "me_retrieve": "Who you are: your account and the studies you are a member of, with your role in each",
    "studies_list": "Your studies",
    "studies_create": "Create a study; you become its admin",
    "studies_retrieve": "A study: name, description, sites and groups",
    "studies_partial_update": "Change a study's name or description (admins; the study settings page)",
    "studies_assignments_list": "Double-coding assignments: which two coders code which transcript, and who is done",
    "studies_assignments_create": "Assign a transcript to two coders for double coding (leads)",
    "studies_assignments_done_create": "Mark your coding of a double-coded transcript done (or not done)",
    "studies_audit_events_list": "The audit log (admins), filtered by actor, action and dates; paginated",
    "studies_board_settings_retrieve": "The theme board's settings: the support line shown to PPI members",
    "studies_board_settings_update": "Set the theme board's support line (leads)",
    "studies_codes_create": "Create a code in the codebook",
    "studies_codes_retrieve": "A code: name, parent, description, criteria, colour, version",
    "studies_codes_partial_update": "Edit a code (send the version you read; a stale one is a 409)",
    "studies_codes_destroy": "Delete a code (?confirm=true; without it a 400 tells the impact)",
    "studies_codes_merge_create": "Merge a code into another: its codings move to the target",
    "studies_codes_move_create": "Move a code under another parent or to another position",
    "studies_codes_export_retrieve": "Download the codebook as REFI-QDA (?as=qdc) or CSV (?as=csv)",
    "studies_consent_dashboard_retrieve": "Consent at a glance: participants by consent state, group and site",
    "studies_consent_events_list": "Every consent event of the study (the append-only consent log); paginated",
    "studies_consent_forms_list": "Consent form versions and their items",
    "studies_consent_forms_create": "Add a consent form version with its items (admins)",
    "studies_consent_forms_retrieve": "One consent form version and its items",
    "studies_groups_list": "The study's participant groups",
    "studies_jobs_retrieve": "A background job you started: status, percent, result, error, download link",
    "studies_members_list": "The study's members, their roles and their site and group scope (admins, leads)",
    "studies_members_create": "Add a member by e-mail with a role and an optional scope (admins)",
    "studies_members_retrieve": "One membership: role and scope",
    "studies_members_partial_update": "Change a member's role or scope (admins; audited)",
    "studies_members_destroy": "Remove a member from the study (admins; audited)",
    "studies_memos_list": "Memos you may read, most recently changed first (filter by transcript, code, coding)",
    "studies_memos_create": "Write a memo on the study, a transcript, a code or a coding",
    "studies_memos_partial_update": "Edit a memo (its author, or a lead)",
    "studies_memos_destroy": "Delete a memo (its author, or a lead)",
    "studies_participant_attributes_list": "The participant attributes the study records (age band, interview mode…)",
    "studies_participant_attributes_create": "Define a participant attribute (admins)",
    "studies_participants_list": "Participants in your scope, pseudonymised, with group, site, attributes and consent state",
    "studies_participants_create": "Add a participant (admins); identifiable fields are encrypted at rest",
    "studies_participants_export_create": "Export the participants as CSV: starts a job (202)",
    "studies_participants_retrieve": "One participant, pseudonymised, with consent state and what it allows",
    "studies_participants_partial_update": "Edit a participant (admins)",
    "studies_participants_consent_events_list": "A participant's consent history",
    "studies_sampling_frame_retrieve": "The sampling frame: target and recruited numbers per group and site",
    "studies_sampling_frame_update": "Set the sampling frame's targets (leads)",
    "studies_search_retrieve": "Full-text search of the transcripts in your scope (filters: group, site, speaker role)",
    "studies_sites_list": "The study's sites",
    "studies_sites_create": "Add a site (admins)",
    "studies_sites_retrieve": "One site",
    "studies_sites_partial_update": "Rename a site (admins)",
    "studies_sites_destroy": "Delete a site that no participant belongs to (admins)",
    "studies_themes_partial_update": "Edit a theme: name, description, status, codes",
    "studies_themes_destroy": "Delete a theme",
    "studies_themes_comments_create": "Comment on a theme, or suggest a change (team and PPI members)",
    "studies_themes_quotes_create": "Add a coded segment to a theme as an exemplar quote (leads)",
    "studies_themes_quotes_partial_update": "Trim a quote, or set its content note (leads)",
    "studies_themes_quotes_destroy": "Remove a quote from a theme (leads)",
    "studies_transcript_imports_retrieve": "A transcript upload's preview: each file, its participant and problems",
    "studies_transcript_imports_cancel_create": "Cancel a transcript upload before it is imported",
    "studies_transcript_imports_confirm_create": "Import the previewed transcripts: starts a job (202)",
    "studies_transcripts_list": "Transcripts in your scope (filters: group, site, participant); paginated",
    "studies_transcripts_create": "Add one transcript from text for a consented participant",
    "studies_transcripts_retrieve": "A transcript's text and speaker turns, with code-point spans (audited)",
    "studies_transcripts_codings_retrieve": "One coding: code, span, coder, memo, version",
    "studies_transcripts_codings_destroy": "Delete a coding (its coder, or a lead)",
    "studies_transcripts_codings_delete_create": "Delete several codings at once, all or nothing",
    "studies_transcripts_edits_list": "A transcript's correction and redaction history",
    "studies_transcripts_edits_create": "Correct or redact a transcript's text; codings are re-anchored (leads)",
    "studies_transcripts_edits_revert_create": "Revert a correction or redaction (leads)",
    "studies_transcripts_upload_create": "Upload transcript files (.txt, .docx, .vtt, .srt, .zip) for a preview",
}

ERROR_SCHEMA = {
    "type": "object",
    "description": "Every API error (docs/api.md, \"Errors\"): `detail`, a sentence; invalid input also names "
                   "each refused field with its messages; a 409 may add `current`.",
    "properties": {"detail": {"type": "string"}},
    "required": ["detail"],
    "additionalProperties": True,
    "example": {"detail": "name: This field is required.", "name": ["This field is required."]},
}

_STRINGS = {
    "name": "Loss of non-verbal cues", "title": "Tears on the phone", "label": "Interview mode",
    "pseudonym": "SU01", "email": "lead@example.org", "description": "What participants say about not seeing faces.",
    "text": "Interviewer: How was it?\nSU01: On the phone you cannot see if someone is tearful.\n",
    "body": "Could this theme say more about carers?", "quote": "On the phone you cannot see if someone is tearful.",
    "colour": "#1f77b4", "color": "#1f77b4", "key": "interview_mode", "group": "service_user",
    "site": "North Trust", "status": "done", "kind": "text", "role": "coder", "q": "body language",
    "expected": "John Smith", "replacement": "[NAME]", "find": "John Smith", "note": "Recorded by phone.",
    "support_line": "Samaritans: call 116 123, free, any time.", "version": "2", "url": "/api/v1/studies/1/jobs/12/",
    "download_url": "/api/v1/studies/1/jobs/12/download/", "error": "", "filename": "SU01.txt",
}
_INTS = {"start": 120, "end": 180, "version": 3, "percent": 100, "count": 1, "total": 1, "position": 0,
         "limit": 20, "offset": 0, "transcript_version": 2, "base_version": 2, "job": 12}


def _resolve(node: dict[str, Any], components: dict[str, Any]) -> dict[str, Any]:
    seen = 0
    while "$ref" in node and seen < 20:
        node = components.get(node["$ref"].rsplit("/", 1)[-1], {})
        seen += 1
    return node


def example_for(node: dict[str, Any], components: dict[str, Any], *, name: str = "", request: bool,
                depth: int = 0) -> Any:
    """A value that fits ``node`` (an OpenAPI schema), realistic where the field's name says what it holds."""
    node = _resolve(node, components)
    if "example" in node:
        return node["example"]
    if depth > 6:
        return None
    for combined in ("allOf", "oneOf", "anyOf"):
        if node.get(combined):
            parts = [_resolve(p, components) for p in node[combined]]
            if combined == "allOf":
                merged: dict[str, Any] = {"type": "object", "properties": {}}
                for p in parts:
                    merged["properties"].update(p.get("properties", {}))
                    if "enum" in p or p.get("type") not in (None, "object"):
                        return example_for(p, components, name=name, request=request, depth=depth + 1)
                return example_for(merged, components, name=name, request=request, depth=depth + 1)
            typed = [p for p in parts if p.get("type") != "null" and p.get("enum") != [None]] or parts
            return example_for(typed[0], components, name=name, request=request, depth=depth + 1)
    if node.get("enum"):
        values = [v for v in node["enum"] if v not in (None, "")]
        return values[0] if values else node["enum"][0]
    kind = node.get("type")
    if kind == "object" or "properties" in node:
        out = {}
        for prop, sub in node.get("properties", {}).items():
            sub_r = _resolve(sub, components)
            if (request and sub_r.get("readOnly")) or (not request and sub_r.get("writeOnly")):
                continue
            out[prop] = example_for(sub, components, name=prop, request=request, depth=depth + 1)
        extra = node.get("additionalProperties")
        if not out and isinstance(extra, dict):
            out[name or "key"] = example_for(extra, components, name="", request=request, depth=depth + 1)
        return out
    if kind == "array":
        item = example_for(node.get("items", {}), components, name=name.rstrip("s"), request=request, depth=depth + 1)
        return [item] if item is not None else []
    if kind == "integer":
        value = _INTS.get(name, 7 if name == "id" or name.endswith("_id") or name.endswith("id") else 1)
        lo, hi = node.get("minimum"), node.get("maximum")
        if lo is not None and value < lo:
            value = int(lo)
        if hi is not None and value > hi:
            value = int(hi)
        return value
    if kind == "number":
        return 0.5
    if kind == "boolean":
        return True
    if kind == "string":
        fmt = node.get("format")
        if fmt == "date-time":
            return "2026-06-01T09:30:00Z"
        if fmt == "date":
            return "2026-06-01"
        if fmt == "email":
            return "lead@example.org"
        if fmt in ("uri", "url"):
            return "https://chorus.example.org/api/v1/studies/1/"
        if fmt == "binary":
            return "(the file's bytes)"
        if fmt == "uuid":
            return "6f1c2a8e-3d4b-4c5a-9e7f-0a1b2c3d4e5f"
        text = _STRINGS.get(name, "text")
        max_length = node.get("maxLength")
        return text[:max_length] if max_length else text
    return None


def _has_example(media: dict[str, Any]) -> bool:
    return "example" in media or "examples" in media


def complete_schema(result: dict[str, Any], generator: Any, request: Any, public: bool) -> dict[str, Any]:
    components = result.setdefault("components", {}).setdefault("schemas", {})
    components.setdefault("Error", ERROR_SCHEMA)
    for path_item in result.get("paths", {}).values():
        for method, op in path_item.items():
            if method not in ("get", "post", "put", "patch", "delete"):
                continue
            if not (op.get("summary") or op.get("description")) and op.get("operationId") in SUMMARIES:
                op["summary"] = SUMMARIES[op["operationId"]]
            for media in op.get("requestBody", {}).get("content", {}).values():
                if not _has_example(media):
                    media["example"] = example_for(media.get("schema", {}), components, request=True)
            for code, response in op.get("responses", {}).items():
                if not str(code).startswith("2"):
                    continue
                for media in (response.get("content") or {}).values():
                    if not _has_example(media):
                        media["example"] = example_for(media.get("schema", {}), components, request=False)
    return result


def paginated(results: Any, name: str) -> Any:
    """The schema of a list paginated with ``limit``/``offset`` (DRF's LimitOffsetPagination) by a view
    that paginates itself: ``{"count", "next", "previous", "results": [...]}``."""
    from drf_spectacular.utils import inline_serializer
    from rest_framework import serializers

    return inline_serializer(name=name, fields={
        "count": serializers.IntegerField(), "next": serializers.CharField(allow_null=True),
        "previous": serializers.CharField(allow_null=True), "results": results,
    })
