"""Codebook import and export: REFI-QDA .qdc (schema-valid export; real-world variants and hostile
files on import) and CSV (round trip; per-row errors). Previews, atomic commits, idempotent re-imports."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from django.core.exceptions import ValidationError
from lxml import etree

from accounts.models import AuditEvent
from analysis.coding import csvio
from analysis.coding.models import Code
from analysis.coding.selectors import codebook as selectors
from analysis.coding.services import codebook as services
from analysis.coding.services import codebook_import as importing
from interop import qdc

pytestmark = pytest.mark.django_db


def preview(cast, parsed):
    return importing.codebook_import_preview(actor=cast.users["lead"], study_id=cast.study.pk, parsed=parsed)


def commit(cast, parsed):
    return importing.codebook_import_commit(actor=cast.users["lead"], study_id=cast.study.pk, parsed=parsed)


def export_qdc(cast) -> bytes:
    codes = list(selectors.code_list(user=cast.users["lead"], study_id=cast.study.pk))
    return qdc.qdc_export(selectors.code_tree(codes))


def export_csv(cast) -> bytes:
    codes = list(selectors.code_list(user=cast.users["lead"], study_id=cast.study.pk))
    return csvio.csv_export(selectors.code_tree_flat(selectors.code_tree(codes)))


def paths(cast) -> set[str]:
    codes = list(Code.objects.filter(study=cast.study))
    return {"::".join(n.path) for n in selectors.code_tree_flat(selectors.code_tree(codes))}


@pytest.fixture(scope="module")
def generated_qdc(shared_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> bytes:
    out = tmp_path_factory.mktemp("gen")
    subprocess.run([sys.executable, str(shared_dir / "tools" / "make_study.py"), str(out), "--participants", "3",
                    "--chars", "2000"], check=True, capture_output=True)
    return (out / "codebook.qdc").read_bytes()


def test_the_schema_copy_is_the_shared_one(shared_dir):
    assert qdc.SCHEMA_PATH.read_bytes() == (shared_dir / "refi-qda" / "Codebook-mrt2019.xsd").read_bytes()


def test_generator_codebook_imports_then_reimports_idempotently(cast, generated_qdc):
    parsed = qdc.qdc_parse(generated_qdc)
    plan = preview(cast, parsed)
    assert plan.summary() == {"create": 22, "update": 0, "unchanged": 0, "error": 0}
    assert not Code.objects.filter(study=cast.study).exists()  # a preview writes nothing
    commit(cast, parsed)
    assert Code.objects.filter(study=cast.study).count() == 22
    cues = Code.objects.get(study=cast.study, name="Loss of non-verbal cues")
    assert cues.parent.name == "Therapeutic relationship"
    assert cues.is_codable
    assert cues.description == "Body language, eye contact or presence is missing remotely."
    assert not cues.parent.is_codable
    assert len({c.colour for c in Code.objects.filter(study=cast.study)}) > 5  # palette, not one colour
    again = commit(cast, qdc.qdc_parse(generated_qdc))
    assert again.summary() == {"create": 0, "update": 0, "unchanged": 22, "error": 0}
    assert Code.objects.filter(study=cast.study).count() == 22
    event = AuditEvent.objects.filter(action="codebook.import").first()
    assert event.details["format"] == "qdc"


def test_export_validates_against_the_shared_schema_and_round_trips(cast, book, shared_dir):
    services.code_update(actor=cast.users["lead"], study_id=cast.study.pk, code_id=book.cues.pk, version=1, changes={
        "description": "Body language is missing.", "inclusion_criteria": "Mentions eye contact.\nOr posture.",
        "exclusion_criteria": "Audio quality only.", "example": "You lose the body language.",
    })
    data = export_qdc(cast)
    schema = etree.XMLSchema(etree.parse(str(shared_dir / "refi-qda" / "Codebook-mrt2019.xsd")))
    assert schema.validate(etree.fromstring(data)), schema.error_log
    assert b"urn:QDA-XML:codebook:1.0" in data
    plan = commit(cast, qdc.qdc_parse(data))
    assert plan.summary()["unchanged"] == 5
    assert plan.summary()["create"] == 0
    cues = Code.objects.get(pk=book.cues.pk)
    assert cues.inclusion_criteria == "Mentions eye contact.\nOr posture."
    assert cues.example == "You lose the body language."


def test_export_of_an_empty_codebook_is_refused_not_invalid(cast):
    with pytest.raises(qdc.ExportInvalidError):
        qdc.qdc_export([])


NVIVO_MAC = b"""<?xml version="1.0" encoding="utf-8"?>
<CodeBook xmlns="urn:QDA-XML:codebook:1:0" origin="NVivo 12 for Mac">
  <Codes>
    <Code guid="11111111-1111-4111-8111-111111111111" name="Feelings" isCodable="1">
      <Code guid="22222222-2222-4222-8222-222222222222" name="Anxious" isCodable="true" color="#F00">
        <Description>Worry, nerves.</Description>
      </Code>
    </Code>
  </Codes>
