"""Field-key rotation: re-encrypt every identifiable value and stored file with the newest key.

An operator puts a new Fernet key first in CHORUS_FIELD_KEYS (keeping the old ones after it), runs
``manage.py rotate_field_keys``, and only then drops the old keys: MultiFernet decrypts with any
key and ``rotate`` re-encrypts with the first."""

from __future__ import annotations

from django.core.files.storage import default_storage
from django.db import transaction

from ..crypto import rotate_bytes, rotate_text
from ..models import ConsentEvent, ImportBatch, Participant


def field_keys_rotate() -> dict[str, int]:
    """Re-encrypt everything with the first key; returns how many values and files were rewritten.
    Database values change in one transaction. Files are rewritten in place afterwards, one by one:
    each is readable with the old or the new key list at every moment, so an interruption is safe
    and the command can simply run again."""
    counts = {"participant fields": 0, "import uploads": 0, "signed consent forms": 0}
    with transaction.atomic():
        for p in Participant.objects.select_for_update().exclude(name_encrypted="", contact_encrypted=""):
            p.name_encrypted = rotate_text(p.name_encrypted)
            p.contact_encrypted = rotate_text(p.contact_encrypted)
            p.save(update_fields=["name_encrypted", "contact_encrypted"])
            counts["participant fields"] += 1
        for b in ImportBatch.objects.select_for_update().exclude(content_encrypted=""):
            b.content_encrypted = rotate_text(b.content_encrypted)
            b.save(update_fields=["content_encrypted"])
            counts["import uploads"] += 1
    for name in ConsentEvent.objects.exclude(signed_form="").values_list("signed_form", flat=True):
        with default_storage.open(name, "rb") as fh:
            data = fh.read()
        rotated = rotate_bytes(data)
        with default_storage.open(name, "wb") as fh:
            fh.write(rotated)
        counts["signed consent forms"] += 1
    return counts
