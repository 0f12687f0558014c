"""Field encryption for identifiable data (names, contact details, signed consent forms).

Keys come from ``settings.CHORUS_FIELD_KEYS``: Fernet keys, newest first. MultiFernet encrypts with
the first and decrypts with any, so a new key can be put in front and old tokens re-encrypted with
``manage.py rotate_field_keys`` before the old key is dropped.
"""

from __future__ import annotations

from functools import lru_cache

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured


@lru_cache(maxsize=4)
def _fernet(keys: tuple[str, ...]) -> MultiFernet:
    if not keys:
        raise ImproperlyConfigured(
            "CHORUS_FIELD_KEYS is empty: set it to one or more Fernet keys (newest first) to store "
            "identifiable participant data. Generate one with: python -c \"from cryptography.fernet "
            "import Fernet; print(Fernet.generate_key().decode())\""
        )
    try:
        return MultiFernet([Fernet(k) for k in keys])
    except (ValueError, TypeError) as exc:
        raise ImproperlyConfigured("CHORUS_FIELD_KEYS holds a value that is not a Fernet key.") from exc


def fernet() -> MultiFernet:
    return _fernet(tuple(settings.CHORUS_FIELD_KEYS))


def encrypt_text(value: str) -> str:
    """A Fernet token for ``value``; the empty string stays empty (nothing recorded)."""
    if not value:
        return ""
    return fernet().encrypt(value.encode("utf-8")).decode("ascii")


def decrypt_text(token: str) -> str:
    if not token:
        return ""
    try:
        return fernet().decrypt(token.encode("ascii")).decode("utf-8")
    except InvalidToken as exc:
        raise ImproperlyConfigured(
            "An identifiable field cannot be decrypted with CHORUS_FIELD_KEYS: a key is missing."
        ) from exc


def encrypt_bytes(data: bytes) -> bytes:
    return fernet().encrypt(data)


def decrypt_bytes(data: bytes) -> bytes:
    try:
        return fernet().decrypt(data)
    except InvalidToken as exc:
        raise ImproperlyConfigured("A stored file cannot be decrypted with CHORUS_FIELD_KEYS.") from exc


def rotate_text(token: str) -> str:
    return fernet().rotate(token.encode("ascii")).decode("ascii") if token else ""


def rotate_bytes(data: bytes) -> bytes:
    return fernet().rotate(data)