</CodeBook>"""


def test_namespace_variant_nested_codes_short_colours(cast):
    parsed = qdc.qdc_parse(NVIVO_MAC)
    commit(cast, parsed)
    anxious = Code.objects.get(study=cast.study, name="Anxious")
    assert anxious.parent.name == "Feelings"
    assert anxious.colour == "#ff0000"
    assert str(anxious.guid) == "22222222-2222-4222-8222-222222222222"
    assert commit(cast, qdc.qdc_parse(NVIVO_MAC)).summary()["unchanged"] == 2


def test_atlas_flat_names_inside_a_project_file(cast, shared_dir):
    """ATLAS.ti 8 writes ``Coke::full-fat Coke`` before ``Coke`` itself, inside a whole project."""
    data = (shared_dir / "refi-qda" / "samples" / "atlasti-8.4-standard-project.qde").read_bytes()
    parsed = qdc.qdc_parse(data, filename="project.qde")
    plan = preview(cast, parsed)
    assert plan.ok, [r.errors for r in plan.errors]
    commit(cast, parsed)
    coke = Code.objects.get(study=cast.study, name="Coke", parent=None)
    assert coke.description == "the breakfast of champions"
    assert set(coke.children.values_list("name", flat=True)) >= {"full-fat Coke", "diet Coke"}
    milk = Code.objects.get(study=cast.study, name="milk")  # no colour in the file: a palette colour
    assert milk.colour.startswith("#")
    assert len(milk.colour) == 7
    assert commit(cast, qdc.qdc_parse(data, filename="project.qde")).summary()["create"] == 0


def test_a_renamed_code_is_still_matched_by_guid(cast, generated_qdc):
    commit(cast, qdc.qdc_parse(generated_qdc))
    code = Code.objects.get(study=cast.study, name="Digital exclusion")
    services.code_update(actor=cast.users["lead"], study_id=cast.study.pk, code_id=code.pk, version=code.version,
                         changes={"name": "No device or data"})
    plan = commit(cast, qdc.qdc_parse(generated_qdc))
    assert plan.summary()["create"] == 0
    assert Code.objects.filter(study=cast.study).count() == 22


HOSTILE = {
    "xxe": b"""<?xml version="1.0"?><!DOCTYPE c [<!ENTITY x SYSTEM "file:///etc/passwd">]>
<CodeBook xmlns="urn:QDA-XML:codebook:1.0"><Codes><Code guid="11111111-1111-4111-8111-111111111111" name="&x;" isCodable="true"/></Codes></CodeBook>""",
    "laughs": b"""<?xml version="1.0"?><!DOCTYPE l [<!ENTITY a "aaaaaaaaaa"><!ENTITY b "&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;">]>
