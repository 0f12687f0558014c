"""Codebook services: uniqueness, optimistic locking, move, merge, delete, permissions, audit."""

from __future__ import annotations

import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import IntegrityError, transaction
from django.http import Http404

from accounts.models import AuditEvent
from analysis.coding.colours import PALETTE, contrast_ratio, label_text_colour
from analysis.coding.models import Code
from analysis.coding.services import codebook as services

pytestmark = pytest.mark.django_db


def test_palette_passes_contrast_for_a_label_chip():
    for colour in PALETTE:
        assert contrast_ratio(colour, "#ffffff") >= 4.5, colour  # white label text on the chip
        assert label_text_colour(colour) == "#ffffff"
    # Any colour gets readable text, black or white.
    for colour in ("#ffff00", "#777777", "#00ff00", "#000000", "#fff"):
        assert contrast_ratio(colour, label_text_colour(colour)) >= 4.5


def test_create_gives_palette_colours_positions_and_audit(cast, book):
    assert book.remote.colour == PALETTE[0]
    assert book.convenience.colour == PALETTE[1]
    assert [c.position for c in (book.convenience, book.video)] == [0, 1]
    assert book.remote.version == 1
    assert book.remote.created_by == cast.users["lead"]
    assert AuditEvent.objects.filter(action="code.create", study=cast.study).count() == 5


def test_names_are_unique_per_parent_case_insensitively(cast, book):
    lead, sid = cast.users["lead"], cast.study.pk
    with pytest.raises(ValidationError, match="already a code"):
        services.code_create(actor=lead, study_id=sid, name="convenience AND flexibility", parent_id=book.remote.pk)
    with pytest.raises(ValidationError, match="already a code"):
        services.code_create(actor=lead, study_id=sid, name="THERAPEUTIC RELATIONSHIP")
    # The same name under another parent is fine.
    services.code_create(actor=lead, study_id=sid, name="Convenience and flexibility", parent_id=book.relationship.pk)


def test_the_database_enforces_sibling_uniqueness(cast, book):
    for parent in (book.remote, None):
        name = "Telephone versus video" if parent else "Experiences of remote care"
        with pytest.raises(IntegrityError), transaction.atomic():
            Code.objects.create(study=cast.study, parent=parent, name=name.upper(),
                                created_by=cast.users["lead"], updated_by=cast.users["lead"])


@pytest.mark.parametrize("name", ["", "   ", "A::B", "x" * 201])
def test_bad_names_are_refused(cast, name):
    with pytest.raises(ValidationError):
        services.code_create(actor=cast.users["lead"], study_id=cast.study.pk, name=name)
    assert not Code.objects.filter(study=cast.study).exists()


def test_bad_colour_and_foreign_parent_are_refused(cast, book):
    lead, sid = cast.users["lead"], cast.study.pk
    with pytest.raises(ValidationError, match="colour"):
        services.code_create(actor=lead, study_id=sid, name="X", colour="red; background:url(x)")
    with pytest.raises(ValidationError, match="parent"):
        services.code_create(actor=lead, study_id=sid, name="X", parent_id=book.other_study_code.pk)
    assert not Code.objects.filter(study=cast.study, name="X").exists()


@pytest.mark.parametrize("role", ["admin", "coder", "coder_other_site", "ppi"])
def test_only_leads_edit(cast, book, role):
    with pytest.raises(PermissionDenied):
        services.code_create(actor=cast.users[role], study_id=cast.study.pk, name="New")
    with pytest.raises(PermissionDenied):
        services.code_update(actor=cast.users[role], study_id=cast.study.pk, code_id=book.cues.pk, version=1,
                             changes={"name": "Changed"})


def test_outsiders_get_404(cast, book):
    with pytest.raises(Http404):
        services.code_create(actor=cast.users["outsider"], study_id=cast.study.pk, name="New")
    with pytest.raises(Http404):  # the lead of this study cannot touch another study's code
        services.code_delete(actor=cast.users["lead"], study_id=cast.study.pk, code_id=book.other_study_code.pk, confirm=True)


