"""Field-key rotation (`manage.py rotate_field_keys`): after it, the old key can be dropped."""

from __future__ import annotations

from io import StringIO

from cryptography.fernet import Fernet
from django.core.management import call_command

from participants import crypto
from participants.services import consent as consent_services
from participants.services.participants import participant_identifiable_read
from tests.factories import consent, make_form, make_participant

PDF = b"%PDF-1.4\n% signed by Alice Secretname\n%%EOF\n"


def test_rotation_lets_the_old_key_go(cast, settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path
    old = settings.CHORUS_FIELD_KEYS[0]
    p = make_participant(cast, "SU01", name="Alice Secretname", contact="alice@example.invalid")
    event = consent(cast, p, make_form(cast))
    consent_services.consent_signed_form_attach(actor=cast.users["admin"], study_id=cast.study.pk, event_id=event.pk, data=PDF)

    new = Fernet.generate_key().decode()
    settings.CHORUS_FIELD_KEYS = [new, old]
    out = StringIO()
    call_command("rotate_field_keys", stdout=out)
    assert "participant fields: 1 re-encrypted" in out.getvalue()
    assert "signed consent forms: 1 re-encrypted" in out.getvalue()

    settings.CHORUS_FIELD_KEYS = [new]  # the old key is gone: everything still reads
    p.refresh_from_db()
    assert crypto.decrypt_text(p.name_encrypted) == "Alice Secretname"
    assert participant_identifiable_read(actor=cast.users["admin"], study_id=cast.study.pk, participant_id=p.pk)["contact"] == (
        "alice@example.invalid"
    )
    event.refresh_from_db()
    with event.signed_form.open("rb") as fh:
        assert crypto.decrypt_bytes(fh.read()) == PDF