<CodeBook><Codes><Code guid="11111111-1111-4111-8111-111111111111" name="&b;" isCodable="true"/></Codes></CodeBook>""",
    "utf16_doctype": '<?xml version="1.0" encoding="UTF-16"?><!DOCTYPE c [<!ENTITY x SYSTEM "http://example.org/">]><CodeBook><Codes><Code guid="11111111-1111-4111-8111-111111111111" name="&x;" isCodable="true"/></Codes></CodeBook>'.encode("utf-16"),
    "not_xml": b"name,guid\nA,1\n",
    "empty": b"",
    "wrong_root": b"<html><body>hello</body></html>",
    "foreign_ns": b'<CodeBook xmlns="urn:other"><Codes><Code name="A" isCodable="true" guid="11111111-1111-4111-8111-111111111111"/></Codes></CodeBook>',
    "no_codes": b'<CodeBook xmlns="urn:QDA-XML:codebook:1.0"><Codes/></CodeBook>',
    "huge": b"<CodeBook>" + b" " * (importing.MAX_IMPORT_BYTES + 1) + b"</CodeBook>",
}


@pytest.mark.parametrize("kind", sorted(HOSTILE))
def test_hostile_or_broken_qdc_files_are_refused(cast, kind):
    with pytest.raises(ValidationError):
        qdc.qdc_parse(HOSTILE[kind])
    assert not Code.objects.filter(study=cast.study).exists()


def test_per_code_problems_in_a_qdc_block_the_commit(cast):
    data = b"""<CodeBook xmlns="urn:QDA-XML:codebook:1.0"><Codes>
      <Code guid="11111111-1111-4111-8111-111111111111" name="Fine" isCodable="true" color="red"/>
      <Code guid="not-a-guid" name="Bad guid" isCodable="true"/>
      <Code guid="33333333-3333-4333-8333-333333333333" name="" isCodable="true"/>
    </Codes></CodeBook>"""
    parsed = qdc.qdc_parse(data)
    plan = preview(cast, parsed)
    assert plan.summary() == {"create": 1, "update": 0, "unchanged": 0, "error": 2}
    assert any("not a hex colour" in w for w in plan.warnings)
    with pytest.raises(ValidationError, match="not a GUID"):
        commit(cast, parsed)
    assert not Code.objects.filter(study=cast.study).exists()


def test_csv_round_trip_is_idempotent_and_survives_formula_neutralising(cast, book):
    services.code_create(actor=cast.users["lead"], study_id=cast.study.pk, name="-ve feelings",
                         description="=HYPERLINK(x)")
    data = export_csv(cast)
    assert b"'-ve feelings" in data
    assert b"'=HYPERLINK" in data
    plan = commit(cast, csvio.csv_parse(data))
    assert plan.summary() == {"create": 0, "update": 0, "unchanged": 6, "error": 0}
    # Into an empty study the same file recreates the whole tree.
    Code.objects.filter(study=cast.study).delete()
    commit(cast, csvio.csv_parse(data))
    assert "-ve feelings" in paths(cast)
    assert "Therapeutic relationship::Loss of non-verbal cues" in paths(cast)
    assert Code.objects.get(study=cast.study, name="-ve feelings").description == "=HYPERLINK(x)"


def test_csv_per_row_errors_block_the_commit_and_write_nothing(cast, book):
    data = (
        b"path,colour,is_codable,description\n"
        b"New parent::New child,#005eb8,yes,ok\n"
        b",#005eb8,yes,no path\n"
        b"Bad colour,blue,yes,\n"
        b"Bad flag,,perhaps,\n"
        b"new PARENT::new child,,,duplicate of row 2\n"
        b"Experiences of remote care,,,updated description\n"
    )
    plan = preview(cast, csvio.csv_parse(data))
    by_row = {r.row: r for r in plan.rows if not r.implied}
    assert by_row[2].action == "create"
    assert by_row[7].action == "update"
    assert "name is empty" in by_row[3].errors[0]
    assert "not a colour" in by_row[4].errors[0]
    assert "use yes or no" in by_row[5].errors[0]
    assert "twice" in by_row[6].errors[0]
    before = Code.objects.filter(study=cast.study).count()
    with pytest.raises(ValidationError):
        commit(cast, csvio.csv_parse(data))
    assert Code.objects.filter(study=cast.study).count() == before
    assert Code.objects.get(pk=book.remote.pk).description == ""


@pytest.mark.parametrize("data", [b"\xff\xfe\x00bad", b"", b"name\nA\n", b"path\n\n\n"])
def test_unreadable_csv_files_are_refused(data):
    with pytest.raises(ValidationError):
        csvio.csv_parse(data)


def test_description_sections_parse():
    parsed = qdc.description_parse("Defn.\n\nInclusion criteria: in\nmore\n\nExample: ex")
    assert parsed == {"description": "Defn.", "inclusion_criteria": "in\nmore", "exclusion_criteria": "", "example": "ex"}


def test_signed_preview_cannot_be_replayed_elsewhere(cast):
    parsed = qdc.qdc_parse(NVIVO_MAC)
    token = importing.parsed_sign(parsed=parsed, study_id=cast.study.pk, user_id=cast.users["lead"].pk)
    assert importing.parsed_unsign(token=token, study_id=cast.study.pk, user_id=cast.users["lead"].pk).items
    with pytest.raises(ValidationError):
        importing.parsed_unsign(token=token, study_id=cast.other_study.pk, user_id=cast.users["lead"].pk)
    with pytest.raises(ValidationError):
        importing.parsed_unsign(token=token[:-2] + "xx", study_id=cast.study.pk, user_id=cast.users["lead"].pk)