def test_update_bumps_the_version_and_records_before_and_after(cast, book):
    code = services.code_update(
        actor=cast.users["lead"], study_id=cast.study.pk, code_id=book.cues.pk, version=1,
        changes={"description": "Body language is missing.", "colour": "#ABC"},
    )
    assert code.version == 2
    assert code.colour == "#aabbcc"
    assert code.description == "Body language is missing."
    event = AuditEvent.objects.filter(action="code.update").get()
    assert event.details["after"]["colour"] == "#aabbcc"
    assert event.details["before"]["description"] == ""


def test_a_stale_version_conflicts_and_writes_nothing(cast, book):
    lead, sid = cast.users["lead"], cast.study.pk
    # Two people read version 1; the first saves.
    services.code_update(actor=lead, study_id=sid, code_id=book.cues.pk, version=1, changes={"name": "Missing cues"})
    events = AuditEvent.objects.count()
    with pytest.raises(services.ConflictError) as info:
        services.code_update(actor=lead, study_id=sid, code_id=book.cues.pk, version=1, changes={"name": "Lost cues"})
    assert info.value.current.version == 2
    assert info.value.current.name == "Missing cues"
    assert "changed this code at" in str(info.value)
    assert Code.objects.get(pk=book.cues.pk).name == "Missing cues"
    assert AuditEvent.objects.count() == events


def test_update_of_a_deleted_code_is_404(cast, book):
    lead, sid = cast.users["lead"], cast.study.pk
    services.code_delete(actor=lead, study_id=sid, code_id=book.cues.pk, confirm=True)
    with pytest.raises(Http404):
        services.code_update(actor=lead, study_id=sid, code_id=book.cues.pk, version=1, changes={"name": "x"})


def test_move_reorders_and_refuses_cycles(cast, book):
    lead, sid = cast.users["lead"], cast.study.pk
    moved = services.code_move(actor=lead, study_id=sid, code_id=book.cues.pk, parent_id=book.remote.pk, position=0)
    assert moved.parent_id == book.remote.pk
    assert moved.version == 2
    order = list(Code.objects.filter(parent=book.remote).order_by("position").values_list("name", flat=True))
    assert order == ["Loss of non-verbal cues", "Convenience and flexibility", "Telephone versus video"]
    for target in (book.remote.pk, book.cues.pk):  # itself, and its own child
        with pytest.raises(ValidationError, match="under itself"):
            services.code_move(actor=lead, study_id=sid, code_id=book.remote.pk, parent_id=target)
    with pytest.raises(ValidationError, match="parent"):
        services.code_move(actor=lead, study_id=sid, code_id=book.cues.pk, parent_id=book.other_study_code.pk)
    top = services.code_move(actor=lead, study_id=sid, code_id=book.cues.pk, parent_id=None)
    assert top.parent_id is None


def test_move_refuses_a_name_clash_and_a_stale_version(cast, book):
    lead, sid = cast.users["lead"], cast.study.pk
    services.code_create(actor=lead, study_id=sid, name="Loss of non-verbal cues", parent_id=book.remote.pk)
    with pytest.raises(ValidationError, match="already a code"):
        services.code_move(actor=lead, study_id=sid, code_id=book.cues.pk, parent_id=book.remote.pk)
    with pytest.raises(services.ConflictError):
        services.code_move(actor=lead, study_id=sid, code_id=book.cues.pk, parent_id=None, version=7)


def test_merge_moves_children_collapses_twins_and_calls_the_hook(cast, book, fake_codings):
    lead, sid = cast.users["lead"], cast.study.pk
    twin = services.code_create(actor=lead, study_id=sid, name="Loss of non-verbal cues", parent_id=book.remote.pk)
    fake_codings.rows = [(book.cues.pk, "a"), (book.cues.pk, "b"), (twin.pk, "a"), (book.relationship.pk, "a")]
    result = services.code_merge(actor=lead, study_id=sid, source_id=book.relationship.pk, target_id=book.remote.pk)
    # The same-named sub-code merged into the twin; the source is gone.
    assert not Code.objects.filter(pk__in=[book.relationship.pk, book.cues.pk]).exists()
    assert set(result.merged_codes) == {"Therapeutic relationship", "Loss of non-verbal cues"}
    assert fake_codings.merges == [(book.cues.pk, twin.pk), (book.relationship.pk, book.remote.pk)]
    assert sorted(fake_codings.rows) == sorted([(twin.pk, "a"), (twin.pk, "b"), (book.remote.pk, "a")])
    # themes register as dependents too: their links and the team's comments on codes
    assert result.moved == {"codings": 3, "theme_links": 0, "code_comments": 0}
    event = AuditEvent.objects.get(action="code.merge")
    assert event.details["source"]["name"] == "Therapeutic relationship"
    assert event.details["moved"] == {"codings": 3, "theme_links": 0, "code_comments": 0}


def test_merge_refuses_itself_a_descendant_and_another_study(cast, book):
    lead, sid = cast.users["lead"], cast.study.pk
    for target, message in ((book.remote.pk, "itself"), (book.video.pk, "sub-codes"),
                            (book.other_study_code.pk, "Choose a code")):
        with pytest.raises(ValidationError, match=message):
            services.code_merge(actor=lead, study_id=sid, source_id=book.remote.pk, target_id=target)
    assert Code.objects.filter(study=cast.study).count() == 5


def test_delete_needs_confirmation_reports_impact_and_is_audited(cast, book, fake_codings):
    lead, sid = cast.users["lead"], cast.study.pk
    fake_codings.rows = [(book.convenience.pk, "a"), (book.video.pk, "b"), (book.cues.pk, "a")]
    impact = services.code_delete_impact(study=cast.study, code=book.remote)
    assert (impact.descendants, impact.codings) == (2, 2)
    with pytest.raises(ValidationError, match="2 sub-code"):
        services.code_delete(actor=lead, study_id=sid, code_id=book.remote.pk, confirm=False)
    assert Code.objects.filter(study=cast.study).count() == 5
    services.code_delete(actor=lead, study_id=sid, code_id=book.remote.pk, confirm=True)
    assert set(Code.objects.filter(study=cast.study).values_list("name", flat=True)) == {
        "Therapeutic relationship", "Loss of non-verbal cues"}
    event = AuditEvent.objects.get(action="code.delete")
    assert event.details["codings"] == 2
    assert event.details["descendants"] == 2


def test_demo_step_is_idempotent(cast):
    from accounts.models import Membership, User
    from analysis.coding import demo

    lead = User.objects.create_user(email="lead@demo.chorus")
    Membership.objects.create(user=lead, study=cast.study, role="lead")
    demo.load(cast.study, {"lead@demo.chorus": lead})
    count = Code.objects.filter(study=cast.study).count()
    assert count == len(demo.DEMO_CODEBOOK)
    demo.load(cast.study, {"lead@demo.chorus": lead})
    assert Code.objects.filter(study=cast.study).count() == count
    assert AuditEvent.objects.filter(action="codebook.import").count() == 1


def test_demo_data_shows_a_finished_double_coding_with_disagreements(transactional_db):
    """`make demo`'s data: one transcript double coded by the demo coder and the North coder, both
    done, so agreement and the disagreements page have something to show; a re-run adds nothing."""
    from django.core.management import call_command

    from accounts.models import User
    from analysis.coding.models import Assignment, Coding
    from analysis.coding.selectors import disagreements

    call_command("demo_data", verbosity=0)
    (a,) = Assignment.objects.all()
    assert a.complete
    assert (a.coder_a.email, a.coder_b.email) == ("coder@demo.chorus", "coder.north@demo.chorus")
    lead = User.objects.get(email="lead@demo.chorus")
    listing = disagreements.disagreements_list(user=lead, study_id=a.study_id, transcript_id=a.transcript_id)
    assert listing.open >= 2  # the code B left out, and the stretch B coded only halfway
    n = Coding.objects.count()
    call_command("demo_data", verbosity=0)
    assert Assignment.objects.count() == 1
    assert Coding.objects.count() == n
